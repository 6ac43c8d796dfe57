"""Evaluation: held-out rollouts, persistence reference, parameter recovery, figures in MLflow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from hyco import metrics as M
from hyco import tracking
from hyco.core.paths import conf_dir
from hyco.errors import NotFoundError
from hyco.evaluation import evaluate_run, relative_l2_per_step
from hyco.runs.train import train_run


def _cfg(tmp_path: Path, tracking_cfg, *overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "experiment=burgers_1d_quick", "physics.resolution=[32]", "data.num_train=3", "data.num_val=1",
            "data.num_test=2", "data.num_frames=8", "trainer.rollout_steps=3", "trainer.epochs=2",
            "synthetic.unet.levels=1", "synthetic.unet.filters=4", "torch_threads=1",
            f"data.cache_dir={tmp_path / 'cache'}",
            f"tracking.tracking_uri={tracking_cfg.tracking_uri}",
            f"tracking.artifact_location={tracking_cfg.artifact_location}",
            *overrides,
        ])
    return cfg


def test_relative_l2_per_step_by_hand():
    truth = np.ones((2, 3, 1, 4), dtype=np.float32)
    pred = truth.copy()
    pred[0, 1] *= 1.5  # step 2 of sim 0: error 0.5 relative
    errors = relative_l2_per_step(pred, truth)
    np.testing.assert_allclose(errors, [0.0, 0.25, 0.0], atol=1e-7)


def test_physical_run_evaluates_and_logs(tmp_path, mlflow_tracking_cfg):
    cfg = _cfg(tmp_path, mlflow_tracking_cfg, "trainer=physical_only")
    outcome = train_run(cfg)
    result = evaluate_run(cfg)  # evaluation.run_id empty: the latest finished run
    assert result.run_id == outcome.run_id
    assert set(result.per_step) == {"physical", "persistence"}
    assert len(result.per_step["physical"]) == 7  # steps 1..T-1, step 0 excluded
    assert result.metrics[M.eval_param_rel_error("test", "nu")] < 1e-3
    # a recovered nu reproduces the held-out truth far better than persistence
    assert (result.metrics[M.rel_l2_mean("test", "physical")] < 1e-3
            < result.metrics[M.rel_l2_mean("test", "persistence")])
    run = tracking.get_run(outcome.run_id, mlflow_tracking_cfg)
    assert (run.metrics[M.rel_l2_final("test", "physical")]
            == pytest.approx(result.metrics[M.rel_l2_final("test", "physical")]))
    history = tracking.get_metric_history(outcome.run_id, M.rel_l2_curve("test", "physical"), mlflow_tracking_cfg)
    assert [s for s, _ in history] == list(range(1, 8))
    artifacts = tracking.artifact_dir(outcome.run_id, mlflow_tracking_cfg) / "evaluation"
    for name in ("eval_error_vs_time.png", "eval_snapshots.png", "param_vs_epoch.png", "metrics.json"):
        assert (artifacts / name).is_file(), name


def test_synthetic_run_evaluates_against_persistence(tmp_path, mlflow_tracking_cfg):
    cfg = _cfg(tmp_path, mlflow_tracking_cfg, "trainer=synthetic_only", "evaluation.horizon=4")
    outcome = train_run(cfg)
    result = evaluate_run(cfg)
    assert result.run_id == outcome.run_id
    assert set(result.per_step) == {"synthetic", "persistence"}
    assert len(result.per_step["synthetic"]) == 4
    assert np.all(np.isfinite(result.per_step["synthetic"]))


def test_evaluate_without_runs_is_a_clear_error(tmp_path, mlflow_tracking_cfg):
    cfg = _cfg(tmp_path, mlflow_tracking_cfg)
    with pytest.raises(NotFoundError, match="train first"):  # exit status 3: nothing to evaluate
        evaluate_run(cfg)


def test_train_then_evaluate_in_one_command_evaluates_its_own_run(tmp_path, mlflow_tracking_cfg, capsys):
    from hyco.app.tasks import TASKS

    cfg = _cfg(tmp_path, mlflow_tracking_cfg, "trainer=physical_only", "trainer.epochs=1")
    TASKS["train"](cfg)
    trained = cfg.evaluation.run_id
    # another process finishes a run of the same experiment in between (parallel runs, sweeps)
    with tracking.tracked_run(cfg.tracking, cfg.experiment_name, run_name="other") as other:
        pass
    assert (tracking.latest_run(cfg.experiment_name, "attributes.status = 'FINISHED'", cfg.tracking).run_id
            == other.run_id)
    TASKS["evaluate"](cfg)
    assert f"evaluation of run physical_only ({trained}, arm physical_only) " in capsys.readouterr().out


def test_evaluate_without_a_run_id_takes_the_configured_arms_latest_run_and_never_another_arms(
        tmp_path, mlflow_tracking_cfg):
    from hyco.evaluation.evaluate import resolve_run_id
    from hyco.runs.train import train_run

    trained = train_run(_cfg(tmp_path, mlflow_tracking_cfg, "trainer=physical_only", "trainer.epochs=1")).run_id
    assert resolve_run_id(_cfg(tmp_path, mlflow_tracking_cfg, "trainer=physical_only")) == trained
    with pytest.raises(NotFoundError, match=rf"no finished run of arm synthetic_only .* physical_only \({trained}\) "
                                              rf"of arm physical_only.*evaluation.run_id={trained}"):
        resolve_run_id(_cfg(tmp_path, mlflow_tracking_cfg, "trainer=synthetic_only"))
