"""The players on a static problem: ghost points without time at its one frame, the physical player's
solve read at points (data misfit with the gradient of finite differences, scored on the reference
grid), the static papers' network block, and the warm start that returns when the misfit rises."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from static_helpers import TINY_DARCY, tiny_static

from hyco.arms.reconstruction import ReconstructionTrainer
from hyco.compose import compose_config
from hyco.data.cache import CacheReader
from hyco.data.generate import generate_dataset
from hyco.data.scattered import ScatteredData
from hyco.physics.registry import build_physics
from hyco.synthetic.networks.field_mlp import FieldMLP
from hyco.training.ghosts import GhostPoints
from hyco.training.trajectory import TrajectoryPhysics


def test_ghost_points_of_a_static_problem_have_no_time_and_follow_the_epoch():
    ghosts = GhostPoints([-1.0, -1.0], 2.0, np.zeros((4, 4, 2)), torch.zeros(1), seed=5, timed=False)
    points, frames = ghosts.draw(3, 10)
    assert points.shape == (10, 2) and bool((frames == 0).all())
    assert float(points.min()) >= -1.0 and float(points.max()) <= 1.0
    torch.testing.assert_close(ghosts.draw(3, 10)[0], points)
    assert not torch.equal(ghosts.draw(4, 10)[0], points)
    assert ghosts.draw(3, 0)[0].shape == (0, 2)


def test_the_static_physics_fits_every_point_with_the_gradient_of_finite_differences(tmp_path):
    # the learner is the truth here (no data.truth: an inverse crime), so the truth fits exactly
    cfg = compose_config([*tiny_static("physical_only", TINY_DARCY), f"data.cache_dir={tmp_path}",
                          "data.truth.resolution=[7,7]", "observation.noise=0.0"])
    data = ScatteredData.open(cfg, CacheReader(generate_dataset(cfg, progress=False).path))
    model = build_physics(cfg.physics, cfg.data.ic)
    phys = TrajectoryPhysics(cfg, model, data)
    true = {"kappa": torch.tensor(model.param_specs["kappa"].true_theta)}
    grid = phys.trajectory({n: v.clone() for n, v in true.items()})
    assert grid.shape == (1, 1, 1, 7, 7)
    assert float(phys.data_misfit(grid)) < 1e-10  # every point (frame 0) fitted, none skipped
    assert phys.reconstruction_error(grid.detach())["rel_l2"] < 1e-6  # scored on the 9 x 9 reference grid
    start = phys.reconstruction_error()["rel_l2"]
    assert start > 0.05
    direction = torch.randn(10, generator=torch.Generator().manual_seed(0))
    z0 = phys.z["kappa"].detach().clone()

    def misfit(t):
        return phys.data_misfit(phys.trajectory({"kappa": z0 + t * direction}))

    t = torch.zeros((), requires_grad=True)
    (grad,) = torch.autograd.grad(misfit(t), t)
    with torch.no_grad():
        fd = (misfit(torch.tensor(1e-2)) - misfit(torch.tensor(-1e-2))) / 2e-2
    assert float(grad) == pytest.approx(float(fd), rel=2e-2)


def test_the_resnet_block_of_the_static_papers_and_flax_init():
    torch.manual_seed(0)
    net = FieldMLP(2, 2, 1, [8, 8, 8], "tanh", share=True, skip=True, init="lecun_normal")
    points = torch.randn(5, 2)
    h = torch.tanh(net.first(points))
    layer = net.hidden[0]
    expected = net.head(torch.tanh(torch.tanh(layer(torch.tanh(layer(h))) + h)))
    torch.testing.assert_close(net(points), expected)
    wide = FieldMLP(2, 2, 1, [400, 400], init="lecun_normal")
    assert float(wide.hidden[0].weight.std()) == pytest.approx(400 ** -0.5, rel=0.05)
    with pytest.raises(ValueError, match="skip"):
        FieldMLP(2, 2, 1, [8, 16], skip=True)


def test_the_reentrant_warm_start_returns_whenever_the_network_misfit_rises_above_the_threshold():
    trainer = ReconstructionTrainer.__new__(ReconstructionTrainer)  # the rule alone, without players
    trainer.mode, trainer.warm_done, trainer.last_mse = "hybrid", False, float("inf")
    trainer.knobs = OmegaConf.create({"warmstart_epochs": 0, "warmstart_threshold": 0.1, "warmstart_reentry": True})
    phases = []
    for mse in (0.5, 0.05, 0.2, 0.08):  # the misfit after each epoch
        phases.append(trainer.warming(len(phases)))
        trainer.last_mse = mse
    assert phases == [True, True, False, True]
    trainer.knobs.warmstart_reentry, trainer.warm_done = False, True  # the platform's once-only warm start
    assert not trainer.warming(5)


def test_the_physics_reuses_the_interpolation_of_points_it_reads_again_and_only_those(tmp_path):
    cfg = compose_config([*tiny_static("physical_only"), f"data.cache_dir={tmp_path}"])
    data = ScatteredData.open(cfg, CacheReader(generate_dataset(cfg, progress=False).path))
    phys = TrajectoryPhysics(cfg, build_physics(cfg.physics, cfg.data.ic), data)
    grid = phys.trajectory().detach()
    points = torch.rand(5, 2) * 2 - 1
    zeros = torch.zeros(5, dtype=torch.long)
    first = phys.at(grid, points, zeros, zeros, slice(0, 1))
    reader = phys.reader(grid.reshape(-1, *grid.shape[2:]), points, zeros)
    assert phys.reader(grid.reshape(-1, *grid.shape[2:]), points, zeros.clone()) is reader  # same points: reused
    assert phys.reader(grid.reshape(-1, *grid.shape[2:]), points.clone(), zeros) is not reader  # another tensor
    points.add_(0.5)  # moved in place: read anew
    assert not torch.equal(phys.at(grid, points, zeros, zeros, slice(0, 1)), first)
    assert phys.reader(grid.reshape(-1, *grid.shape[2:]), points, zeros) is not reader
    # the reference grid is scored through one reader, epoch after epoch
    assert phys.reconstruction_error(grid) == phys.reconstruction_error(grid)
    assert len({id(r[-1]) for r in phys._readers}) == len(phys._readers) <= 8


@pytest.mark.parametrize("arm", ["physical_only", "cooperative"])
def test_epochs_with_the_cached_factorisation_are_the_epochs_without_it_bit_for_bit(arm, tmp_path):
    from hyco.arms import build_trainer
    from hyco.data.training_data import TrainingData

    exchange = ["trainer.hyco.warmstart_threshold=0"] if arm == "cooperative" else []  # every epoch solves
    cfg = compose_config([*tiny_static(arm), f"data.cache_dir={tmp_path}", *exchange])
    runs = []
    for cached in (True, False):
        data = TrainingData.open(cfg, CacheReader(generate_dataset(cfg, progress=False).path))
        trainer = build_trainer(cfg, data, None)
        if not cached:
            trainer.physical.model.factors = None
        metrics = [trainer.run_epoch(epoch) for epoch in range(4)]
        runs.append((metrics, {n: z.detach().clone() for n, z in trainer.physical.z.items()}))
        if cached:
            assert trainer.physical.model.factors.hits >= 3  # every epoch after the first reused the score's
    (cached_metrics, cached_z), (plain_metrics, plain_z) = runs
    for a, b in zip(cached_metrics, plain_metrics):
        assert {k: v for k, v in a.items() if not k.startswith("time/")} == \
            {k: v for k, v in b.items() if not k.startswith("time/")}
    assert all(torch.equal(cached_z[n], plain_z[n]) for n in cached_z)
