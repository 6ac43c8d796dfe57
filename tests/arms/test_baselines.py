"""The field's other hybrid methods as arms: ``pinn`` and ``aphynity``.

Numbers: the PINN's parameter gradient, its decreasing loss; APHYNITY with ``F_w = 0`` equals the
physics rollout bit for bit and its multiplier grows by ``tau * L_traj``; an interrupted run of
either resumes to bit-identical weights, parameters and multiplier (APHYNITY with a schedule too, whose
factor ``θ``'s rate follows exactly); NaNs name their term.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from hyco import metrics as M
from hyco.arms import build_trainer, get_arm
from hyco.arms.aphynity import APHYNITY_DATA_LOSS, APHYNITY_LAMBDA, AphynityTrainer
from hyco.arms.pinn import PINN_TERMS, pinn_loss
from hyco.compose import check_problem
from hyco.config import validate
from hyco.errors import ConfigError, NonFiniteLossError
from hyco.runs.train import open_training_data
from hyco.tracking.run_logger import MemoryRunLogger
from hyco.training.context import RunContext
from hyco.training.physical import PhysicalTrainer

PINN_TINY = ["trainer=pinn", "trainer.pinn.collocation_points=128", "trainer.pinn.iterations_per_epoch=4",
             "trainer.pinn.data_batch=64", "trainer.pinn.hidden=16", "trainer.pinn.layers=2"]


def _trainer(make_cfg, tmp_path: Path, *overrides: str, name: str = "run", context_cls=RunContext):
    cfg = make_cfg(*overrides)
    validate(cfg)
    check_problem(cfg)
    data, _ = open_training_data(cfg)
    logger = MemoryRunLogger()
    context = context_cls(logger, tmp_path / name, log_memory=False)
    return build_trainer(cfg, data, context), logger


def test_the_arms_are_registered_with_their_players():
    pinn, aphynity = get_arm("pinn"), get_arm("aphynity")
    assert pinn.trains == ("physical",) and pinn.forecast == "physical" and pinn.learns_params
    assert aphynity.trains == ("synthetic", "physical") and aphynity.forecast == "synthetic"
    assert {"pinn.collocation_points", "pinn.weight_residual", "physical_lr", "lr"} <= pinn.reads
    assert {"aphynity.tau", "aphynity.lambda0", "physical_lr", "lr"} <= aphynity.reads


# ------------------------------------------------------------------------------ pinn
def test_pinn_parameter_gradient_is_nonzero_and_its_loss_decreases(make_cfg, tmp_path):
    trainer, logger = _trainer(make_cfg, tmp_path, *PINN_TINY, "trainer.epochs=12", "trainer.lr=3e-3",
                               "trainer.pinn.iterations_per_epoch=20")
    rng = np.random.default_rng(0)
    terms = trainer.terms(rng, trainer.data.collocation(rng, 64))
    terms["residual"].backward()
    grad = trainer.physical.z["nu"].grad
    assert grad is not None and float(grad.abs()) > 1e-6
    trainer.physical.z["nu"].grad = None
    trainer.train()
    total = [v for _, v in logger.history(pinn_loss("total"))]
    assert len(total) == 12
    assert np.mean(total[-3:]) < 0.5 * total[0], total
    # nu moves from its initial guess 0.05 towards the truth 0.01
    nu = [v for _, v in logger.history(M.param("nu"))]
    assert nu[-1] < 0.045
    for term in PINN_TERMS:
        assert len(logger.history(pinn_loss(term))) == 12
    assert (tmp_path / "run" / PhysicalTrainer.PARAMS_FILE).is_file()


def test_pinn_nan_names_the_term(make_cfg, tmp_path):
    trainer, _ = _trainer(make_cfg, tmp_path, *PINN_TINY, "trainer.inject_nan_at_step=2")
    with pytest.raises(NonFiniteLossError, match="pinn_residual_loss.*step 2"):
        trainer.train()


def test_pinn_refuses_a_model_without_residual_at_config_time(make_cfg, monkeypatch):
    from hyco.physics.base import PhysicalModel
    from hyco.physics.models.burgers import Burgers

    monkeypatch.setattr(Burgers, "residual", PhysicalModel.residual)
    with pytest.raises(ConfigError, match="does not state its PDE's continuous residual"):
        check_problem(make_cfg(*PINN_TINY))


# ------------------------------------------------------------------------------ aphynity
class _ZeroCorrection(nn.Module):
    """A trainable 1x1 convolution initialised to zero: ``F_w == 0`` exactly, with parameters."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x):
        return self.conv(x)


