"""``sweep.reeval_seeds``: each arm's best configuration retrained on fresh seeds after the study,
its network registered (``models:/<study>-<arm>@best``), the runs named, one study per arm, and the
terminal summary within 100 columns."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from sweep_helpers import load_study, mlflow_runs, run_sweep_cli, tail

from hyco import metrics as M
from hyco import tracking
from hyco.compose import load_run_config
from hyco.data.cache import CacheReader
from hyco.evaluation import relative_l2_per_step
from hyco.evaluation.evaluate import load_test_set
from hyco.physics.registry import build_physics
from hyco.sweep.arm_studies import SOURCE_ATTR, arm_study_name
from hyco.sweep.reeval import REEVAL_ATTR, trial_overrides
from hyco.synthetic.rollout import rollout

WIDTH = 100


def test_trial_overrides_map_arm_parameters_back_to_config_paths():
    class Frozen:  # the two attributes trial_overrides reads
        params = {"arm": "mixed", "mixed/trainer.hyco.alpha": 0.4, "mixed/trainer.lr": 0.001,
                  "cooperative/trainer.lr": 0.5}

    assert trial_overrides(Frozen) == ["trainer.hyco.alpha=0.4", "trainer.lr=0.001"]  # the arm apart


def summary_block(stdout: str) -> list:
    """The summary's lines: from ``Study <name>:`` up to the browse commands."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Study "))
    end = next(i for i, line in enumerate(lines) if line.startswith("Browse this sweep"))
    return lines[start:end]


def reproduce_test_error(uri: str, run: tracking.RunRecord, paths) -> float:
    """The held-out rollout error of the network at ``uri`` on the test simulations of ``run``."""
    network = tracking.load_torch_model(uri, paths.tracking_uri)
    cfg = load_run_config(tracking.download_artifact(run.run_id, "config/resolved_config.yaml", paths.tracking_uri))
    reader = CacheReader(Path(cfg.data.cache_dir) / run.tags["hyco.data_key"])
    model = build_physics(cfg.physics, cfg.data.ic)
    test = load_test_set(cfg, reader, horizon=reader.metadata["num_frames"] - 1, channels=model.channels)
    static = None if test["static"] is None else torch.from_numpy(test["static"])
    with torch.no_grad():
        pred = rollout(network, torch.from_numpy(test["truth"][:, 0]), test["truth"].shape[1] - 1, static=static)
    return float(np.mean(relative_l2_per_step(pred.numpy(), test["truth"][:, 1:])))


