"""hyco.metrics: the names every producer and consumer share."""

from __future__ import annotations

import pytest

from hyco import metrics as M


def test_player_and_kind_names():
    assert [M.loss("synthetic", k) for k in M.LOSS_KINDS] == [
        "synthetic/train_loss", "synthetic/data_loss", "synthetic/interaction_loss", "synthetic/total_loss"]
    assert (M.PHYSICAL_DATA_LOSS, M.PHYSICAL_INTERACTION_LOSS, M.PHYSICAL_TOTAL_LOSS, M.PHYSICAL_FIT_EVALUATIONS) == (
        "physical/data_loss", "physical/interaction_loss", "physical/total_loss", "physical/fit_evaluations")
    assert M.SYNTHETIC_LR == "synthetic/lr"
    assert M.is_platform_metric("eval/test/synthetic/rel_l2_mean") and not M.is_platform_metric("hyco/alpha")
    assert {M.TIME_EPOCH, M.TIME_ROUND, M.TIME_PHYSICAL, M.TIME_SYNTHETIC, M.TIME_PREDICT} == {
        "time/epoch_s", "time/round_s", "time/physical_s", "time/synthetic_s", "time/predict_s"}
    assert all(M.is_timing(k) for k in (M.TIME_EPOCH, M.TIME_PREDICT)) and not M.is_timing(M.SYNTHETIC_LR)
    assert all(name.startswith("memory/") for name in M.MEMORY_METRICS)
    with pytest.raises(ValueError, match="loss kind"):
        M.loss("synthetic", "val")
    with pytest.raises(ValueError, match="player"):
        M.loss("pinn", "data")


def test_parameter_names():
    assert M.param("nu") == "param/nu" and M.param_rel_error("nu") == "param/nu_rel_error"
    keys = [M.param("nu"), M.param_rel_error("nu"), M.param_rel_error("kappa"), M.param("kappa"), M.SYNTHETIC_LR]
    assert M.param_names(keys) == ["nu", "kappa"]
    assert [k for k in keys if M.is_param_metric(k)] == keys[:4]


def test_evaluation_names():
    assert M.rel_l2_mean("test", "synthetic") == "eval/test/synthetic/rel_l2_mean"
    assert M.rel_l2_final("val", "physical", "velocity") == "eval/val/physical/velocity/rel_l2_final"
    assert M.rel_l2_curve("test", "persistence") == "eval/test/persistence/rel_l2"
    assert M.eval_param("val", "nu") == "eval/val/param/nu"
    assert M.eval_param_rel_error("test", "nu") == "eval/test/param/nu_rel_error"
    keys = [M.rel_l2_mean("test", "synthetic", f) for f in ("velocity", "density")] + [
        M.rel_l2_mean("test", "synthetic"), M.rel_l2_mean("test", "physical", "smoke")]
    assert M.eval_fields(keys, "test", "synthetic") == ["velocity", "density"]
    with pytest.raises(ValueError, match="split"):
        M.rel_l2_mean("train", "synthetic")


def test_parent_run_names():
    assert M.compare_rel_l2_mean("mixed", "physical") == "compare/mixed/physical/rel_l2_mean"
    assert M.compare_param_rel_error("mixed", "nu") == "compare/mixed/param/nu_rel_error"
    assert M.compare_wall_time("full") == "compare/full/time/wall_s"
    assert M.sweep_best("full", "forecast_error") == "sweep/best/full/forecast_error"


def test_slashes_survive_mlflow(mlflow_tracking_cfg):
    """MLflow accepts '/' in metric keys and the store hands them back unchanged."""
    from hyco import tracking

    with tracking.tracked_run(mlflow_tracking_cfg, "metric_names", run_name="names") as logger:
        logger.log_metrics({M.rel_l2_mean("test", "synthetic", "velocity"): 0.5, M.param_rel_error("nu"): 0.1}, step=0)
        run_id = logger.run_id
    metrics = tracking.get_run(run_id, mlflow_tracking_cfg).metrics
    assert metrics == {"eval/test/synthetic/velocity/rel_l2_mean": 0.5, "param/nu_rel_error": 0.1}
