"""Runs shared by several processes and hosts: a sweep's parent run and remote artifact stores.

A sweep's parent run outlives every process that logs to it: the first host creates it, every
host's trials become its children, and whichever process sees the study's budget reached ends it
(:mod:`hyco.sweep.roles`). It is therefore created without owner tags (no single process owns
it, so :func:`hyco.tracking.store.mark_stale_runs_killed` must never end it) and is never a fluent
"active" run.

A run's artifacts are *local* when its artifact URI is a path on this machine (the default SQLite
+ ``mlruns/`` set-up): checkpoints are then written straight into it. Otherwise (an MLflow
tracking server with ``--serve-artifacts``, or any remote store) checkpoints are written to a
local copy and uploaded after each save, and readers download them (:func:`artifact_dir`).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from hyco.tracking.artifacts import artifacts_are_local
from hyco.tracking.backend import (
    Tracking,
    ensure_backend,
    get_client,
    get_or_create_experiment,
)
from hyco.tracking.run_logger import (
    MAX_TAG_VALUE_LENGTH,
    TAG_GIT,
    RunLogger,
    git_commit,
    to_str,
)
from hyco.tracking.store import MlflowRunLogger, flatten_config

__all__ = ["artifacts_are_local", "create_shared_run", "end_shared_run", "reopen_shared_run", "run_logger",
           "run_status"]


def run_logger(run_id: str, tracking: Tracking = None) -> RunLogger:
    """A logger for an existing run, from any process (explicit run id; the run is not resumed)."""
    return MlflowRunLogger(get_client(tracking), run_id)


def create_shared_run(tracking: Tracking, experiment_name: str, run_name: str, tags: Mapping[str, Any],
                      params: Mapping[str, Any]) -> str:
    """Create a RUNNING run that no process owns (no ``hyco.pid``/``hyco.host`` tags); its id."""
    backend = ensure_backend(tracking)
    client = get_client(backend)
    exp_id = get_or_create_experiment(experiment_name, backend)
    all_tags = {k: to_str(v)[:MAX_TAG_VALUE_LENGTH] for k, v in tags.items()}
    all_tags[TAG_GIT] = git_commit()
    run = client.create_run(exp_id, run_name=run_name, tags=all_tags)
    MlflowRunLogger(client, run.info.run_id).log_params(flatten_config(params))
    return run.info.run_id


def run_status(run_id: str, tracking: Tracking = None) -> str:
    """RUNNING, FINISHED, FAILED or KILLED."""
    return get_client(tracking).get_run(run_id).info.status


def end_shared_run(run_id: str, status: str, tracking: Tracking = None, reason: Optional[str] = None) -> None:
    """End a run from any process (e.g. the child run of a trial whose worker died elsewhere)."""
    client = get_client(tracking)
    if reason:
        client.set_tag(run_id, "hyco.stopped", reason[:MAX_TAG_VALUE_LENGTH])
    client.set_terminated(run_id, status)


def reopen_shared_run(run_id: str, tracking: Tracking = None) -> None:
    """Mark an ended shared run RUNNING again (a sweep resumed after an interruption)."""
    get_client(tracking).update_run(run_id, status="RUNNING")
