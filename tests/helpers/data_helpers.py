"""Tiny data configs for the data tests (a uniquely named module: every test folder has a conftest)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from hyco.compose import compose_config

# 1D, 16 cells, 5 frames, 2+1+1 simulations: a few hundred ms to generate
TINY_1D = [
    "experiment=burgers_1d_quick",
    "physics.resolution=[16]",
    "data.num_train=2",
    "data.num_val=1",
    "data.num_test=1",
    "data.num_frames=5",
    "data.generation_batch=2",
    "trainer.rollout_steps=1",
]
TINY_2D = [
    "experiment=burgers_2d_quick",
    "physics.resolution=[8,8]",
    "data.num_train=2",
    "data.num_val=1",
    "data.num_test=1",
    "data.num_frames=4",
    "data.generation_batch=2",
    "trainer.rollout_steps=1",
]


def compose_data_cfg(cache_dir: Path | str, *overrides: str, dim: int = 1) -> DictConfig:
    """A full HYCO config for a tiny problem whose cache lives in ``cache_dir`` (absolute)."""
    base = TINY_1D if dim == 1 else TINY_2D
    return compose_config([*base, f"data.cache_dir='{Path(cache_dir).resolve()}'", *overrides], check=False)
