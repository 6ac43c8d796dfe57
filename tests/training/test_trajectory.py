"""The physical player of a reconstruction problem: the whole horizon from the known initial state,
read at scattered points; gradients through solver and interpolation equal finite differences,
and the six scalars of kappa are recovered from full, noise-free sensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from phiml import math
from recon_helpers import TINY_RECON

from hyco.compose import compose_config
from hyco.data.cache import CacheReader
from hyco.data.generate import generate_dataset
from hyco.data.scattered import ScatteredData
from hyco.physics.families import p_error
from hyco.physics.registry import build_physics
from hyco.training.ghosts import GhostPoints
from hyco.training.trajectory import TrajectoryPhysics


def _problem(tmp_path, *overrides):
    cfg = compose_config([*TINY_RECON, f"data.cache_dir={tmp_path}", *overrides])
    data = ScatteredData.open(cfg, CacheReader(generate_dataset(cfg, progress=False).path))
    model = build_physics(cfg.physics, cfg.data.ic)
    return cfg, model, data, TrajectoryPhysics(cfg, model, data)


def test_data_and_ghost_misfits_have_the_gradient_of_finite_differences(tmp_path):
    cfg, model, data, phys = _problem(tmp_path, "physics.jit_frames=1")
    points, frames = GhostPoints([-3.0, -3.0], 6.0, np.stack(model.cell_centres(), -1), data.times, 0).draw(0, 7)
    targets = torch.rand(len(points), 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    start = torch.tensor([1.5, 1.2, 0.8, -1.5, 0.6, -1.7], dtype=torch.float64)
    direction = torch.tensor([0.3, -0.2, 0.5, 0.1, -0.4, 0.2], dtype=torch.float64)

    def losses(t):
        with math.precision(64):
            kappa = model.family_field("kappa", start + t * direction)  # float64 (params_from_values: float32)
            params = {"kappa": math.tensor(kappa, math.spatial(*model.spatial_names))}
            x0 = data.x0.double()
            grid = torch.cat([x0[:, None, :1], model.tensor_rollout(x0, data.num_frames - 1, params)], dim=1)
            return phys.data_misfit(grid), phys.interaction(grid, (points, frames, targets))

    t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    for which in range(2):
        (grad,) = torch.autograd.grad(losses(t)[which], t)
        eps = 1e-5
        with torch.no_grad():
            fd = (losses(torch.tensor(eps, dtype=torch.float64))[which]
                  - losses(torch.tensor(-eps, dtype=torch.float64))[which]) / (2 * eps)
        assert abs(float(grad)) > 1e-8
        assert float(grad) == pytest.approx(float(fd), rel=1e-5), ["data", "interaction"][which]


def test_the_trajectory_compiled_in_one_trace_equals_the_step_by_step_one(tmp_path):
    _, model, data, phys = _problem(tmp_path)
    assert model.jit_frames == 5
    grid = phys.trajectory()
    model.jit_frames = 1
    np.testing.assert_array_equal(phys.trajectory().detach().numpy(), grid.detach().numpy())
    # frame 0 is the known initial state; the error is scored on frames 1..T-1
    assert torch.equal(grid[:, 0], data.x0[:, :1])
    assert phys.reconstruction_error()["rel_l2"] > 0.01


def test_physics_alone_recovers_kappa_from_full_sensors(tmp_path):
    # an unclamped kappa (the published clamp at 2.5 hides A1 above it) and the learner's own
    # resolution for the truth: what is left to recover is the optimiser's and the solver's job
    cfg, model, data, phys = _problem(
        tmp_path, "observation.box_lower=[0.0,0.0]", "observation.lattice=6", "observation.num_sensors=36",
        "physics.resolution=[10,10]", "data.truth.resolution=[10,10]", "data.num_frames=11", "physics.jit_frames=10",
        "physics.params.kappa.family_args.clamp=null", "physics.params.kappa.true_theta=[1.5,1.0,1.0,-2.0,1.0,-2.0]",
        "trainer.physical_optimizer=adam", "trainer.physical_lr=0.05", "trainer.physical_iterations_per_epoch=300")
    spec = model.param_specs["kappa"]
    before = p_error(phys._family("kappa"), spec.family_args, 2, phys.current_theta()["kappa"], spec.true_theta)
    phys.update(lambda_data=1.0)
    theta = phys.current_theta()["kappa"]
    after = p_error(phys._family("kappa"), spec.family_args, 2, theta, spec.true_theta)
    assert before > 1.0 and after < 0.35, (before, after)
    # the bump the initial state's warm side covers is found to 3 %: A1, x1, y1
    np.testing.assert_allclose(theta[[0, 2, 4]], [1.5, 1.0, 1.0], rtol=0.03)
    assert phys.reconstruction_error()["rel_l2"] < 0.02
