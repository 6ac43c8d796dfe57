"""Pieces of the several-hosts scheme that need no server: budget counting, the study lock on
SQLite, per-host sampler seeds and the checkpoint upload hook."""

from __future__ import annotations

import threading
import time

import optuna
from optuna.trial import TrialState, create_trial
from sweep_helpers import compose_sweep

from hyco.sweep.roles import budget_done, budget_used, study_lock
from hyco.sweep.study import make_storage, sampler_seed
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


def test_sampler_seeds_differ_per_host_and_process(monkeypatch):
    monkeypatch.setenv("HYCO_HOST", "host-a")
    a = sampler_seed(0, 0, 0)
    monkeypatch.setenv("HYCO_HOST", "host-b")
    b = sampler_seed(0, 0, 0)
    assert a != b and sampler_seed(0, 1, 0) != b and sampler_seed(0, 0, 1) != b
    monkeypatch.setattr("os.getpid", lambda: 424242)
    assert sampler_seed(0, 0, 0) != b


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
