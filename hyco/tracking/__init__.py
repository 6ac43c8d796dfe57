"""Experiment tracking: the one package that talks to MLflow (``store``) and the logger interface
trainers write to (``run_logger``: an in-memory recorder for tests, the MLflow logger for runs)."""

from hyco.tracking.run_logger import *  # noqa: F401,F403
from hyco.tracking.inputs import MODEL_NAME, load_torch_model, model_uri  # noqa: F401
from hyco.tracking.run_logger import DatasetRef, RunStopped, MemoryRunLogger, owner_is_alive, owner_tags  # noqa: F401
from hyco.tracking.store import *  # noqa: F401,F403
from hyco.tracking.store import (  # noqa: F401
    Backend, MlflowRunLogger, RunRecord, artifact_dir, download_artifact, ensure_backend, find_run_by_tag,
    flatten_config, get_client, get_metric_history, get_or_create_experiment, get_run, latest_run,
    mark_stale_runs_killed, resolve_backend, search_runs, tracked_run,
)
from hyco.tracking.run_logger import host_name  # noqa: F401
from hyco.tracking.shared import (  # noqa: F401
    artifacts_are_local, create_shared_run, end_shared_run, run_logger, run_status,
)
