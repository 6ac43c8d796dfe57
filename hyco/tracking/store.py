"""Run lifecycle, loggers, and run look-ups: with :mod:`~hyco.tracking.backend` and
:mod:`~hyco.tracking.artifacts`, the one place that talks to MLflow.

* Runs: :func:`tracked_run` yields a :class:`RunLogger`; the run ends FINISHED, FAILED (exception)
  or KILLED (KeyboardInterrupt). Logging goes through ``MlflowClient`` with an explicit run id,
  batched with ``log_batch``. Owner pid/host/start time are tags, so :func:`mark_stale_runs_killed`
  can tell a crashed run from a live parallel worker.
* Everything else sees plain Python (:class:`RunRecord`, ``[(step, value)]``), never mlflow types.

``mlflow`` is imported lazily (it costs ~1.5 s): code that only needs :class:`MemoryRunLogger`
or the :class:`RunLogger` interface does not pay for it.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Tuple,
    Union,
)

from hyco.core.exits import deferred_signals
from hyco.core.stores import redact
from hyco.errors import NotFoundError, RunStopped
from hyco.tracking.artifacts import (
    _ARTIFACT_URIS,
    _MIRRORS,
    artifact_dir,
    download_artifact,
    local_artifact_path,
    writable_artifact_dir,
)
from hyco.tracking.backend import (
    _EXPERIMENT_IDS,
    Backend,
    Tracking,
    _is_server,
    _mlflow,
    ensure_backend,
    get_client,
    get_or_create_experiment,
    resolve_backend,
)
from hyco.tracking.run_logger import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
    MAX_TAG_VALUE_LENGTH,
    TAG_ERROR,
    TAG_GIT,
    TAG_HOST,
    TAG_PID,
    DatasetRef,
    MemoryRunLogger,
    RunLogger,
    figure_name,
    flatten_config,
    git_commit,
    host_name,
    owner_is_alive,
    owner_tags,
    to_float,
    to_str,
)

if TYPE_CHECKING:  # pragma: no cover
    from mlflow.tracking import MlflowClient

    from hyco.config.schema import TrackingConfig

__all__ = [
    "Backend", "MlflowRunLogger", "RunRecord", "artifact_dir", "download_artifact", "ensure_backend",
    "find_run_by_tag", "get_client", "get_metric_history", "get_or_create_experiment", "get_run", "latest_run",
    "local_artifact_path", "mark_stale_runs_killed", "resolve_backend", "search_runs", "tracked_run",
    "writable_artifact_dir",
]

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------
# logging and run lifecycle
# ------------------------------------------------------------------------------------------------
class MlflowRunLogger(RunLogger):
    """Logs to one MLflow run through ``MlflowClient`` with the explicit run id (no global state)."""

    def __init__(self, client: "MlflowClient", run_id: str) -> None:
        self._client, self._run_id = client, run_id

    @property
    def run_id(self) -> str:
        return self._run_id

    def _log_batch(self, kind: str, items: list, size: int) -> None:
        chunks = [items[i : i + size] for i in range(0, len(items), size)]  # MLflow caps a call's entries
        if len(chunks) > 1 and _is_server(str(self._client.tracking_uri)):
            # a run's ~200 params are three HTTP round trips: sent together, not one after another
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(4, len(chunks))) as pool:
                for future in [pool.submit(self._client.log_batch, self._run_id, **{kind: c}) for c in chunks]:
                    future.result()
            return
        for chunk in chunks:
            self._client.log_batch(self._run_id, **{kind: chunk})

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in flatten_config(params).items()]
        self._log_batch("params", items, MAX_PARAMS_TAGS_PER_BATCH)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, to_float(k, v), now, int(step)) for k, v in metrics.items()]
        self._log_batch("metrics", items, MAX_METRICS_PER_BATCH)

    def log_history(self, points) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, to_float(k, v), now, int(step)) for k, v, step in points]
        self._log_batch("metrics", items, MAX_METRICS_PER_BATCH)

    def log_artifact(self, path: Union[str, os.PathLike], artifact_path: Optional[str] = None) -> None:
        if Path(path).is_dir():
            self._client.log_artifacts(self._run_id, str(path), artifact_path)
        else:
            self._client.log_artifact(self._run_id, str(path), artifact_path)

    def log_figure(self, fig: Any, name: str) -> None:
        self._client.log_figure(self._run_id, fig, figure_name(name))

    def log_text(self, text: str, artifact_file: str) -> None:
        mirror = _MIRRORS.get((str(self._client.tracking_uri), self._run_id))
        if mirror is None:
            self._client.log_text(self._run_id, text, artifact_file)
            return
        path = mirror / artifact_file  # a run this process writes keeps a copy: no download later
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        folder = str(Path(artifact_file).parent)
        self._client.log_artifact(self._run_id, str(path), None if folder == "." else folder)

    def last_step(self, key: str) -> Optional[int]:
        steps = [m.step for m in self._client.get_metric_history(self._run_id, key)]
        return max(steps) if steps else None

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, to_str(v)[:MAX_TAG_VALUE_LENGTH]) for k, v in tags.items()]
        self._log_batch("tags", items, MAX_PARAMS_TAGS_PER_BATCH)

    def log_dataset(self, dataset: "DatasetRef") -> None:
        from hyco.tracking.inputs import log_dataset_input

        log_dataset_input(self._client, self._run_id, dataset)

    def log_model(self, model: Any, input_example: Any) -> str:
        from hyco.tracking.inputs import log_torch_model, model_uri

        with deferred_signals():  # MLflow's own calls: a stop waits until the model is complete
            log_torch_model(self._run_id, model, input_example)
        return model_uri(self._run_id)


def mark_stale_runs_killed(experiment_name: Optional[str] = None, tracking: Tracking = None) -> List[str]:
    """Mark RUNNING runs whose owner process on this host is gone as KILLED; return their ids.

    Only runs tagged with ``hyco.host`` == this host and a ``hyco.pid`` that no longer exists (or
    now belongs to a younger process) are touched, so live parallel workers and runs on other
    machines are left alone. ``experiment_name=None`` checks every experiment.
    """
    client = get_client(tracking)
    if experiment_name is None:
        exp_ids = [e.experiment_id for e in client.search_experiments()]
    elif (str(client.tracking_uri), experiment_name) in _EXPERIMENT_IDS:
        exp_ids = [_EXPERIMENT_IDS[(str(client.tracking_uri), experiment_name)]]
    else:
        exp = client.get_experiment_by_name(experiment_name)
        exp_ids = [] if exp is None else [exp.experiment_id]
    if not exp_ids:
        return []
    host = host_name().replace("'", "")
    filter_string = f"attributes.status = 'RUNNING' and tags.`{TAG_HOST}` = '{host}'"
    killed = []
    for run in _iter_runs(client, exp_ids, filter_string):
        if not owner_is_alive(run.data.tags):
            client.set_terminated(run.info.run_id, "KILLED")
            killed.append(run.info.run_id)
            log.warning("marked run %s (pid %s, dead) as KILLED", run.info.run_id, run.data.tags.get(TAG_PID))
    return killed


def _end_run(client: "MlflowClient", run_id: str, status: str) -> None:
    mlflow = _mlflow()
    open_ids = [r.info.run_id for r in _active_stack()]
    if run_id not in open_ids:
        client.set_terminated(run_id, status)  # ended elsewhere already: just fix its status
        return
    while (active := mlflow.active_run()) is not None and active.info.run_id != run_id:
        log.warning("ending run %s, left open inside run %s", active.info.run_id, run_id)
        mlflow.end_run("KILLED")
    mlflow.end_run(status)


def _active_stack() -> list:
    """This thread's open fluent runs, innermost last (MLflow keeps them thread-local)."""
    try:
        from mlflow.tracking import fluent

        return list(fluent._active_run_stack.get())
    except (ImportError, AttributeError):  # private API moved: fall back to the innermost run
        active = _mlflow().active_run()
        return [] if active is None else [active]


