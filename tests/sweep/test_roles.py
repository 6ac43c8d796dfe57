"""Pieces of the several-hosts scheme that need no server: budget counting, the study lock on
SQLite, per-host sampler seeds and the checkpoint upload hook."""

from __future__ import annotations

import threading
import time

import optuna
import pytest
from optuna.trial import TrialState, create_trial
from sweep_helpers import compose_sweep

from hyco.sweep.roles import budget_done, budget_used, claim_sampler_slot, study_lock, worker_study
from hyco.sweep.study import create_study, make_storage, sampler_seed
from hyco.tracking import MemoryRunLogger
from hyco.training.context import RunContext


def _trial(number: int, state: TrialState, retry_of=None):
    trial = create_trial(state=state, value=0.0 if state == TrialState.COMPLETE else None,
                         system_attrs={} if retry_of is None else {"retry_history": [retry_of]})
    trial.number = number
    return trial


def test_budget_counts_running_trials_and_not_the_failures_retried_elsewhere():
    trials = [_trial(0, TrialState.COMPLETE), _trial(1, TrialState.FAIL), _trial(2, TrialState.RUNNING),
              _trial(3, TrialState.WAITING, retry_of=1)]
    assert budget_used(trials) == 2  # 0 and 2: trial 1 died and is retried as 3, not yet started
    assert not budget_done(trials, 2)  # full, but trial 2 still runs
    trials[2] = _trial(2, TrialState.PRUNED)
    assert budget_done(trials, 2) and not budget_done(trials, 3)


def test_sampler_slots_are_claimed_once_each_and_seed_distinct_samplers(tmp_path):
    sweep = compose_sweep(["sweep.storage=sqlite:///" + str(tmp_path / "optuna.db"), "sweep.study_name=slots"]).sweep
    storage = make_storage(sweep)
    optuna.create_study(storage=storage, study_name="slots")
    slots: list = []
    threads = [threading.Thread(target=lambda: slots.append(claim_sampler_slot(storage, "slots"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(slots) == [0, 1, 2, 3]  # concurrent workers: one slot each, none twice
    assert claim_sampler_slot(storage, "slots") == 4  # a restart continues the count
    seeds = {sampler_seed(0, slot) for slot in range(5)}
    assert len(seeds) == 5 and sampler_seed(0, 0) == sampler_seed(0, 0) != sampler_seed(1, 0)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_the_same_command_on_a_fresh_study_samples_the_same_configurations(tmp_path, monkeypatch):
    def first_suggestions(folder: str, host: str, pid: int) -> list:  # whichever host and process runs it
        monkeypatch.setenv("HYCO_HOST", host)
        monkeypatch.setattr("os.getpid", lambda: pid)
        sweep = compose_sweep([f"sweep.storage=sqlite:///{tmp_path / folder}.db", "sweep.study_name=again"]).sweep
        create_study(sweep)
        values = []
        for worker in range(2):  # two workers joining: the second claims slot 1
            study = worker_study(sweep, worker, None)
            trial = study.ask()
            values.append(trial.suggest_float("lr", 1e-5, 1e-1, log=True))
            study.tell(trial, 1.0)
        return values

    first, again = first_suggestions("one", "host-a", 4242), first_suggestions("two", "host-b", 777)
    assert first == again and first[0] != first[1]


def test_study_lock_on_sqlite_excludes_other_holders(tmp_path):
    sweep = compose_sweep([f"sweep.storage=sqlite:///{tmp_path / 'optuna.db'}", "sweep.study_name=locked"]).sweep
    storage = make_storage(sweep)
    optuna.create_study(storage=storage, study_name="locked")
    inside, overlaps = [], []

    def hold():
        with study_lock(storage, "locked"):
            overlaps.append(len(inside))
            inside.append(1)
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == [0, 0, 0, 0]


def test_checkpoints_are_published_after_each_save_and_the_metrics_travel_with_them(tmp_path):
    events = []

    class Recorder(MemoryRunLogger):
        def log_metrics(self, metrics, step):
            events.append(("log", step))
            super().log_metrics(metrics, step)

    logger = Recorder()
    context = RunContext(logger, tmp_path / "checkpoints", log_memory=False,
                         publish=lambda folder: events.append(("publish", folder.name)))
    context.report(1, {"loss": 1.0}, lambda extra: events.append(("save", extra["pending_step"])))
    assert events == [("save", 1), ("publish", "checkpoints"), ("log", 1)]
    context.publish_every_s = 3600.0  # throttled: the next save and its metrics wait for flush()
    context.report(2, {"loss": 0.5}, lambda extra: events.append(("save", extra["pending_step"])))
    context.report(3, {"loss": 0.25}, lambda extra: events.append(("save", extra["pending_step"])))
    assert events[3:] == [("save", 2), ("save", 3)]
    context.flush()
    context.flush()  # nothing new: no second upload, no metric twice
    assert events[5:] == [("publish", "checkpoints"), ("log", 2), ("log", 3)]
    assert [v for _, v in logger.history("loss")] == [1.0, 0.5, 0.25]
