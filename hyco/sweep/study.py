"""Study life cycle: storage, creation, budget across restarts, dead workers, parallel workers.

* Storage: SQLite under ``mlruns/`` by default (30 s lock timeout; the 5 s default left trials
  RUNNING when another process held the file), or any SQLAlchemy URL (``sweep.storage``, e.g.
  PostgreSQL for several machines). The study is created once by the launching process, before
  any worker starts; workers only load it.
* Budget: ``sweep.n_trials`` counts trials that *ended* (COMPLETE, PRUNED or FAIL) across
  restarts, except trials failed because their worker died: those are retried
  (``RetryHeartbeatStaleTrialCallback``). Rerunning the same command resumes the study.
* Dead workers: a worker's heartbeat marks its trials; trials of a dead worker are failed once
  their heartbeat is stale (other machines), or at once when the owning process on this host no
  longer exists (a ``kill -9`` followed by a rerun).
* Sampler: TPE seeded from ``sweep.sampler_seed`` and a slot each worker process claims in the
  study under its lock (0, 1, 2, ... in the order they join), so that no two workers -- on one host
  or on several -- and no resumed study replay each other's suggestions, and the same command on a
  fresh study samples the same configurations every time.
* Several hosts: :mod:`hyco.sweep.roles` (exact budget, one parent run, summary once).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import os
import warnings
from typing import Callable, Iterable, List, Optional

import numpy as np
import optuna
from omegaconf import DictConfig
from optuna.exceptions import ExperimentalWarning
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from hyco.core.exits import deferred_signals
from hyco.core.paths import mlruns_dir
from hyco.sweep.locks import url_lock
from hyco.sweep.space import ArmBalancedSampler
from hyco.tracking.run_logger import host_name, owner_is_alive

log = logging.getLogger(__name__)

OWNER_PID, OWNER_HOST, OWNER_START = "hyco_pid", "hyco_host", "hyco_pid_start"
ENDED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
INTERRUPTED_ATTR = "interrupted"  # user attribute of a trial stopped by SIGINT/SIGTERM (and queued again)


def storage_url(sweep: DictConfig) -> str:
    if sweep.storage:
        return str(sweep.storage)
    mlruns_dir().mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{mlruns_dir() / 'optuna.db'}"


def study_names(url: str) -> List[str]:
    """The studies in the storage at ``url``, read without creating anything (no file, no table)."""
    from sqlalchemy import create_engine, inspect, text

    from hyco.core.stores import sqlite_file

    path = sqlite_file(url)
    if path is not None and not path.is_file():
        return []
    engine = create_engine(url)
    try:
        if not inspect(engine).has_table("studies"):
            return []
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT study_name FROM studies ORDER BY study_id"))]
    finally:
        engine.dispose()


def requeue_interrupted(study: optuna.Study, trial: FrozenTrial, reason: str) -> None:
    """Queue a trial stopped by SIGINT/SIGTERM to run again with the same parameters.

    The retry carries the stopped trial in its ``retry_history`` (as Optuna's heartbeat retry does),
    so :func:`remaining_budget` does not count the stopped trial: an interruption costs no budget
    and loses no trial, however often it happens (``sweep.max_retry`` limits retries of trials
    whose worker *died*, not of trials stopped on purpose)."""
    study._storage.set_trial_user_attr(trial._trial_id, INTERRUPTED_ATTR, reason)
    system_attrs = {"failed_trial": trial.number, **trial.system_attrs}
    system_attrs["retry_history"] = [*trial.system_attrs.get("retry_history", []), trial.number]
    retry = optuna.create_trial(state=TrialState.WAITING, params=trial.params, distributions=trial.distributions,
                                user_attrs={k: v for k, v in trial.user_attrs.items() if k != INTERRUPTED_ATTR},
                                system_attrs=system_attrs)
    study.add_trial(retry)


def stop_own_trials(study: optuna.Study, reason: str) -> List[int]:
    """Trials still RUNNING that this process (or a worker of it that is gone) owns, after an
    interruption: failed and queued again (:func:`requeue_interrupted`); their numbers."""
    stopped = []
    storage = study._storage
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.system_attrs
        if attrs.get(OWNER_HOST) != host_name() or OWNER_PID not in attrs:
            continue
        tags = {"hyco.pid": attrs[OWNER_PID], "hyco.host": attrs[OWNER_HOST],
                "hyco.pid_start": attrs.get(OWNER_START, "")}
        if str(attrs[OWNER_PID]) != str(os.getpid()) and owner_is_alive(tags):
            continue
        if storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
            requeue_interrupted(study, storage.get_trial(trial._trial_id), reason)
            stopped.append(trial.number)
    return stopped


def retry_callback(sweep: DictConfig) -> RetryHeartbeatStaleTrialCallback:
    """Re-queues a trial whose worker died (same params), at most ``sweep.max_retry`` times."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback(max_retry=int(sweep.max_retry))


def make_storage(sweep: DictConfig, stale_hook: Optional[Callable[[FrozenTrial], None]] = None) -> RDBStorage:
    """The study's storage; ``stale_hook(trial)`` also runs for each trial failed by the heartbeat
    (the sweep ends the trial's MLflow run there, since its worker cannot)."""
    url = storage_url(sweep)
    engine_kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    # Optuna creates its tables on first use without a lock: two hosts starting at once on a fresh
    # database collide (a UniqueViolation on PostgreSQL's catalog), so creation is serialised.
    with url_lock(url, "hyco-optuna-schema"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)  # heartbeats are "experimental", and needed
        return DeferringRDBStorage(url, engine_kwargs=engine_kwargs,
                                   heartbeat_interval=int(sweep.heartbeat_interval),
                                   grace_period=int(sweep.grace_period),
                                   heartbeat_stale_trial_callback=_StaleTrialCallback(retry_callback(sweep),
                                                                                      stale_hook))


def _deferring(method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with deferred_signals():
            return method(self, *args, **kwargs)

    return call


class DeferringRDBStorage(RDBStorage):
    """Optuna's RDB storage whose calls a Ctrl-C or SIGTERM never cuts in half: a stop that arrives
    during one is raised when it returns (:func:`hyco.core.exits.deferred_signals`)."""


for _name, _method in inspect.getmembers(RDBStorage, inspect.isfunction):
    if not _name.startswith("_"):
        setattr(DeferringRDBStorage, _name, _deferring(_method))


class _StaleTrialCallback:
    """Retry the trial (same params), then run the sweep's own clean-up for it."""

    def __init__(self, retry: RetryHeartbeatStaleTrialCallback,
                 hook: Optional[Callable[[FrozenTrial], None]]) -> None:
        self.retry, self.hook = retry, hook

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.retry(study, trial)
        if self.hook is not None:
            try:
                self.hook(trial)
            except Exception as err:  # clean-up must never stop the surviving workers
                log.warning("could not clean up after stale trial %d: %s", trial.number, err)


def directions(sweep: DictConfig) -> List[str]:
    return ["minimize", "minimize"] if sweep.objective == "both" else ["minimize"]


class ArmMedianPruner(optuna.pruners.BasePruner):
    """Median pruning *within an arm*: a trial stops if its best validation loss so far is worse
    than the median of the other trials of the same arm at the same epoch. Arms are not compared
    with each other (a physical model's loss is not a network's), so no arm is pruned for being
    a different kind of model."""

    def __init__(self, n_startup_trials: int = 2, n_warmup_steps: int = 2) -> None:
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        arm = trial.params.get("arm")
        others = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
                  if t.params.get("arm") == arm and step in t.intermediate_values]
        if len(others) < self.n_startup_trials:
            return False
        best_so_far = min(v for s, v in trial.intermediate_values.items() if s <= step)
        median = float(np.median([t.intermediate_values[step] for t in others]))
        # a margin above round-off: losses of 1e-15 vs 1e-16 are equally converged
        return best_so_far > median * (1.0 + 1e-3) + 1e-12


def make_pruner(sweep: DictConfig) -> optuna.pruners.BasePruner:
    if sweep.pruner == "none" or sweep.objective == "both":
        return optuna.pruners.NopPruner()
    return ArmMedianPruner(int(sweep.pruner_startup_trials), int(sweep.pruner_warmup_steps))


def sampler_seed(base: int, slot: int) -> int:
    """The seed of the sampler that holds ``slot``, the ordinal a worker process claims in its study
    (:func:`hyco.sweep.roles.claim_sampler_slot`): distinct for every worker on every host, so none
    replays another's suggestions, and the same for the same command on a fresh study, so a sweep
    samples the same configurations every time it is run."""
    text = f"{int(base)}|{int(slot)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


def make_sampler(sweep: DictConfig, slot: int) -> optuna.samplers.BaseSampler:
    seed = sampler_seed(int(sweep.sampler_seed), slot)
    if sweep.objective == "both":
        base: optuna.samplers.BaseSampler = optuna.samplers.NSGAIISampler(seed=seed)
    else:
        base = optuna.samplers.TPESampler(seed=seed, n_startup_trials=2, constant_liar=True)
    return ArmBalancedSampler(base)


def create_study(sweep: DictConfig, stale_hook: Optional[Callable[[FrozenTrial], None]] = None) -> optuna.Study:
    """Create the study if new, else load it (refusing one made for another objective)."""
    storage = make_storage(sweep, stale_hook)
    is_new = sweep.study_name not in [s.study_name for s in optuna.get_all_study_summaries(storage)]
    study = optuna.create_study(storage=storage, study_name=sweep.study_name, directions=directions(sweep),
                                load_if_exists=True, sampler=make_sampler(sweep, 0), pruner=make_pruner(sweep))
    if is_new:
        study.set_user_attr("objective", str(sweep.objective))
    elif study.user_attrs.get("objective", sweep.objective) != sweep.objective:
        raise ValueError(f"study '{sweep.study_name}' optimises {study.user_attrs['objective']}, not "
                         f"{sweep.objective}; use another sweep.study_name")
    return study


def load_study(sweep: DictConfig) -> optuna.Study:
    """The study, to read (its sampler is never asked: workers sample through :func:`hyco.sweep.roles.worker_study`)."""
    storage = make_storage(sweep)
    return optuna.load_study(study_name=sweep.study_name, storage=storage, sampler=make_sampler(sweep, 0),
                             pruner=make_pruner(sweep))


def mark_owner(trial: optuna.Trial) -> None:
    """Record which process runs the trial (for immediate dead-worker detection on this host)."""
    from hyco.tracking.run_logger import owner_tags

    tags = owner_tags()
    trial.storage.set_trial_system_attr(trial._trial_id, OWNER_PID, tags.get("hyco.pid", str(os.getpid())))
    trial.storage.set_trial_system_attr(trial._trial_id, OWNER_HOST, tags.get("hyco.host", host_name()))
    if "hyco.pid_start" in tags:
        trial.storage.set_trial_system_attr(trial._trial_id, OWNER_START, tags["hyco.pid_start"])


def fail_dead_trials(study: optuna.Study, retry: RetryHeartbeatStaleTrialCallback) -> List[int]:
    """Fail RUNNING trials whose owning process on this host is gone and queue their retries;
    trials of other hosts are left to the heartbeat (``fail_stale_trials``), which does the same."""
    failed = []
    storage = study._storage
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.system_attrs
        if OWNER_PID not in attrs or attrs.get(OWNER_HOST) != host_name():
            continue
        tags = {"hyco.pid": attrs[OWNER_PID], "hyco.host": attrs[OWNER_HOST],
                "hyco.pid_start": attrs.get(OWNER_START, "")}
        if owner_is_alive(tags):
            continue
        if storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
            failed.append(trial.number)
            retry(study, storage.get_trial(trial._trial_id))
    with warnings.catch_warnings():  # "experimental", like the heartbeat it reads
        warnings.simplefilter("ignore", ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    if failed:
        log.warning("trials %s were left RUNNING by a dead worker: marked FAIL and queued for retry", failed)
    return failed


def retried_numbers(trials: Iterable[FrozenTrial]) -> set:
    """Numbers of trials that failed with their worker and were retried (``retry_history``)."""
    out: set = set()
    for trial in trials:
        out.update(trial.system_attrs.get("retry_history", []))
    return out


def remaining_budget(study: optuna.Study, n_trials: int) -> int:
    """``n_trials`` minus the trials that ended, not counting those retried after a dead worker."""
    trials = study.get_trials(deepcopy=False)
    retried = retried_numbers(trials)
    used = sum(t.state in ENDED and t.number not in retried for t in trials)
    return max(0, int(n_trials) - used)


def split_budget(total: int, workers: int) -> List[int]:
    """Trials per worker, as equal as possible, summing to ``total``."""
    base, extra = divmod(int(total), int(workers))
    return [base + (1 if i < extra else 0) for i in range(int(workers))]


def parent_run_id(study: optuna.Study) -> Optional[str]:
    return study.user_attrs.get("mlflow_parent_run_id")