_STALE_CHECKED: set = set()


@contextmanager
def tracked_run(
    cfg_tracking: Optional["TrackingConfig"],
    experiment_name: str,
    run_name: Optional[str] = None,
    tags: Optional[Mapping[str, Any]] = None,
    params: Optional[Mapping[str, Any]] = None,
    resume_run_id: Optional[str] = None,
    parent_run_id: Optional[str] = None,
    nested: bool = False,
) -> Iterator[RunLogger]:
    """Start (or resume) an MLflow run and yield its :class:`RunLogger`.

    Parameters
    ----------
    cfg_tracking
        ``TrackingConfig`` (None: defaults); ``enabled=False`` yields a :class:`MemoryRunLogger`
        (nothing is written). A non-empty ``cfg_tracking.experiment_name`` overrides
        ``experiment_name``; ``cfg_tracking.run_name`` is used when ``run_name`` is not given.
    experiment_name
        The experiment preset's name; one MLflow experiment per name.
    tags, params
        Set at start; nested params are flattened. On resume only new param keys are logged
        (MLflow params are immutable; a changed value is reported in a warning).
    resume_run_id
        Continue this run (``mlflow.start_run(run_id=...)``: status back to RUNNING).
    parent_run_id, nested
        Child run of ``parent_run_id`` (may live in another process), or of this thread's
        active run with ``nested=True``.

    The run ends FINISHED on success, FAILED on an exception, KILLED on KeyboardInterrupt;
    exceptions are re-raised. A failure's ``type: message`` is stored in tag ``hyco.error``.
    Stale runs of dead processes in the experiment are marked KILLED first.
    """
    exp_name = getattr(cfg_tracking, "experiment_name", "") or experiment_name
    run_name = run_name or getattr(cfg_tracking, "run_name", "") or None
    if cfg_tracking is not None and not getattr(cfg_tracking, "enabled", True):
        memory = MemoryRunLogger(tags={k: to_str(v) for k, v in (tags or {}).items()})
        memory.log_params(params or {})
        try:
            yield memory
        except (KeyboardInterrupt, RunStopped):
            memory.status = "KILLED"
            raise
        except BaseException:
            memory.status = "FAILED"
            raise
        memory.status = "FINISHED"
        return

    mlflow = _mlflow()
    backend = ensure_backend(cfg_tracking)
    mlflow.set_tracking_uri(backend.uri)  # fluent start/end_run use the global URI
    client = get_client(backend)
    exp_id = get_or_create_experiment(exp_name, backend)
    # On a tracking server (an HTTP search per run otherwise) once per process and experiment:
    # the runs of processes that died before this one; a sweep's heartbeats catch later deaths.
    if not (_is_server(backend.uri) and (backend.uri, exp_name) in _STALE_CHECKED):
        try:
            mark_stale_runs_killed(exp_name, backend)
            _STALE_CHECKED.add((backend.uri, exp_name))
        except Exception as exc:  # housekeeping must never stop a run
            log.warning("could not check for stale runs: %s", exc)
    start_tags = {k: to_str(v)[:MAX_TAG_VALUE_LENGTH] for k, v in (tags or {}).items()}
    start_tags.update(owner_tags())
    start_tags[TAG_GIT] = git_commit()
    flat = flatten_config(params or {})
    # A child started in the thread where its parent is the active run must be nested for MLflow.
    nested = nested or (parent_run_id is not None and parent_run_id in [r.info.run_id for r in _active_stack()])
    if resume_run_id:
        previous = client.get_run(resume_run_id).data.params
        changed = sorted(k for k in flat if k in previous and previous[k] != flat[k])
        if changed:
            log.warning("resuming run %s: params changed and kept at their first values: %s", resume_run_id, changed)
        flat = {k: v for k, v in flat.items() if k not in previous}
    logger: Optional[MlflowRunLogger] = None
    status = "FINISHED"
    try:
        with deferred_signals():  # a stop waits until the run exists, and then ends it KILLED below
            if resume_run_id:
                active = mlflow.start_run(run_id=resume_run_id, run_name=run_name, nested=nested, tags=start_tags)
            else:
                active = mlflow.start_run(experiment_id=exp_id, run_name=run_name, nested=nested,
                                          parent_run_id=parent_run_id, tags=start_tags)
            logger = MlflowRunLogger(client, active.info.run_id)
        _ARTIFACT_URIS[(str(client.tracking_uri), active.info.run_id)] = active.info.artifact_uri  # saves a get_run
        logger.log_params(flat)
        yield logger
    except (KeyboardInterrupt, GeneratorExit):
        status = "KILLED"
        raise
    except RunStopped as exc:
        status = "KILLED"
        try:
            logger.set_tags({"hyco.stopped": str(exc)[:MAX_TAG_VALUE_LENGTH]})
        except Exception:
            log.exception("could not record why run %s stopped", logger.run_id)
        raise
    except SystemExit as exc:
        status = "FINISHED" if exc.code in (0, None) else "FAILED"
        raise
    except BaseException as exc:
        status = "FAILED"
        if logger is not None:
            try:
                logger.set_tags({TAG_ERROR: f"{type(exc).__name__}: {exc}"})
            except Exception:  # never mask the original error
                log.exception("could not record the error of run %s", logger.run_id)
        raise
    finally:
        if logger is not None:
            _end_tracked(client, logger.run_id, status)


