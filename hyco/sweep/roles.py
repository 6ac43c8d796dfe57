"""One study over several processes and hosts: an exact budget, one parent run, one summary.

Every host runs the same ``experiments/sweep.py`` command against one storage (PostgreSQL for
several machines). Three things must then hold that one process used to guarantee alone:

* **Exact budget.** A trial starts only inside :func:`study_lock`, a lock held by one process of
  the whole study at a time (PostgreSQL: a session advisory lock keyed by the study name, released
  by the server if the holder dies; MySQL: ``GET_LOCK``; SQLite, one machine: a file lock beside
  the database). Under it a worker fails stale trials, counts the trials that use the budget
  (RUNNING, COMPLETE, PRUNED or FAIL, except a FAIL retried after its worker died) and calls
  Optuna's ``ask`` only while that count is below ``sweep.n_trials``; the new trial is committed
  RUNNING before the lock is released, so the next worker counts it. Count-then-ask is
  therefore atomic across hosts: the total is exact, never ``n_trials`` per host. When the count is
  full but trials still run elsewhere, the worker waits (polling, outside the lock): if one of
  them dies, its heartbeat goes stale, it is failed and re-queued with the same parameters, and
  the waiting worker runs the retry.
* **Roles.** ``sweep.role=auto`` (the default): the first host creates the study and the parent
  MLflow run (its id in the study's user attribute ``mlflow_parent_run_id``, created under the
  lock so two hosts starting at once make one), the others attach. ``sweep.role=worker`` never
  creates: it waits up to ``sweep.attach_timeout`` seconds for the study and its parent run
  (scheduler tasks that start before, or without, a launching host).
* **One ending.** Whichever process finds the budget used and nothing running writes the summary
  to the parent run and ends it FINISHED, under the lock and once (user attribute
  ``summary_written``). ``sweep.summary_only=true`` rewrites the summary on demand.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

import optuna
from omegaconf import DictConfig
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from hyco import tracking
from hyco.core.stores import redact
from hyco.errors import NotFoundError
from hyco.sweep.fingerprint import (
    FINGERPRINT_ATTR,
    ITEMS_ATTR,
    check_fingerprint,
    fingerprint,
)
from hyco.sweep.locks import database_lock
from hyco.sweep.study import (
    fail_dead_trials,
    make_pruner,
    make_sampler,
    make_storage,
    mark_owner,
    retried_numbers,
    retry_callback,
)

log = logging.getLogger(__name__)

PARENT_ATTR, SUMMARY_ATTR = "mlflow_parent_run_id", "summary_written"
SLOTS_ATTR = "hyco:sampler_slots"  # a study system attribute: how many sampler slots were claimed
USES_BUDGET = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


class BudgetReached(Exception):
    """The study's budget is used and no trial is running anywhere: this worker is done."""


@contextmanager
def study_lock(storage: RDBStorage, study_name: str) -> Iterator[None]:
    """Mutual exclusion of every process working on ``study_name`` (see the module docstring)."""
    with database_lock(storage.engine, f"hyco-study:{study_name}"):
        yield


def budget_used(trials: Sequence[FrozenTrial]) -> int:
    """Trials that use the budget: started or ended, except FAILs whose worker died (retried)."""
    retried = retried_numbers(trials)
    return sum(t.state in USES_BUDGET and t.number not in retried for t in trials)


def budget_done(trials: Sequence[FrozenTrial], n_trials: int) -> bool:
    """The budget is used and no trial is running: the study is finished."""
    return budget_used(trials) >= n_trials and not any(t.state == TrialState.RUNNING for t in trials)


class BudgetedStudy(optuna.Study):
    """An Optuna study whose ``ask`` admits a trial only while the study is under budget.

    ``study.optimize`` calls ``ask`` once per trial, so every trial of every worker passes the
    gate; :class:`BudgetReached` leaves ``optimize`` when the study is finished.
    """

    def __init__(self, study_name: str, storage: RDBStorage, sampler: optuna.samplers.BaseSampler,
                 pruner: optuna.pruners.BasePruner, n_trials: int, retry: Callable, poll_seconds: float) -> None:
        super().__init__(study_name=study_name, storage=storage, sampler=sampler, pruner=pruner)
        self._rdb, self._n_trials, self._poll = storage, int(n_trials), float(poll_seconds)
        self._retry = retry  # for this host's dead workers: the heartbeat's own retry policy

    def ask(self, fixed_distributions=None) -> optuna.Trial:
        while True:
            with study_lock(self._rdb, self.study_name):
                fail_dead_trials(self, self._retry)  # this host's dead workers, then stale heartbeats
                trials = self._rdb.get_all_trials(self._study_id, deepcopy=False)  # uncached: other hosts
                if budget_used(trials) < self._n_trials:
                    trial = super().ask(fixed_distributions)
                    # owned from its first instant: if this process dies (or is stopped) before the
                    # objective starts, the next start fails the trial and queues its retry
                    mark_owner(trial)
                    return trial
                if not any(t.state == TrialState.RUNNING for t in trials):
                    raise BudgetReached(f"study {self.study_name}: {self._n_trials} trials used")
            # Full, but trials run elsewhere: wait in case one dies and is re-queued for a retry.
            time.sleep(self._poll)


