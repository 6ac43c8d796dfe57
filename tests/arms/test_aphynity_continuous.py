"""APHYNITY's continuous form: ``dX/dt = F_p(X; θ) + F_a(X)`` by RK4 over the window.

Numbers: ``F_a = 0`` (an untrained residual network) reproduces the physical model's own step bit
for bit on every model that states ``F_p``; the penalty is ``‖F_a‖²`` per point over the channels
(normalised by ``(‖X‖ + 1e-5)²`` on request); ``λ`` moves once per batch whatever
``iterations_per_batch``; a model without ``F_p`` is refused before any compute.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hyco.arms import build_trainer
from hyco.arms.aphynity import APHYNITY_DATA_LOSS, APHYNITY_EXACT_FIT, exact_fit_limit
from hyco.arms.aphynity_forms import continuous_forecast, derivative_penalty
from hyco.arms.aphynity_optimum import minimum_norm_fit, window_states
from hyco.compose import compose_config
from hyco.config.schema import truth_physics
from hyco.errors import ProblemRefused
from hyco.physics import build_physics
from hyco.physics.continuous import ContinuousModel
from hyco.physics.registry import PHYSICS
from hyco.runs.train import open_training_data
from hyco.synthetic.networks.mlp import MLP
from hyco.synthetic.networks.unet import UNet
from hyco.synthetic.rollout import rollout
from hyco.tracking.run_logger import MemoryRunLogger
from hyco.training.context import RunContext

CONTINUOUS = sorted((name, case) for name, cls in PHYSICS.items() if issubclass(cls, ContinuousModel)
                    for case in cls.TINY_CASES.values())


@pytest.mark.parametrize("substeps", [1, 3])
@pytest.mark.parametrize("name,case", CONTINUOUS, ids=[n for n, _ in CONTINUOUS])
def test_zero_correction_reproduces_the_physics_bit_for_bit(name, case, substeps):
    model = build_physics({**case.physics, "substeps": substeps}, case.ic)
    x0 = model.converter.state_to_tensor(model.initial_state(3, 5))
    channels = x0.shape[1]
    network = (MLP(0, channels, channels, hidden=8) if model.dim == 0
               else UNet(model.dim, channels, channels, levels=0, filters=4))  # residual: F_a = 0 untrained
    params = model.initial_params()
    with torch.no_grad():
        augmented = continuous_forecast(network, model, params, x0, 4, channels, model.inner_steps)
        # the model's own compiled step on Fields, and its tensor step (what the physical fits use)
        states = model.rollout(model.converter.tensor_to_state(x0), params, 4)[1:]
        physics = torch.stack([model.converter.state_to_tensor(s) for s in states], dim=1)
        tensor = rollout(model.tensor_step(params), x0, 4)
    assert model.inner_steps == substeps
    assert torch.equal(augmented, physics) and torch.equal(tensor, physics)
    # a trained (non-zero) correction changes the forecast
    nn.init.normal_(network.head.weight, std=0.1)
    with torch.no_grad():
        moved = continuous_forecast(network, model, params, x0, 4, channels, model.inner_steps)
    assert float((moved - physics).abs().max()) > 1e-4


class _Constant(nn.Module):
    """``F_a(X) = c`` everywhere (not residual)."""

    def __init__(self, c):
        super().__init__()
        self.c = torch.tensor(c, dtype=torch.float32)

    def forward(self, x):
        return self.c.reshape(1, -1, *([1] * (x.ndim - 2))).expand(x.shape[0], -1, *x.shape[2:])


def test_the_penalty_is_the_squared_norm_over_the_channels_averaged_over_points():
    x0 = torch.full((2, 2, 4), 3.0)
    targets = torch.full((2, 3, 2, 4), 4.0)
    masks = torch.ones_like(targets)
    network = _Constant([1.0, 2.0])
    plain = derivative_penalty(network, x0, targets, masks, targets, 2, normalise=False)
    assert float(plain) == pytest.approx(5.0)  # 1^2 + 2^2 at every point
    normalised = derivative_penalty(network, x0, targets, masks, targets, 2, normalise=True)
    # per point 5 / (|X| + 1e-5)^2: |X| = 3 sqrt 2 at the initial state, 4 sqrt 2 at the targets
    expected = (5 / (3 * 2 ** 0.5 + 1e-5) ** 2 + 3 * 5 / (4 * 2 ** 0.5 + 1e-5) ** 2) / 4
    assert float(normalised) == pytest.approx(expected, rel=1e-6)


TINY_PENDULUM = ["experiment=aphynity_pendulum", "trainer=aphynity", "data.num_train=4", "data.num_val=1",
                 "data.num_test=1", "data.num_frames=6", "trainer.rollout_steps=5", "trainer.batch_size=2",
                 "synthetic.mlp.hidden=8", "torch_threads=1", "trainer.aphynity.tau=0.5",
                 "evaluation.horizon=0"]


def test_lambda_moves_once_per_batch_after_its_iterations(tmp_path):
    cfg = compose_config([*TINY_PENDULUM, f"data.cache_dir={tmp_path / 'cache'}",
                          "trainer.aphynity.iterations_per_batch=3"])
    data, _ = open_training_data(cfg)
    trainer = build_trainer(cfg, data, RunContext(MemoryRunLogger(), tmp_path / "run", log_memory=False))
    start = trainer.physical.current_params()["omega2"].copy()
    trainer.train_epoch(data.train)
    batches = int(np.ceil(len(data.train) / 2))
    assert trainer.step == 3 * batches  # three updates of w and theta per batch
    # lambda <- lambda + tau * L_traj once per batch, with the misfit of the batch's last update
    assert trainer.terms[APHYNITY_DATA_LOSS] > 0
    assert trainer.lam == pytest.approx(1.0 + 0.5 * batches * trainer.terms[APHYNITY_DATA_LOSS], rel=1e-6)
    assert trainer.physical.current_params()["omega2"] != pytest.approx(start)  # theta moved with w


def test_the_continuous_form_refuses_a_model_without_a_right_hand_side(tmp_path):
    with pytest.raises(ProblemRefused, match="trainer.aphynity.form=continuous"):
        compose_config(["experiment=burgers_1d_quick", "trainer=aphynity", "trainer.aphynity.form=continuous",
                        f"data.cache_dir={tmp_path}"])
    assert not list(tmp_path.iterdir())


def test_a_run_with_a_truth_apart_logs_the_exact_fit_limit_once(tmp_path):
    cfg = compose_config([*TINY_PENDULUM, f"data.cache_dir={tmp_path / 'cache'}"])
    data, _ = open_training_data(cfg)
    logger = MemoryRunLogger()
    build_trainer(cfg, data, RunContext(logger, tmp_path / "run", log_memory=False))
    truth = build_physics(truth_physics(cfg), cfg.data.ic, jit=False)
    fit = minimum_norm_fit(truth, build_physics(cfg.physics, cfg.data.ic, jit=False), window_states(data.train),
                           normalise=True)
    assert logger.metrics[f"{APHYNITY_EXACT_FIT}/omega2"] == [(0, pytest.approx(fit.params["omega2"], rel=1e-12))]
    assert logger.metrics[f"{APHYNITY_EXACT_FIT}/param_error"][0][1] == pytest.approx(fit.percent_error / 100)
    assert 0 < fit.percent_error < 10  # the missing friction biases the frictionless fit, not beyond it

    cfg.data.truth = {}  # the data from the learner's own model: no limit to state
    assert exact_fit_limit(cfg, data) is None
