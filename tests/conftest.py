"""Shared pytest setup."""

import torch

# One thread per test process: the machine is shared by several engineers.
torch.set_num_threads(1)


# --- MLflow tracking (tests/test_tracking.py and any test that records runs) -------------------
import os as _os
import shutil as _shutil

import pytest as _pytest

_os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
_os.environ.setdefault("DO_NOT_TRACK", "true")


@_pytest.fixture(scope="session")
def mlflow_db_template(tmp_path_factory):
    """Path of ONE migrated MLflow SQLite database per session (migrations cost seconds).

    Do not write to it: copy it (``mlflow_tracking_cfg`` does) for a fresh database per test.
    """
    from hyco.tracking import ensure_backend

    path = tmp_path_factory.mktemp("mlflow_template") / "mlflow.db"
    ensure_backend(f"sqlite:///{path}")
    return path


@_pytest.fixture
def mlflow_tracking_cfg(tmp_path, mlflow_db_template):
    """A ``TrackingConfig`` pointing at a fresh copy of the template DB and artifacts in tmp_path."""
    from hyco.config import TrackingConfig

    db = tmp_path / "mlruns" / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    _shutil.copyfile(mlflow_db_template, db)
    return TrackingConfig(tracking_uri=f"sqlite:///{db}", artifact_location=str(tmp_path / "mlruns" / "artifacts"))
