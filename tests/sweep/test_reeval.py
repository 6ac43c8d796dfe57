"""``sweep.reeval_seeds``: each arm's best configuration retrained on fresh seeds after the study."""

from __future__ import annotations

import json
import math

import pytest
from sweep_helpers import load_study, mlflow_runs, run_sweep_cli, tail

from hyco.sweep.reeval import REEVAL_ATTR, trial_overrides


def test_trial_overrides_map_arm_parameters_back_to_config_paths():
    class Frozen:  # the two attributes trial_overrides reads
        params = {"arm": "mixed", "mixed/trainer.hyco.alpha": 0.4, "mixed/trainer.lr": 0.001,
                  "cooperative/trainer.lr": 0.5}

    assert trial_overrides(Frozen) == ["trainer.hyco.alpha=0.4", "trainer.lr=0.001"]  # the arm apart


@pytest.mark.slow
def test_reeval_creates_k_runs_per_arm_under_the_parent_and_the_summary_shows_them(sweep_paths):
    name = "reeval"
    overrides = sweep_paths.overrides(f"sweep.study_name={name}", "sweep.n_trials=2", "sweep.reeval_seeds=2",
                                      "sweep.arms=[synthetic_only,physical_only]", "sweep.pruner=none")
    proc = run_sweep_cli(overrides, cwd=sweep_paths.root)
    assert proc.returncode == 0, tail(proc)
    assert "synthetic_error, 2 fresh seeds" not in proc.stdout  # the objective is named forecast_error
    assert "forecast_error, 2 fresh seeds" in proc.stdout and " ± " in proc.stdout, tail(proc)

    study = load_study(sweep_paths, name)
    stored = json.loads(study.user_attrs[REEVAL_ATTR])
    assert sorted(stored) == ["physical_only", "synthetic_only"]
    for arm, record in stored.items():
        assert record["seeds"] == [1, 2] and len(record["forecast_error"]) == 2
        assert all(math.isfinite(v) for v in record["forecast_error"])
    runs = mlflow_runs(sweep_paths)
    parent = next(r for r in runs if r.tags.get("hyco.role") == "sweep-parent")
    reevals = [r for r in runs if "hyco.reeval" in r.tags]
    assert sorted((r.tags["hyco.arm"], r.tags["hyco.seed"]) for r in reevals) == [
        ("physical_only", "1"), ("physical_only", "2"), ("synthetic_only", "1"), ("synthetic_only", "2")]
    assert all(r.tags["mlflow.parentRunId"] == parent.run_id and r.status == "FINISHED" for r in reevals)

    # the summary on demand shows them again without retraining
    again = run_sweep_cli([*overrides, "sweep.summary_only=true"], cwd=sweep_paths.root)
    assert again.returncode == 0 and "forecast_error, 2 fresh seeds" in again.stdout, tail(again)
    assert len([r for r in mlflow_runs(sweep_paths) if "hyco.reeval" in r.tags]) == 4
    # a host that finds the summary written by another (here: the same command once more) prints
    # the stored fresh-seed columns too
    third = run_sweep_cli(overrides, cwd=sweep_paths.root)
    assert third.returncode == 0 and "summary already written" in third.stdout + third.stderr, tail(third)
    assert "forecast_error, 2 fresh seeds" in third.stdout, tail(third)
    assert len([r for r in mlflow_runs(sweep_paths) if "hyco.reeval" in r.tags]) == 4