def test_aphynity_with_zero_correction_reproduces_the_physics_and_lambda_grows(make_cfg, tmp_path):
    trainer, logger = _trainer(make_cfg, tmp_path, "trainer=aphynity", "trainer.aphynity.tau=0.5",
                               "trainer.aphynity.lambda0=1.0")
    zero = AphynityTrainer(trainer.cfg, _ZeroCorrection(1), trainer.physical, trainer.train_data,
                           trainer.val_data, trainer.context)
    x0, targets, _ = (t[None] for t in trainer.train_data[0])
    with torch.no_grad():
        augmented, correction = zero.forecast(x0, targets.shape[1])
        physics = trainer.physical.rollout_tensor(x0, targets.shape[1],
                                                  trainer.physical.physics_params(trainer.physical.z))
    assert torch.equal(augmented, physics)
    assert float(correction) == 0.0
    # the configured (residual) UNet contributes its increment: zero before training
    with torch.no_grad():
        untrained, correction = trainer.forecast(x0, targets.shape[1])
    assert torch.equal(untrained, physics) and float(correction) == 0.0

    # lambda <- lambda + tau * L_traj after every update, so it grows while the misfit is positive
    zero.train_epoch(trainer.train_data)
    first = zero.terms
    assert first[APHYNITY_DATA_LOSS] > 0
    batches = int(np.ceil(len(trainer.train_data) / trainer.cfg.trainer.batch_size))
    assert first[APHYNITY_LAMBDA] == pytest.approx(1.0 + 0.5 * batches * first[APHYNITY_DATA_LOSS], rel=1e-6)
    zero.train_epoch(trainer.train_data)
    assert zero.terms[APHYNITY_LAMBDA] > first[APHYNITY_LAMBDA]


@pytest.mark.parametrize("scheduler", ["none", "cosine"])
def test_aphynity_theta_follows_the_network_schedule(scheduler, make_cfg, tmp_path):
    trainer, logger = _trainer(make_cfg, tmp_path, "trainer=aphynity", "trainer.epochs=4", "trainer.physical_lr=0.02",
                               f"trainer.scheduler={scheduler}")
    trainer.train()
    lr = float(trainer.cfg.trainer.lr)
    network = [v for _, v in logger.history(M.SYNTHETIC_LR)]
    theta = [v for _, v in logger.history(M.PHYSICAL_LR)]
    if scheduler == "none":
        assert network == [lr] * 4 and theta == [0.02] * 4  # exactly the configured rates
    else:  # cosine annealing over the 4 planned epochs, the same factor for both players
        factors = [0.5 * (1 + np.cos(np.pi * e / 4)) for e in range(4)]
        assert network == pytest.approx([lr * f for f in factors], rel=1e-9)
        assert theta == pytest.approx([0.02 * f for f in factors], rel=1e-9)
    adam = trainer.physical._adam_optimizer()
    assert adam.param_groups[0]["lr"] == pytest.approx(theta[-1], rel=1e-12)  # the rate θ's last steps took


def test_aphynity_nan_names_the_term(make_cfg, tmp_path):
    trainer, _ = _trainer(make_cfg, tmp_path, "trainer=aphynity", "trainer.inject_nan_at_step=1")
    with pytest.raises(NonFiniteLossError, match="aphynity_trajectory_mse.*step 1"):
        trainer.train()


# ------------------------------------------------------------------------------ exact resume
class _DiesAfterCheckpoint(RunContext):
    """A kill after epoch 2 was checkpointed, before it reached the tracker."""

    def log(self, metrics, step):
        if step == 2:
            raise KeyboardInterrupt("killed between checkpoint and logging")
        super().log(metrics, step)


def _final_state(trainer):
    if isinstance(trainer, AphynityTrainer):
        return {**trainer.model.state_dict(), "z": trainer.physical.z["nu"].detach().clone(),
                "lambda": torch.tensor(trainer.lam, dtype=torch.float64)}
    return {**trainer.network.state_dict(), "z": trainer.physical.z["nu"].detach().clone()}


@pytest.mark.parametrize("arm", ["pinn", "aphynity", "aphynity_cosine"])
def test_an_interrupted_run_resumes_bit_identical(arm, make_cfg, tmp_path):
    overrides = [*(PINN_TINY if arm == "pinn" else ["trainer=aphynity"]), "trainer.epochs=4",
                 "trainer.physical_lr=0.02", *(["trainer.scheduler=cosine"] if arm == "aphynity_cosine" else [])]
    dying, _ = _trainer(make_cfg, tmp_path, *overrides, name="run", context_cls=_DiesAfterCheckpoint)
    with pytest.raises(KeyboardInterrupt):
        dying.train()
    resumed, logger = _trainer(make_cfg, tmp_path, *overrides, name="run")
    resumed.train()
    reference, ref_logger = _trainer(make_cfg, tmp_path, *overrides, name="reference")
    reference.train()
    a, b = _final_state(resumed), _final_state(reference)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    key = pinn_loss("total") if arm == "pinn" else APHYNITY_LAMBDA
    assert [s for s, _ in logger.history(key)] == [2, 3, 4]  # epoch 2 replayed from the checkpoint
    assert logger.history(key) == ref_logger.history(key)[1:]