def _end_tracked(client: "MlflowClient", run_id: str, status: str) -> None:
    """End a tracked run as ``status``; a stopped or failed run is checked and ended again if a
    stop landed inside the store call, so that it never stays RUNNING."""
    try:
        with deferred_signals():
            _end_run(client, run_id, status)
        if status != "FINISHED" and client.get_run(run_id).info.status != status:
            client.set_terminated(run_id, status)
    except Exception:
        try:  # once more with the plain client
            client.set_terminated(run_id, status)
        except Exception:
            log.exception("could not end run %s as %s", run_id, status)


# ------------------------------------------------------------------------------------------------
# look-ups (for evaluation, sweeps, notebooks)
# ------------------------------------------------------------------------------------------------
@dataclass
class RunRecord:
    """A run as plain Python: ids, status, times (ms since epoch), params, latest metrics, tags."""

    run_id: str
    run_name: str
    experiment_id: str
    status: str
    start_time: Optional[int]
    end_time: Optional[int]
    artifact_uri: str
    params: Dict[str, str]
    metrics: Dict[str, float]
    tags: Dict[str, str]


def _record(run: Any) -> RunRecord:
    info, data = run.info, run.data
    return RunRecord(
        info.run_id, info.run_name or "", info.experiment_id, info.status, info.start_time, info.end_time,
        info.artifact_uri, dict(data.params), dict(data.metrics), dict(data.tags),
    )


