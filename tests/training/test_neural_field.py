"""The neural field player: one pass over the observed points per epoch, the interaction at ghost
points (all of them, or a batch per step), and L-BFGS post-training on the full batch."""

from __future__ import annotations

import pytest
import torch
from recon_helpers import TINY_RECON

from hyco.compose import compose_config
from hyco.data.cache import CacheReader
from hyco.data.generate import generate_dataset
from hyco.data.scattered import ScatteredData
from hyco.physics.registry import build_physics
from hyco.training.networks import build_model_network
from hyco.training.neural_field import NeuralFieldTrainer


def _trainer(tmp_path, *overrides):
    cfg = compose_config([*TINY_RECON, f"data.cache_dir={tmp_path}", *overrides])
    data = ScatteredData.open(cfg, CacheReader(generate_dataset(cfg, progress=False).path))
    network, spec = build_model_network(cfg, build_physics(cfg.physics, cfg.data.ic))
    return NeuralFieldTrainer(cfg, network, network_spec=spec, data=data), data


def test_an_epoch_is_one_pass_and_the_ghost_term_uses_all_or_a_batch_of_points(tmp_path):
    trainer, data = _trainer(tmp_path, "trainer.batch_size=16")
    points = data.observed["u"].points
    assert points.shape[1] == 3 and len(points) == 10 * 6  # 10 sensors at 6 frames, t = 0 included
    seen = []
    forward = trainer.model.forward

    def spy(x):
        seen.append(len(x))
        return forward(x)

    trainer.model.forward = spy
    ghosts = (torch.rand(30, 3), torch.zeros(30, 1))
    trainer.train_epoch(data, ghosts, lambda_data=1.0, lambda_int=1.0)
    assert trainer.step == 4 and seen == [16, 30, 16, 30, 16, 30, 12, 30]  # ceil(60 / 16) steps, every ghost
    seen.clear()
    trainer.train_epoch(data, ghosts, lambda_data=1.0, lambda_int=1.0, ghost_batch=8)
    assert seen == [16, 8, 16, 8, 16, 8, 12, 8]
    assert trainer.terms["interaction"] > 0


def test_the_field_fits_its_points_and_lbfgs_polishes_the_fit(tmp_path):
    trainer, data = _trainer(tmp_path, "trainer.batch_size=60", "trainer.lr=0.01", "trainer.scheduler=none")
    start = trainer.validation_loss(data)
    for _ in range(60):
        trainer.train_epoch(data)
        trainer.end_epoch()
    adam = trainer.validation_loss(data)
    polished = trainer.lbfgs(data, steps=3)
    assert adam < 0.5 * start and polished < adam
    # queryable anywhere, in chunks, without gradients
    assert trainer.predict(torch.rand(70000, 3)).shape == (70000, 1)
    with pytest.raises(ValueError, match="needs the data"):
        NeuralFieldTrainer(trainer.cfg, trainer.model).train()
