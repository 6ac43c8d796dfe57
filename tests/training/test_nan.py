"""A NaN loss stops training: the error names the step and the loss term, the run ends FAILED,
and the last checkpoint on disk is the finite one from before the NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient
from training_helpers import TINY_PHYSICAL_1D, checkpoint_tensors, run_cli, toy_network, toy_windows, unit_cfg

from hyco import metrics as M
from hyco import tracking
from hyco.arms.baselines import build_physical_trainer
from hyco.core.checkpoints import load_checkpoint, tensors_finite
from hyco.core.files import load_json
from hyco.errors import NonFiniteLossError
from hyco.runs.train import experiment_name, open_training_data, train_run
from hyco.tracking.run_logger import MemoryRunLogger
from hyco.training.context import RunContext
from hyco.training.field import PHYSICAL_LOSS
from hyco.training.physical import PhysicalTrainer
from hyco.training.synthetic import SYNTHETIC_LOSS, SyntheticTrainer


def _only_run(cfg):
    client = MlflowClient(cfg.tracking.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment_name(cfg)).experiment_id])
    assert len(runs) == 1
    return runs[0]


def test_synthetic_nan_is_caught_before_the_optimiser_step():
    trainer = SyntheticTrainer(unit_cfg(batch_size=2, inject_nan_at_step=2), toy_network())
    data = toy_windows(n=4)
    trainer.fit(data, epochs=1)  # steps 0 and 1
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    with pytest.raises(NonFiniteLossError, match=f"'{SYNTHETIC_LOSS}' = nan at optimisation step 2 ") as err:
        trainer.fit(data, epochs=2)  # step 2 is poisoned
    assert "(epoch 2)" in str(err.value)
    assert trainer.step == 2
    assert int(trainer.optimizer.state_dict()["state"][0]["step"]) == 2  # Adam never stepped on it
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, before[key]), key


@pytest.mark.slow
def test_synthetic_nan_fails_the_process_and_the_run(make_cfg, make_overrides, tmp_path):
    # 8 windows (2 sims x 4 starts), batch 4: steps 0-1 are epoch 1, 2-3 epoch 2, 4-5 epoch 3.
    overrides = ["trainer.epochs=4", "trainer.inject_nan_at_step=5"]
    cfg = make_cfg(*overrides)
    result = run_cli(tmp_path, "task=[generate,train]", *make_overrides(*overrides))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "optimisation step 5" in output and SYNTHETIC_LOSS in output and "epoch 3" in output, output

    run = _only_run(cfg)
    assert run.info.status == "FAILED"
    assert "NonFiniteLossError" in run.data.tags["hyco.error"] and "step 5" in run.data.tags["hyco.error"]
    history = MlflowClient(cfg.tracking.tracking_uri).get_metric_history(run.info.run_id, M.SYNTHETIC_TRAIN_LOSS)
    assert sorted(m.step for m in history) == [1, 2]

    ckpt_dir = tracking.artifact_dir(run.info.run_id, cfg.tracking) / "checkpoints"
    last = load_checkpoint(ckpt_dir / SyntheticTrainer.LAST)
    assert (last["epoch"], last["step"]) == (2, 4)  # from before the NaN
    assert all(bool(torch.isfinite(t).all()) for t in checkpoint_tensors(last).values() if t.is_floating_point())
    assert math.isfinite(last["best_val"])
    assert tensors_finite(load_checkpoint(ckpt_dir / SyntheticTrainer.BEST)["model"])


def test_physical_nan_with_adam_fails_the_run_and_keeps_the_last_parameters(make_cfg):
    # Adam, 5 iterations per epoch: evaluations 0-4 + the final loss (5) are epoch 1; 6-11 epoch 2.
    cfg = make_cfg("trainer.physical_optimizer=adam", "trainer.physical_iterations_per_epoch=5",
                   "trainer.inject_nan_at_step=8", base=TINY_PHYSICAL_1D)
    with pytest.raises(NonFiniteLossError, match=f"'{PHYSICAL_LOSS}' = nan at optimisation step 8 "):
        train_run(cfg)
    run = _only_run(cfg)
    assert run.info.status == "FAILED" and "step 8" in run.data.tags["hyco.error"]
    saved = load_json(tracking.artifact_dir(run.info.run_id, cfg.tracking) / "checkpoints"
                      / PhysicalTrainer.PARAMS_FILE)
    assert saved["epoch"] == 1 and saved["step"] == 6
    assert np.isfinite(np.asarray(saved["params"]["nu"], dtype=float)).all()
    assert 0.0 < float(saved["params"]["nu"]) < 0.1


def test_physical_nan_with_lbfgsb_is_an_error_and_restores_the_parameters(make_cfg, tmp_path):
    """L-BFGS-B cannot raise inside ``math.minimize`` (phiml's worker thread would hang); a
    non-finite evaluation is recorded there and raised once the solver has returned."""
    cfg = make_cfg("trainer.physical_iterations_per_epoch=4", "trainer.epochs=1", base=TINY_PHYSICAL_1D)
    data, _ = open_training_data(cfg)
    context = RunContext(MemoryRunLogger(), tmp_path / "ckpt", log_memory=False)
    from hyco.physics.registry import build_physics

    trainer = build_physical_trainer(cfg, build_physics(cfg.physics, cfg.data.ic), data, context)
    trainer.train()
    after_epoch_1 = trainer.current_params()["nu"].copy()
    poisoned = trainer.step + 2
    cfg.trainer.epochs = 2
    cfg.trainer.inject_nan_at_step = poisoned
    with pytest.raises(NonFiniteLossError, match=f"'{PHYSICAL_LOSS}' = nan at optimisation step {poisoned} "):
        trainer.train()
    np.testing.assert_array_equal(trainer.current_params()["nu"], after_epoch_1)
    saved = load_json(context.path(PhysicalTrainer.PARAMS_FILE))
    assert saved["epoch"] == 1 and float(saved["params"]["nu"]) == pytest.approx(float(after_epoch_1))
