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


@pytest.fixture(scope="session")
def shared_servers():
    """One real PostgreSQL cluster and one real ``mlflow server`` (PostgreSQL backend, served
    artifacts) on loopback for the session; stopped by process id. Skips, saying what to
    install, where the binaries are absent."""
    import servers

    reason = servers.missing()
    if reason:
        pytest.skip(reason)
    cluster = servers.PostgresCluster.start()
    try:
        server = servers.MlflowServer.start(cluster.create_database("mlflow"), cluster.root)
    except BaseException:
        cluster.stop()
        raise
    yield cluster, server
    server.stop()
    cluster.stop()


@pytest.fixture
def remote_sweep(request, tmp_path, shared_servers, sweep_data_cache):
    """A study on its own PostgreSQL database, runs in its own experiment on the shared server."""
    from remote_helpers import RemoteSweep

    cluster, server = shared_servers
    name = request.node.name.replace("[", "_").replace("]", "").lower()[:40]
    return RemoteSweep(root=tmp_path, storage=cluster.create_database(f"optuna_{name}"), tracking_uri=server.url,
                       experiment=f"exp_{name}", cache=sweep_data_cache, cluster=cluster, server=server)
