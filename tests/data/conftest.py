"""Shared helpers of the data tests: tiny configs composed with Hydra, cache under tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from data_helpers import TINY_1D, TINY_2D, compose_data_cfg  # noqa: F401
from omegaconf import DictConfig


@pytest.fixture
def data_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """``data_cfg(*overrides, dim=1)``: a tiny config with its cache under ``tmp_path/cache``."""

    def make(*overrides: str, dim: int = 1) -> DictConfig:
        return compose_data_cfg(tmp_path / "cache", *overrides, dim=dim)

    return make
