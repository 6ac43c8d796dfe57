"""Fixtures of the sweep tests: per-test Optuna/MLflow state in tmp_path, one data cache per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sweep_helpers import SweepPaths


@pytest.fixture(scope="session")
def sweep_data_cache(tmp_path_factory) -> Path:
    """One data cache per session (entries are keyed by their config, so the sweeps share them)."""
    return tmp_path_factory.mktemp("sweep_data_cache")


@pytest.fixture
def sweep_paths(tmp_path, mlflow_db_template, sweep_data_cache) -> SweepPaths:
    """A fresh Optuna DB location, a copy of the migrated MLflow DB and an artifact root, all
    under ``tmp_path``; the session's data cache."""
    root = tmp_path / "sweep"
    root.mkdir()
    mlflow_db = root / "mlflow.db"
    shutil.copyfile(mlflow_db_template, mlflow_db)
    return SweepPaths(root=root, optuna_db=root / "optuna.db", mlflow_db=mlflow_db, artifacts=root / "artifacts",
                      cache=sweep_data_cache)
