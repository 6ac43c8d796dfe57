"""Contract over every registered arm and every registered PDE: each arm trains on each model.

One tiny problem per model (its quick preset, shrunk); every registered variant builds its trainer
through the factory and runs two epochs / rounds (one of them a warm start where the arm has
one) with an in-memory logger. The losses must stay finite, the per-parameter metrics must name
exactly the model's learnable parameters for arms that learn them, and a learned parameter must
have moved from its initial guess. An arm that cannot run on a model (the PINN needs the PDE's
continuous residual) must refuse it at config time, naming the key, through its registered
``check``. A new PDE adds one line to ``TINY``; a new arm needs nothing.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from hyco import metrics as M
from hyco.config import validate
from hyco.errors import ConfigError
from hyco.data.cache import CacheReader
from hyco.data.generate import generate_dataset
from hyco.core.paths import conf_dir
from hyco.physics.registry import available_physics
from hyco.tracking.run_logger import MemoryRunLogger
from hyco.training.context import RunContext
from hyco.training.factory import TrainingData, build_trainer
from hyco.arms.spec import available_variants, get_variant

# each registered model: its quick preset, shrunk to a few milliseconds per step
TINY = {
    "burgers": ["experiment=burgers_1d_quick", "physics.resolution=[16]"],
    "inviscid_burgers": ["experiment=inviscid_burgers_1d_quick", "physics.resolution=[16]"],
    "gray_scott": ["experiment=gray_scott_quick", "physics.resolution=[8,8]", "physics.dt=2.0",
                   "physics.substeps=5"],
    "heat": ["experiment=heat_quick", "physics.resolution=[8,8]"],
    "smoke": ["experiment=smoke_quick", "physics.resolution=[8,8]"],
}
COMMON = [
    "data.num_train=2", "data.num_val=1", "data.num_test=1", "data.num_frames=4", "trainer.rollout_steps=1",
    "trainer.epochs=2", "trainer.hyco.warmstart_epochs=1", "trainer.batch_size=2", "trainer.physical_sims_per_fit=2",
    "trainer.physical_iterations_per_epoch=2", "synthetic.unet.levels=1", "synthetic.unet.filters=4", "torch_threads=1",
    "observation.noise=0.02",
]


def test_every_registered_model_has_a_tiny_problem():
    assert sorted(TINY) == available_physics()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("arm_contract_cache")


@pytest.mark.slow
@pytest.mark.parametrize("physics", sorted(TINY))
@pytest.mark.parametrize("arm", available_variants())
def test_each_arm_trains_on_each_model(arm: str, physics: str, cache_dir: Path, tmp_path: Path):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*TINY[physics], f"trainer={arm}", *COMMON,
                                                       f"data.cache_dir={cache_dir}"])
    spec = get_variant(arm)
    if spec.check is not None:
        from hyco.physics.registry import build_physics

        try:
            spec.check(cfg, build_physics(cfg.physics, cfg.data.ic))
        except ValueError as refusal:  # the arm cannot run on this model: refused before any compute
            with pytest.raises(ConfigError, match="trainer.variant"):
                validate(cfg)
            pytest.skip(f"{arm} refuses {physics}: {refusal}")
    validate(cfg)
    data = TrainingData.open(cfg, CacheReader(generate_dataset(cfg, progress=False).path))
    logger = MemoryRunLogger()
    trainer = build_trainer(cfg, data, RunContext(logger, tmp_path / "ckpt", log_memory=False))
    trainer.train()

    finite = {k: v for k, values in logger.metrics.items() for _, v in values}
    assert finite, "the arm logged no metrics"
    bad = {k: v for k, v in finite.items() if not math.isfinite(v)}
    assert not bad, f"non-finite metrics {bad}"
    learnable = [n for n, s in cfg.physics.params.items() if s.learnable]
    logged = {k for k in logger.metrics if k.startswith("param/") and k.endswith("_rel_error")}
    if spec.learns_params and "physical" in spec.trains:
        assert logged == {M.param_rel_error(n) for n in learnable}
        guesses = {n: float(cfg.physics.params[n].initial_guess) for n in learnable}
        values = {n: logger.metrics[M.param(n)][-1][1] for n in learnable}
        if any(step > 1 for step, _ in logger.metrics[M.param_rel_error(learnable[0])]):
            assert any(not np.isclose(values[n], guesses[n], rtol=1e-6, atol=1e-9) for n in learnable), values
    elif not spec.learns_params:
        assert not logged
