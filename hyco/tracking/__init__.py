"""Experiment tracking: the one package that talks to MLflow (``store``, ``backend``, ``shared``,
``artifacts``, ``inputs``) and the logger interface trainers write to (``run_logger``: an
in-memory recorder for tests, the MLflow logger for runs)."""

from hyco.tracking.backend import probe_tracking
from hyco.tracking.inputs import MODEL_NAME, load_torch_model, model_uri
from hyco.tracking.registry import (
    alias_version,
    column,
    model_page,
    register_network,
    registered_name,
    registered_uri,
    save_runs_view,
)
from hyco.tracking.run_logger import (
    DatasetRef,
    MemoryRunLogger,
    RunLogger,
    flatten_config,
    git_commit,
    host_name,
    owner_is_alive,
    owner_tags,
)
from hyco.tracking.shared import (
    artifacts_are_local,
    create_shared_run,
    end_shared_run,
    reopen_shared_run,
    run_logger,
    run_status,
)
from hyco.tracking.store import (
    Backend,
    MlflowRunLogger,
    RunRecord,
    artifact_dir,
    download_artifact,
    ensure_backend,
    find_run_by_tag,
    get_client,
    get_metric_history,
    get_or_create_experiment,
    get_run,
    latest_run,
    local_artifact_path,
    mark_stale_runs_killed,
    resolve_backend,
    search_runs,
    tracked_run,
    writable_artifact_dir,
)

__all__ = [
    "MODEL_NAME", "Backend", "alias_version", "column", "model_page", "register_network", "registered_name",
    "registered_uri", "save_runs_view", "DatasetRef", "MemoryRunLogger", "MlflowRunLogger", "RunLogger", "RunRecord",
    "artifact_dir", "artifacts_are_local", "create_shared_run", "download_artifact", "end_shared_run",
    "ensure_backend", "find_run_by_tag", "flatten_config", "get_client", "get_metric_history",
    "get_or_create_experiment", "get_run", "git_commit", "host_name", "latest_run", "load_torch_model",
    "local_artifact_path", "mark_stale_runs_killed", "model_uri", "owner_is_alive", "owner_tags", "probe_tracking",
    "reopen_shared_run",
    "resolve_backend", "run_logger", "run_status", "search_runs", "tracked_run", "writable_artifact_dir",
]
