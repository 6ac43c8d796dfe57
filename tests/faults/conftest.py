"""Fixtures of the fault suite: a sweep's whole state (Optuna DB, MLflow DB copied from the session's
migrated template, artifacts, data cache) in one temporary folder per test."""

from __future__ import annotations

import shutil

import pytest
from sweep_helpers import SweepPaths


@pytest.fixture
def fault_sweep(tmp_path, mlflow_db_template) -> SweepPaths:
    root = tmp_path / "sweep"
    root.mkdir()
    shutil.copyfile(mlflow_db_template, root / "mlflow.db")
    return SweepPaths(root=root, optuna_db=root / "optuna.db", mlflow_db=root / "mlflow.db",
                      artifacts=root / "artifacts", cache=root / "cache")
