"""The comparison of arms: one parent run, a child per arm, and a table with every arm."""

from __future__ import annotations

import math

import pytest

from hyco import metrics as M
from hyco import tracking
from hyco.arms import get_arm
from hyco.compare.comparison import ArmResult, all_arms, compare, markdown_table


def test_compare_two_arms_logs_parent_and_children(tmp_path, mlflow_tracking_cfg):
    overrides = [
        "physics.resolution=[16]", "data.num_train=2", "data.num_val=1", "data.num_test=1",
        "data.num_frames=6", "trainer.epochs=2", "trainer.rollout_steps=2", "synthetic.unet.levels=1",
        "trainer.hyco.warmstart_epochs=1",  # the preset's 2 would leave no exchange round in 2 rounds
        "synthetic.unet.filters=4", "torch_threads=1", "observation.spatial=full", "physics.params.nu.kind=scalar",
        "seed=3", f"data.cache_dir={tmp_path / 'cache'}",
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
    # a one-seed comparison given seed=3 names its runs by the seed they trained with
    assert sorted(c.tags["mlflow.runName"] for c in children) == ["cooperative-seed3", "physical_only-seed3"]
    assert all(c.status == "FINISHED" for c in children)
    assert M.compare_param_rel_error("physical_only", "nu") in parent.metrics
    assert "| nu rel. error |" in table


def test_table_has_one_column_per_parameter_read_by_name():
    rows = [ArmResult("synthetic_only", "r1", 0.4, 0.6, seconds=1.0),
            ArmResult("cooperative", "r2", 0.3, 0.5, 0.1, 0.2, {"nu": 0.25, "kappa": 0.5}, 2.0,
                      synthetic_log_mse=-4.5)]
    table = markdown_table("t", rows, 0.55, ["nu", "kappa"])
    head, rule, first, second = table.splitlines()[2:6]
    assert head == ("| arm | synthetic mean | synthetic final | physical mean | physical final | synthetic log MSE "
                    "| physical log MSE | nu rel. error | kappa rel. error | wall time [s] |")
    assert rule.count("---") == 10
    assert first.split(" | ")[7:9] == ["—", "—"]
    assert second.split(" | ")[5:9] == ["-4.5000", "—", "0.2500", "0.5000"]
    # default columns: every parameter the rows have
    assert "| kappa rel. error |" in markdown_table("t", rows, math.nan)


def test_arms_are_the_registered_variants():
    builtin = [a for a in all_arms() if get_arm(a).build.__module__.startswith("hyco.")]
    assert builtin == ["synthetic_only", "physical_only", "full", "warmstart", "mixed", "cooperative", "pinn",
                       "aphynity"]


# ------------------------------------------------------------------------------------------------
# seeds
# ------------------------------------------------------------------------------------------------
def test_seed_scheme_same_data_across_arms_different_across_seeds(tmp_path):
    from hyco.compare.comparison import compose_arm, seed_overrides
    from hyco.data.cache import CacheReader, cache_key
    from hyco.data.generate import generate_dataset

    base = ["physics.resolution=[16]", "data.num_train=2", "data.num_val=1", "data.num_test=1", "data.num_frames=6",
            f"data.cache_dir={tmp_path / 'cache'}", "observation.noise=0.05", "trainer.rollout_steps=2"]
    first = compose_arm("compare_field_partial", "physical_only", base)
    assert seed_overrides(first, 0) == []
    configs = {(arm, s): compose_arm("compare_field_partial", arm, [*base, *seed_overrides(first, s)])
               for arm in ("physical_only", "cooperative") for s in (0, 1)}
    for s in (0, 1):  # the data of seed s are the same for every arm ...
        assert cache_key(configs["physical_only", s]) == cache_key(configs["cooperative", s])
    assert cache_key(configs["physical_only", 0]) != cache_key(configs["physical_only", 1])  # ... and differ by seed
    a, b = (CacheReader(generate_dataset(configs["cooperative", s], progress=False).path) for s in (0, 1))
    assert a.seeds("train") == [0, 1] and b.seeds("train") == [1000, 1001]
    assert not (a.load("train", 0)["obs_velocity"] == b.load("train", 0)["obs_velocity"]).all()
    assert int(configs["cooperative", 1].seed) == int(configs["cooperative", 0].seed) + 1


def test_seed_tables_csv_and_paired_results():
    from hyco.compare.reports import paired_results, seed_csv, seed_tables
    from hyco.evaluation.stats import t_interval

    rows = [ArmResult("synthetic_only", f"s{s}", 0.40 + 0.01 * s, 0.6, seconds=1.0, seed=s) for s in range(3)]
    rows += [ArmResult("cooperative", f"c{s}", 0.30 + 0.02 * s, 0.5, 0.1, 0.2, {"nu": 0.2}, 2.0, seed=s,
                       synthetic_log_mse=-4.0 - s, own={"hyco/phase": 1.0}) for s in range(3)]
    arms = ["synthetic_only", "cooperative"]
    lines = paired_results(rows, arms, ["nu"])
    # differences -0.10, -0.09, -0.08: 3 wins, mean -0.09, std 0.01
    assert lines[0] == "| cooperative | synthetic_only | synthetic mean | 3 of 3 | -0.0900 ± 0.0100 |"
    table = seed_tables("t", rows, arms, ["nu"], t_interval([0.5, 0.6, 0.7]))
    assert "3 seeds" in table and "| cooperative | 0.3200 ± 0.0200 [0.2703, 0.3697]" in table
    csv_text = seed_csv(rows, arms, ["nu"])
    line = next(r for r in csv_text.splitlines() if r.startswith("cooperative,param:nu,"))
    assert line.split(",")[2] == "3" and float(line.split(",")[3]) == pytest.approx(0.2)
    assert line.endswith("0.2 0.2 0.2") and csv_text.splitlines()[0].startswith("arm,metric,n,mean")
    # APHYNITY's log MSE and the arm's own metrics (last epoch) travel with the rest
    assert "cooperative,synthetic_log_mse,3,-5.0," in csv_text and "cooperative,own:hyco/phase,3,1.0," in csv_text
    assert "| cooperative | hyco/phase | 1.0000 ± 0.0000" in table


def test_compare_with_seeds_tags_children_and_writes_csv_and_figure(tmp_path, mlflow_tracking_cfg):
    overrides = [
        "physics.resolution=[16]", "data.num_train=2", "data.num_val=1", "data.num_test=1",
        "data.num_frames=5", "trainer.epochs=2", "trainer.rollout_steps=2", "synthetic.unet.levels=1",
        "synthetic.unet.filters=4", "torch_threads=1", f"data.cache_dir={tmp_path / 'cache'}",
        f"tracking.tracking_uri={mlflow_tracking_cfg.tracking_uri}",
        f"tracking.artifact_location={mlflow_tracking_cfg.artifact_location}",
    ]
    out = tmp_path / "seeds.md"
    first = compare("compare_field_partial", ["synthetic_only", "physical_only"], overrides, out, seeds=2)
    assert "2 seeds" in first and out.with_suffix(".csv").is_file() and out.with_suffix(".png").is_file()
    parent = tracking.find_run_by_tag("compare_field_partial", "hyco.compare", "compare_field_partial",
                                      mlflow_tracking_cfg)
    children = tracking.search_runs("compare_field_partial", f"tags.`mlflow.parentRunId` = '{parent.run_id}'",
                                    tracking=mlflow_tracking_cfg)
    assert sorted((c.tags["hyco.arm"], c.tags["hyco.seed"]) for c in children) == [
        ("physical_only", "0"), ("physical_only", "1"), ("synthetic_only", "0"), ("synthetic_only", "1")]
    # the same command again gives the same numbers on the CPU (the wall-time column aside)
    again = compare("compare_field_partial", ["synthetic_only", "physical_only"], overrides, out, seeds=2)
    strip = lambda t: [line.rsplit("|", 2)[0] for line in t.splitlines()  # noqa: E731
                       if line.startswith("| s") or line.startswith("| p")]
    assert strip(again) == strip(first)


def test_arms_that_refuse_the_problem_are_left_out_of_the_default_list_and_refused_when_named():
    from hyco.compare.comparison import runnable_arms
    from hyco.errors import ConfigError

    tiny = ["physics.resolution=[8,8]", "synthetic.unet.levels=1"]
    kept = runnable_arms("smoke_quick", all_arms(), tiny, explicit=False)
    # smoke has no continuous residual (pinn); the warmstart preset's 4 warm-start rounds take all of
    # smoke_quick's 3 (warmstart): both left out of the default list, each with a warning
    assert kept == [a for a in all_arms() if a not in ("pinn", "warmstart")]
    with pytest.raises(ConfigError, match="trainer.variant=pinn"):
        runnable_arms("smoke_quick", ["cooperative", "pinn"], tiny, explicit=True)
    with pytest.raises(ConfigError, match="trainer.hyco.warmstart_epochs"):
        runnable_arms("smoke_quick", ["warmstart"], tiny, explicit=True)


def test_a_noise_sweep_of_a_static_problem_compares_the_arms_at_each_level(make_overrides, tmp_path):
    import csv as csv_module
    import io

    from static_helpers import TINY_DARCY

    from hyco.compare.noise import noise_sweep

    overrides = [o for o in make_overrides(base=TINY_DARCY[1:]) if not o.startswith("trainer.pinn.")]
    out = tmp_path / "noise"
    summary = noise_sweep("paper_darcy", [0.0, 0.3], ["physical_only", "cooperative"], 1, overrides, out,
                          tables=tmp_path)
    assert "physical min" in (tmp_path / "paper_darcy_noise0.3_seeds1.md").read_text()  # reconstruction columns
    records = list(csv_module.DictReader(io.StringIO(out.with_suffix(".csv").read_text())))
    series = {(r["noise"], r["series"], r["kind"]) for r in records}
    assert ("0.3", "cooperative synthetic", "solution") in series and ("0.0", "physical_only", "parameters") in series
    assert all(math.isfinite(float(r["value"])) for r in records)
    assert "| 0.3 | " in summary and "cooperative physical against physical_only physical" in summary
    assert out.with_suffix(".png").stat().st_size > 0
