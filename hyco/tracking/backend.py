"""The MLflow backend: where runs live, its set-up, a client for it, and experiments by name.

SQLite at ``<root>/mlruns/mlflow.db`` and artifacts under ``<root>/mlruns/artifacts`` (root from
:func:`hyco.core.paths.project_root`, never the cwd); ``TrackingConfig.tracking_uri`` /
``artifact_location`` override both (any SQLAlchemy URL or an MLflow server URL).
:func:`ensure_backend` creates/migrates the database under a file lock, once per process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Optional, Tuple, Union
from urllib.parse import urlparse

# Before mlflow is ever imported (it reads these at import time).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
# With a tracking server MLflow prints "View run ... at: <url>" for every run it ends: the sweep's
# console has one display (the URLs are in its summary), so these lines stay out.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

from hyco.core.paths import mlruns_dir, resolve_path

if TYPE_CHECKING:  # pragma: no cover
    from mlflow.tracking import MlflowClient

    from hyco.config.schema import TrackingConfig

__all__ = ["Backend", "Tracking", "ensure_backend", "get_client", "get_or_create_experiment", "probe_tracking",
           "resolve_backend"]

log = logging.getLogger(__name__)

Tracking = Union["TrackingConfig", "Backend", str, None]


@dataclass(frozen=True)
class Backend:
    """A resolved tracking URI and artifact root URI."""

    uri: str
    artifact_root: str


def _mlflow():
    import mlflow  # the only import of mlflow in the project

    _route_mlflow_logging()
    return mlflow


_ROUTED = False


def _route_mlflow_logging() -> None:
    """MLflow writes through its own stderr handler (it logs a caught database error with its
    traceback); once the console has the platform's handler, MLflow's records go through it, so
    the console shows their message and ``-v`` (or a run's log file) their traceback."""
    global _ROUTED
    if _ROUTED or not logging.getLogger().handlers:
        return
    mlflow_logger = logging.getLogger("mlflow")
    for handler in list(mlflow_logger.handlers):
        mlflow_logger.removeHandler(handler)
    mlflow_logger.propagate = True
    _ROUTED = True


def _sqlite_path(uri: str) -> Optional[Path]:
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def resolve_backend(tracking: Tracking = None) -> Backend:
    """Absolute tracking URI and artifact root from a ``TrackingConfig``, a URI string or None.

    Empty/None: ``sqlite:///<root>/mlruns/mlflow.db`` and ``file://<root>/mlruns/artifacts``.
    A relative SQLite path or a scheme-less path is taken from the project root.
    """
    if isinstance(tracking, Backend):
        return tracking
    uri = tracking if isinstance(tracking, str) else getattr(tracking, "tracking_uri", "") or ""
    art = "" if isinstance(tracking, str) else getattr(tracking, "artifact_location", "") or ""
    if not uri:
        uri = f"sqlite:///{mlruns_dir() / 'mlflow.db'}"
    elif "://" not in uri:
        uri = f"sqlite:///{resolve_path(uri)}"
    elif uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        rel, _, query = uri[len("sqlite:///"):].partition("?")
        if rel and rel != ":memory:":
            uri = f"sqlite:///{resolve_path(rel)}" + (f"?{query}" if query else "")
    if not art and _is_server(uri):
        return Backend(uri=uri, artifact_root="")  # the server's own artifact store (--serve-artifacts)
    if not art:
        art = (mlruns_dir() / "artifacts").as_uri()
    elif "://" not in art and not art.startswith("file:"):
        art = resolve_path(art).as_uri()
    return Backend(uri=uri, artifact_root=art.rstrip("/"))


def _is_server(uri: str) -> bool:
    """A tracking server URI (http/https): it owns its database and its artifact store."""
    return urlparse(uri).scheme in ("http", "https")


_ENSURED: set = set()
_ENSURE_LOCK = threading.Lock()
_PROBED: set = set()


def probe_tracking(tracking: Tracking = None) -> Backend:
    """Check, in a few seconds and before anything is created, that the tracking store can be
    written: the database (or server) of ``tracking.tracking_uri`` and a local artifact folder.

    Raises
    ------
    hyco.errors.StoreError
        naming the URI or file (:func:`hyco.core.stores.probe_url`). Once per process and URI.
    """
    from hyco.core.stores import probe_folder, probe_url

    backend = resolve_backend(tracking)
    if backend.uri in _PROBED:
        return backend
    probe_url(backend.uri, "tracking store (tracking.tracking_uri)")
    if backend.artifact_root.startswith("file:"):
        probe_folder(Path(urlparse(backend.artifact_root).path), "artifact store (tracking.artifact_location)")
    _PROBED.add(backend.uri)
    return backend


def ensure_backend(tracking: Tracking = None) -> Backend:
    """Create or migrate the tracking database, once per process; safe before parallel workers.

    For SQLite the work happens under ``<db>.lock`` (a file lock), so concurrent first calls from
    several processes serialise instead of corrupting the database; later calls return at once.
    """
    backend = resolve_backend(tracking)
    with _ENSURE_LOCK:
        if backend.uri in _ENSURED:
            return backend
        db_path = _sqlite_path(backend.uri)
        if db_path is not None:
            from hyco.core.locks import file_lock

            db_path.parent.mkdir(parents=True, exist_ok=True)
            with file_lock(str(db_path) + ".lock", timeout=600):  # removed again when released
                _initialize_database(backend)
        elif urlparse(backend.uri).scheme.split("+")[0] in ("postgresql", "mysql", "mssql"):
            _initialize_database(backend)  # MLflow serialises this with its own lock
        # http(s)/databricks: the server owns its database
        _ENSURED.add(backend.uri)
    return backend


def _initialize_database(backend: Backend) -> None:
    from mlflow.store.db import utils as db_utils
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    _route_mlflow_logging()

    started = time.perf_counter()
    engine = SqlAlchemyStore._get_or_create_engine(backend.uri)
    # SqlAlchemyStore creates a fresh schema itself but refuses an outdated one: migrate it here
    # (the equivalent of `mlflow db upgrade`), under the caller's lock.
    if db_utils._all_tables_exist(engine):
        if db_utils._get_schema_version(engine) != db_utils._get_latest_schema_revision():
            log.info("migrating MLflow database %s", backend.uri)
            db_utils._upgrade_db(engine)
    # Creates the tables if missing and the Default experiment with *our* artifact root.
    SqlAlchemyStore(backend.uri, backend.artifact_root)
    engine.dispose()  # no pooled connection may leak into forked workers
    log.debug("MLflow backend %s ready in %.2f s", backend.uri, time.perf_counter() - started)


def get_client(tracking: Tracking = None) -> "MlflowClient":
    """An ``MlflowClient`` for the (ensured) backend; for callers that need raw MLflow access.

    Its calls run inside :func:`hyco.core.exits.deferred_signals`: a Ctrl-C or SIGTERM arriving
    during one is raised when it returns, never in the middle of a database transaction."""
    backend = ensure_backend(tracking)
    from mlflow.tracking import MlflowClient

    from hyco.core.exits import defer_calls

    _route_mlflow_logging()
    return defer_calls(MlflowClient(tracking_uri=backend.uri))  # type: ignore[return-value]


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name) or "experiment"


# (tracking server URI, experiment name) -> id, for servers only: a local database is cheap to
# ask, and there an experiment deleted and restored within one process must be looked up again.
_EXPERIMENT_IDS: Dict[Tuple[str, str], str] = {}


def get_or_create_experiment(name: str, tracking: Tracking = None) -> str:
    """Experiment id for ``name``, created with artifacts under ``<artifact root>/<name>``."""
    from mlflow.exceptions import MlflowException

    backend = ensure_backend(tracking)
    cached = _EXPERIMENT_IDS.get((backend.uri, name))
    if cached is not None:
        return cached
    client = get_client(backend)
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            # an empty root (tracking server): the server picks the location every host can reach
            location = f"{backend.artifact_root}/{_safe_name(name)}" if backend.artifact_root else None
            return client.create_experiment(name, artifact_location=location)
        except MlflowException:  # a parallel worker created it first
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    if exp.lifecycle_stage == "deleted":
        log.warning("restoring deleted MLflow experiment '%s'", name)
        client.restore_experiment(exp.experiment_id)
    if _is_server(backend.uri):  # every look-up is an HTTP round trip, once per trial otherwise
        _EXPERIMENT_IDS[(backend.uri, name)] = exp.experiment_id
    return exp.experiment_id