def _iter_runs(client: "MlflowClient", exp_ids: List[str], filter_string: str = "", order_by=None) -> Iterator[Any]:
    token = None
    while True:
        page = client.search_runs(exp_ids, filter_string, max_results=1000, order_by=order_by, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def search_runs(
    experiment_name: str, filter_string: str = "", order_by: Optional[List[str]] = None, tracking: Tracking = None
) -> List[RunRecord]:
    """Runs of an experiment matching an MLflow filter (e.g. ``"tags.variant = 'mixed'"``), newest first."""
    client = get_client(tracking)
    exp = client.get_experiment_by_name(experiment_name)
    if exp is None:
        return []
    order = order_by or ["attributes.start_time DESC"]
    return [_record(r) for r in _iter_runs(client, [exp.experiment_id], filter_string, order)]


def latest_run(experiment_name: str, filter_string: str = "", tracking: Tracking = None) -> Optional[RunRecord]:
    """The most recently started run matching ``filter_string``, or None."""
    client = get_client(tracking)
    exp = client.get_experiment_by_name(experiment_name)
    if exp is None:
        return None
    runs = client.search_runs([exp.experiment_id], filter_string, max_results=1,
                              order_by=["attributes.start_time DESC"])
    return _record(runs[0]) if runs else None


def find_run_by_tag(experiment_name: str, key: str, value: str, tracking: Tracking = None) -> Optional[RunRecord]:
    """The newest run whose tag ``key`` equals ``value``, or None."""
    escaped = str(value).replace("'", "\\'")
    return latest_run(experiment_name, f"tags.`{key}` = '{escaped}'", tracking)


def get_run(run_id: str, tracking: Tracking = None) -> RunRecord:
    """One run by id; :class:`~hyco.errors.NotFoundError` if the store has no such run."""
    from mlflow.exceptions import MlflowException

    client = get_client(tracking)
    try:
        return _record(client.get_run(run_id))
    except MlflowException as err:
        if "RESOURCE_DOES_NOT_EXIST" not in str(getattr(err, "error_code", "")):
            raise
        raise NotFoundError(f"run {run_id} does not exist in the tracking store {redact(str(client.tracking_uri))}; "
                            "check the run id (mlflow ui lists them) and tracking.tracking_uri") from None


def get_metric_history(run_id: str, key: str, tracking: Tracking = None) -> List[Tuple[int, float]]:
    """``[(step, value)]`` of a metric, ordered by step then logging time."""
    history = get_client(tracking).get_metric_history(run_id, key)
    return [(m.step, m.value) for m in sorted(history, key=lambda m: (m.step, m.timestamp))]
