"""The comparison of arms: one parent run, a child per arm, and a table with every arm."""

from __future__ import annotations

from hyco import tracking
from hyco.compare import compare


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
    assert "physical_only_param_rel_error" in parent.metrics
