"""The comparison of arms: one parent run, a child per arm, and a table with every arm."""

from __future__ import annotations

import math

from hyco import metrics as M
from hyco import tracking
from hyco.compare import ARMS, ArmResult, compare, markdown_table


def test_compare_two_arms_logs_parent_and_children(tmp_path, mlflow_tracking_cfg):
    overrides = [
        "physics.resolution=[16]", "data.num_train=2", "data.num_val=1", "data.num_test=1",
        "data.num_frames=6", "trainer.epochs=2", "trainer.rollout_steps=2", "synthetic.levels=1",
        "synthetic.filters=4", "torch_threads=1", "observation.spatial=full", "physics.params.nu.kind=scalar",
        f"data.cache_dir={tmp_path / 'cache'}",
        f"tracking.tracking_uri={mlflow_tracking_cfg.tracking_uri}",
        f"tracking.artifact_location={mlflow_tracking_cfg.artifact_location}",
    ]
    out = tmp_path / "table.md"
    table = compare("compare_field_partial", ["physical_only", "cooperative"], overrides, out)
    assert out.read_text() == table
    rows = [line for line in table.splitlines() if line.startswith("| ") and "arm" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["physical_only", "cooperative"]
    parent = tracking.find_run_by_tag("compare_field_partial", "hyco.compare", "compare_field_partial",
                                      mlflow_tracking_cfg)
    assert parent is not None and parent.status == "FINISHED"
    children = tracking.search_runs("compare_field_partial", f"tags.`mlflow.parentRunId` = '{parent.run_id}'",
                                    tracking=mlflow_tracking_cfg)
    assert sorted(c.tags["hyco.arm"] for c in children) == ["cooperative", "physical_only"]
    assert all(c.status == "FINISHED" for c in children)
    assert M.compare_param_rel_error("physical_only", "nu") in parent.metrics
    assert "| nu rel. error |" in table


def test_table_has_one_column_per_parameter_read_by_name():
    rows = [ArmResult("synthetic_only", "r1", 0.4, 0.6, seconds=1.0),
            ArmResult("cooperative", "r2", 0.3, 0.5, 0.1, 0.2, {"nu": 0.25, "kappa": 0.5}, 2.0)]
    table = markdown_table("t", rows, 0.55, ["nu", "kappa"])
    head, rule, first, second = table.splitlines()[2:6]
    assert head == ("| arm | synthetic mean | synthetic final | physical mean | physical final "
                    "| nu rel. error | kappa rel. error | wall time [s] |")
    assert rule.count("---") == 8
    assert first.split(" | ")[5:7] == ["—", "—"]
    assert second.split(" | ")[5:7] == ["0.2500", "0.5000"]
    # default columns: every parameter the rows have
    assert "| kappa rel. error |" in markdown_table("t", rows, math.nan)


def test_arms_are_the_registered_variants():
    assert ARMS == ("synthetic_only", "physical_only", "full", "warmstart", "mixed", "cooperative", "pinn", "aphynity")
