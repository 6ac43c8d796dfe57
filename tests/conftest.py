"""Shared pytest setup and fixtures: tiny configs whose tracking and data cache live in tmp dirs."""

import os
import shutil
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import pytest
import torch
from omegaconf import DictConfig
from training_helpers import TINY_SYNTHETIC, compose_cfg, tracking_overrides

from hyco.compose import bootstrap
from hyco.config import TrackingConfig

# One thread per test process: two stall erratically on the 2-core machines.
torch.set_num_threads(1)
# The schema with every arm's and network's node, for tests that compose with Hydra directly.
bootstrap()
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


# --- MLflow tracking (any test that records runs) ----------------------------------------------
@pytest.fixture(scope="session")
def mlflow_db_template(tmp_path_factory):
    """Path of ONE migrated MLflow SQLite database per session (migrations cost seconds).

    Do not write to it: copy it (``mlflow_tracking_cfg`` does) for a fresh database per test.
    """
    from hyco.tracking import ensure_backend

    path = tmp_path_factory.mktemp("mlflow_template") / "mlflow.db"
    ensure_backend(f"sqlite:///{path}")
    return path


@pytest.fixture
def mlflow_tracking_cfg(tmp_path, mlflow_db_template):
    """A ``TrackingConfig`` pointing at a fresh copy of the template DB and artifacts in tmp_path."""
    db = tmp_path / "mlruns" / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mlflow_db_template, db)
    return TrackingConfig(tracking_uri=f"sqlite:///{db}", artifact_location=str(tmp_path / "mlruns" / "artifacts"))


# --- tiny configs (trainers, arms, runs, evaluation) -------------------------------------------
@pytest.fixture(scope="session")
def data_cache_dir(tmp_path_factory) -> Path:
    """One data cache per session (entries are keyed by their config, so tests share them)."""
    return tmp_path_factory.mktemp("data_cache")


@pytest.fixture
def make_overrides(mlflow_tracking_cfg, data_cache_dir) -> Callable[..., List[str]]:
    """``make_overrides(*overrides, base=TINY_SYNTHETIC, tracking=None)``: Hydra overrides of a
    tiny config whose tracking is this test's fresh MLflow copy (or ``tracking``) and whose data
    cache is the session's; for :func:`compose_cfg` or the command line."""

    def make(*overrides: str, base: Sequence[str] = TINY_SYNTHETIC,
             tracking: Optional[TrackingConfig] = None) -> List[str]:
        return [*base, f"data.cache_dir='{data_cache_dir}'",
                *tracking_overrides(tracking or mlflow_tracking_cfg), *overrides]

    return make


@pytest.fixture
def make_cfg(make_overrides) -> Callable[..., DictConfig]:
    """``make_cfg(*overrides, base=TINY_SYNTHETIC, tracking=None)``: the composed config."""

    def make(*overrides: str, **kwargs) -> DictConfig:
        return compose_cfg(*make_overrides(*overrides, **kwargs))

    return make


@pytest.fixture
def fresh_tracking(tmp_path, mlflow_db_template) -> Callable[[str], TrackingConfig]:
    """``fresh_tracking(name)``: another independent MLflow DB + artifact root under tmp_path."""
    def make(name: str) -> TrackingConfig:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(mlflow_db_template, root / "mlflow.db")
        return TrackingConfig(tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
                              artifact_location=str(root / "artifacts"))

    return make