def attach_parent(storage: RDBStorage, study: optuna.Study, create: Optional[Callable[[], str]],
                  timeout: float, poll_seconds: float = 2.0) -> str:
    """The study's parent run id: created by ``create()`` under the lock if the study has none
    (``create=None``, a worker: wait up to ``timeout`` seconds for another host to make it)."""
    deadline = time.monotonic() + timeout
    while True:
        with study_lock(storage, study.study_name):
            parent = storage.get_study_user_attrs(study._study_id).get(PARENT_ATTR)
            if parent is None and create is not None:
                parent = create()
                storage.set_study_user_attr(study._study_id, PARENT_ATTR, parent)
        if parent is not None:
            return str(parent)
        if time.monotonic() > deadline:
            raise NotFoundError(f"study {study.study_name} has no parent run after {timeout:.0f} s; "
                                "start one host with sweep.role=auto")
        time.sleep(poll_seconds)


def wait_for_study(storage: RDBStorage, study_name: str, timeout: float, poll_seconds: float = 2.0) -> None:
    """Block until ``study_name`` exists in ``storage`` (a worker started before the first host)."""
    deadline = time.monotonic() + timeout
    while study_name not in [s.study_name for s in optuna.get_all_study_summaries(storage)]:
        if time.monotonic() > deadline:
            raise NotFoundError(f"study {study_name} does not exist after {timeout:.0f} s in "
                                f"{redact(str(storage.url))}; sweep.role=worker joins a study "
                                "that a sweep.role=auto host creates")
        time.sleep(poll_seconds)


def finish_once(storage: RDBStorage, study: optuna.Study, n_trials: int, finish: Callable[[], None],
                force: bool = False) -> bool:
    """Run ``finish()`` (summary, parent run FINISHED) if the budget is done and nobody did it yet,
    or when ``force`` (``summary_only``); True if it ran here."""
    with study_lock(storage, study.study_name):
        trials = storage.get_all_trials(study._study_id, deepcopy=False)
        done = budget_done(trials, n_trials)
        already = bool(storage.get_study_user_attrs(study._study_id).get(SUMMARY_ATTR))
        if not force and (not done or already):
            return False
        finish()
        if done:
            storage.set_study_user_attr(study._study_id, SUMMARY_ATTR, True)
        return True


def record_problem(storage: RDBStorage, study: optuna.Study, items: Mapping[str, str]) -> None:
    """Refuse a study that holds another problem (:mod:`hyco.sweep.fingerprint`), else record
    this one if it is the first; under the lock, so two first hosts cannot record two."""
    with study_lock(storage, study.study_name):
        attrs = storage.get_study_user_attrs(study._study_id)
        if check_fingerprint(study.study_name, attrs, items):
            storage.set_study_user_attr(study._study_id, ITEMS_ATTR, dict(items))
            storage.set_study_user_attr(study._study_id, FINGERPRINT_ATTR, fingerprint(items))


def worker_study(sweep: DictConfig, worker: int, tracking_cfg: Any) -> BudgetedStudy:
    """The study as one worker process sees it: budget-gated ``ask``; a trial failed by the
    heartbeat (its worker died, maybe on another host) also has its MLflow run ended KILLED."""

    def end_child_run(trial: FrozenTrial) -> None:
        run_id = trial.user_attrs.get("mlflow_run_id")
        if run_id and tracking_cfg is not None and tracking.run_status(run_id, tracking_cfg) == "RUNNING":
            tracking.end_shared_run(run_id, "KILLED", tracking_cfg,
                                    reason=f"worker of trial {trial.number} stopped sending heartbeats")

    storage = make_storage(sweep, stale_hook=end_child_run)
    slot = claim_sampler_slot(storage, str(sweep.study_name))
    log.debug("worker %d samples from slot %d of study %s", worker, slot, sweep.study_name)
    poll = max(1.0, float(sweep.heartbeat_interval) / 2)
    return BudgetedStudy(str(sweep.study_name), storage, make_sampler(sweep, slot), make_pruner(sweep),
                         int(sweep.n_trials), retry_callback(sweep), poll)


def claim_sampler_slot(storage: RDBStorage, study_name: str) -> int:
    """The next free sampler slot of the study (0 for its first worker), claimed under the study's
    lock: every worker process, on any host and in any restart, gets its own, so their samplers'
    seeds differ (:func:`hyco.sweep.study.sampler_seed`) while a fresh study run by the same command
    gets the same seeds every time."""
    with study_lock(storage, study_name):
        study_id = storage.get_study_id_from_name(study_name)
        slot = int(storage.get_study_system_attrs(study_id).get(SLOTS_ATTR, 0))
        storage.set_study_system_attr(study_id, SLOTS_ATTR, slot + 1)
    return slot