@pytest.mark.slow
def test_reeval_registers_the_network_names_the_runs_and_the_summary_fits(sweep_paths):
    name = "reeval"
    overrides = sweep_paths.overrides(f"sweep.study_name={name}", "sweep.n_trials=2", "sweep.reeval_seeds=2",
                                      "sweep.arms=[synthetic_only,physical_only]", "sweep.pruner=none",
                                      "tracking.log_model=false")
    proc = run_sweep_cli(overrides, cwd=sweep_paths.root)
    assert proc.returncode == 0, tail(proc)
    block = summary_block(proc.stdout)
    assert max(len(line) for line in block) <= WIDTH, "\n".join(block)
    assert "2 fresh seeds" in block[1] and "synthetic_error" not in proc.stdout  # named forecast_error
    assert f"models:/{name}-synthetic_only@best" in proc.stdout, tail(proc)
    assert "seed 2/2" in proc.stdout  # a line per re-evaluation, counted with the trials
    assert "4/6" in proc.stdout and "6/6" in proc.stdout

    study = load_study(sweep_paths, name)
    stored = json.loads(study.user_attrs[REEVAL_ATTR])
    assert sorted(stored) == ["physical_only", "synthetic_only"]
    for arm, record in stored.items():
        assert record["seeds"] == [1, 2] and len(record["forecast_error"]) == 2
        assert all(math.isfinite(v) for v in record["forecast_error"])
    assert stored["physical_only"]["model"] == ""  # no network: nothing registered
    runs = mlflow_runs(sweep_paths)
    parent = next(r for r in runs if r.tags.get("hyco.role") == "sweep-parent")
    reevals = [r for r in runs if "hyco.reeval" in r.tags]
    assert sorted((r.tags["hyco.arm"], r.tags["hyco.seed"]) for r in reevals) == [
        ("physical_only", "1"), ("physical_only", "2"), ("synthetic_only", "1"), ("synthetic_only", "2")]
    assert all(r.tags["mlflow.parentRunId"] == parent.run_id and r.status == "FINISHED" for r in reevals)
    for arm in ("synthetic_only", "physical_only"):  # the parent holds each arm's own history figure
        figure = tracking.download_artifact(parent.run_id, f"sweep/arms/{arm}_history.png", sweep_paths.tracking_uri)
        assert figure.is_file()
    assert "Verdicts" not in proc.stdout or "parameter error" not in proc.stdout  # no rival learns parameters
    assert sorted(r.run_name for r in reevals) == ["physical_only-seed1", "physical_only-seed2",
                                                   "synthetic_only-seed1", "synthetic_only-seed2"]
    trials = {t.number: t for t in study.get_trials()}
    for run in (r for r in runs if "hyco.trial" in r.tags):
        trial = trials[int(run.tags["hyco.trial"])]
        assert run.run_name == f"{trial.params['arm']}-t{trial.number}" == trial.user_attrs["mlflow_run_name"]

    # the registered network reproduces the test error of the run it comes from (fresh seed 1)
    uri = stored["synthetic_only"]["model"]
    assert uri == f"models:/{name}-synthetic_only@best"
    seed1 = next(r for r in reevals if r.run_name == "synthetic_only-seed1")
    assert stored["synthetic_only"]["runs"][0] == seed1.run_id
    expected = seed1.metrics[M.rel_l2_mean("test", "synthetic")]
    assert reproduce_test_error(uri, seed1, sweep_paths) == pytest.approx(expected, rel=1e-5)
    assert stored["synthetic_only"]["test_forecast_error"][0] == pytest.approx(expected, rel=1e-9)

    # one study per arm: its trials, parameters under their config paths, the scored player named
    for arm in ("synthetic_only", "physical_only"):
        view = load_study(sweep_paths, arm_study_name(name, arm))
        copies = view.get_trials()
        mine = [t for t in trials.values() if t.params["arm"] == arm]
        assert sorted(t.system_attrs[SOURCE_ATTR] for t in copies) == sorted(t.number for t in mine)
        for copy in copies:
            source = trials[copy.system_attrs[SOURCE_ATTR]]
            assert copy.values == source.values and copy.intermediate_values == source.intermediate_values
            assert copy.params == {k.split("/", 1)[1]: v for k, v in source.params.items() if k != "arm"}
        assert view.user_attrs["sweep"] == name and view.user_attrs["arm"] == arm
    assert load_study(sweep_paths, arm_study_name(name, "physical_only")).metric_names == [
        "forecast_error (physical player)"]

    # the summary on demand shows them again without retraining
    again = run_sweep_cli([*overrides, "sweep.summary_only=true"], cwd=sweep_paths.root)
    assert again.returncode == 0 and "2 fresh seeds" in again.stdout, tail(again)
    assert len([r for r in mlflow_runs(sweep_paths) if "hyco.reeval" in r.tags]) == 4
    # a host that finds the summary written by another (here: the same command once more) prints
    # the stored fresh-seed columns too
    third = run_sweep_cli(overrides, cwd=sweep_paths.root)
    assert third.returncode == 0 and "summary already written" in third.stdout + third.stderr, tail(third)
    assert "2 fresh seeds" in third.stdout and f"models:/{name}-synthetic_only@best" in third.stdout, tail(third)
    assert len([r for r in mlflow_runs(sweep_paths) if "hyco.reeval" in r.tags]) == 4
    assert len(load_study(sweep_paths, arm_study_name(name, "synthetic_only")).get_trials()) == 1  # copied once
