"""The Optuna layer (``hyco/sweep``, ``experiments/sweep.py``).

Unit tests: the budget across restarts and workers, the per-arm pruner, the search space, the
dead-worker retry. End-to-end (``slow``, ``experiments/sweep.py`` in subprocesses on a tiny 1D
problem): two workers on a pre-created study, ``kill -9`` and rerun, a diverging trial, and
configuration errors.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

import optuna
import pytest
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial
from sweep_helpers import (
    RunningTrialProbe,
    compose_sweep,
    load_study,
    mlflow_runs,
    run_sweep_cli,
    start_sweep_cli,
    tail,
)

from hyco.config import SweepConfig
from hyco.errors import ConfigError
from hyco.sweep.space import ArmBalancedSampler, check_space, sample_overrides
from hyco.sweep.study import (
    OWNER_HOST,
    OWNER_PID,
    ArmMedianPruner,
    create_study,
    fail_dead_trials,
    mark_owner,
    remaining_budget,
    retry_callback,
    split_budget,
)

ARMS = CategoricalDistribution(["synthetic_only", "physical_only"])
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)


def _ended(arm: str, state: TrialState = TrialState.COMPLETE, steps=None, **kwargs):
    """A finished trial of ``arm`` with intermediate values ``{step: value}``."""
    value = None if state != TrialState.COMPLETE else kwargs.pop("value", 1.0)
    return create_trial(state=state, value=value, params={"arm": arm}, distributions={"arm": ARMS},
                        intermediate_values=steps or {}, **kwargs)


def _counted(trials, retried) -> int:
    """COMPLETE/PRUNED trials plus FAIL trials that were not retried."""
    return sum(t.state in COUNTED or (t.state == TrialState.FAIL and t.number not in retried) for t in trials)


def _retried(trials) -> set:
    return {n for t in trials for n in t.system_attrs.get("retry_history", [])}


# ============================================================================== unit tests
@pytest.mark.parametrize("total, workers", [(0, 1), (1, 1), (4, 2), (5, 2), (7, 3), (2, 5), (12, 4)])
def test_split_budget_sums_to_total_and_is_balanced(total, workers):
    shares = split_budget(total, workers)
    assert len(shares) == workers
    assert sum(shares) == total
    assert all(s >= 0 for s in shares)
    assert max(shares) - min(shares) <= 1


def test_remaining_budget_ignores_retried_trials():
    study = optuna.create_study()
    study.add_trial(_ended("synthetic_only", TrialState.FAIL))  # 0: worker died, retried by 2
    study.add_trial(_ended("physical_only", TrialState.FAIL))  # 1: NaN, not retried: counts
    study.add_trial(_ended("synthetic_only", system_attrs={"failed_trial": 0, "retry_history": [0]}))  # 2
    study.add_trial(_ended("physical_only", TrialState.PRUNED))  # 3: counts
    study.add_trial(create_trial(state=TrialState.WAITING))  # 4: not ended: does not count
    trials = study.get_trials()
    assert _retried(trials) == {0}
    assert remaining_budget(study, 6) == 6 - 3
    assert remaining_budget(study, 3) == 0
    assert remaining_budget(study, 2) == 0  # never negative


def test_remaining_budget_counts_a_retry_that_died_again_once():
    """max_retry exhausted: the first death is retried, the second FAIL is final and counts."""
    study = optuna.create_study()
    study.add_trial(_ended("synthetic_only", TrialState.FAIL))
    study.add_trial(_ended("synthetic_only", TrialState.FAIL, system_attrs={"failed_trial": 0, "retry_history": [0]}))
    assert remaining_budget(study, 2) == 1


def _running(study, arm: str, values):
    """A RUNNING trial of ``arm`` that reported ``values`` at steps 0, 1, ..."""
    study.enqueue_trial({"arm": arm})
    trial = study.ask()
    assert trial.suggest_categorical("arm", list(ARMS.choices)) == arm
    for step, value in enumerate(values):
        trial.report(value, step)
    return trial


def test_arm_median_pruner_never_compares_across_arms():
    pruner = ArmMedianPruner(n_startup_trials=2, n_warmup_steps=1)
    study = optuna.create_study(pruner=pruner)
    # physical_only trials have tiny losses: a synthetic trial would always lose against them
    for value in (1e-8, 2e-8, 3e-8):
        study.add_trial(_ended("physical_only", steps={0: value, 1: value, 2: value}, value=value))
    synthetic = _running(study, "synthetic_only", [1.0, 0.9, 0.8])
    assert not synthetic.should_prune()  # no other synthetic trial yet: nothing to compare with
    study.add_trial(_ended("synthetic_only", steps={0: 0.5, 1: 0.4, 2: 0.3}, value=0.3))
    assert not synthetic.should_prune()  # one synthetic trial < n_startup_trials
    study.add_trial(_ended("synthetic_only", TrialState.PRUNED, steps={0: 0.5, 1: 0.5, 2: 0.5}))
    assert synthetic.should_prune()  # 0.8 > median(0.3, 0.5) of its own arm at step 2
    # a physical trial no worse than its own arm is kept, however it compares to the synthetic ones
    physical = _running(study, "physical_only", [2e-8, 2e-8])
    assert not physical.should_prune()
    worse = _running(study, "physical_only", [1e-3, 1e-3])
    assert worse.should_prune()


def test_arm_median_pruner_waits_for_warmup():
    study = optuna.create_study(pruner=ArmMedianPruner(n_startup_trials=1, n_warmup_steps=2))
    study.add_trial(_ended("synthetic_only", steps={0: 0.1, 1: 0.1, 2: 0.1}, value=0.1))
    trial = _running(study, "synthetic_only", [9.0, 9.0])  # last step 1 < warmup 2
    assert not trial.should_prune()
    trial.report(9.0, 2)
    assert trial.should_prune()


GOOD_SPACE = {
    "common": {"trainer.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}},
    "synthetic_only": {"synthetic.unet.filters": {"type": "categorical", "choices": [4, 8]}},
    "physical_only": {"trainer.physical_iterations_per_epoch": {"type": "int", "low": 2, "high": 10}},
    "mixed": {"trainer.hyco.alpha": {"type": "float", "low": 0.3, "high": 1.0},
              "trainer.hyco.alpha_end": {"type": "float", "low": 0.0, "high": 1.0}},
}


def test_check_space_accepts_a_good_space():
    check_space(GOOD_SPACE, ["synthetic_only", "physical_only", "mixed"])
    check_space(OmegaConf.create(GOOD_SPACE), ["synthetic_only"])


@pytest.mark.parametrize("group, path, spec, words", [
    ("mixed", "trainer.hyco.alpha", {"type": "float", "low": 1.0, "high": 0.3}, "low <= high"),
    ("mixed", "trainer.hyco.alpha", {"type": "float", "high": 0.3}, "low <= high"),
    ("common", "trainer.lr", {"type": "float", "low": 0.0, "high": 1.0, "log": True}, "low > 0"),
    ("physical_only", "trainer.hyco.ghost_ics", {"type": "int", "low": 0, "high": 8, "log": True}, "low > 0"),
    ("synthetic_only", "synthetic.unet.filters", {"type": "categorical", "choices": []}, "choices"),
    ("synthetic_only", "synthetic.unet.filters", {"type": "categorical"}, "choices"),
    ("physical_only", "trainer.physical_lr", {"type": "uniform", "low": 0, "high": 1}, "type must be"),
    ("physical_only", "trainer.physical_lr", {"low": 0, "high": 1}, "type must be"),
])
def test_check_space_rejects_malformed_specs_naming_the_entry(group, path, spec, words):
    space = {**GOOD_SPACE, group: {**GOOD_SPACE.get(group, {}), path: spec}}
    with pytest.raises(ConfigError) as info:
        check_space(OmegaConf.create(space), ["synthetic_only", "physical_only", "mixed"])
    assert f"sweep.search_space.{group}.{path}" in str(info.value)
    assert words in str(info.value)


def test_check_space_ignores_arms_outside_the_sweep_but_rejects_unknown_groups():
    bad = {"type": "float", "low": 1.0, "high": 0.0}
    check_space({"mixed": {"trainer.hyco.alpha": bad}}, ["synthetic_only"])  # mixed is not swept
    with pytest.raises(ConfigError, match="sweep.search_space.synthetic_onyl"):
        check_space({"synthetic_onyl": {"synthetic.unet.filters": {"type": "categorical", "choices": [4]}}},
                    ["synthetic_only"])


@pytest.mark.parametrize("arm", ["synthetic_only", "physical_only", "mixed"])
def test_sample_overrides_samples_only_the_chosen_arms_parameters(arm):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial({"arm": arm})
    trial = study.ask()
    chosen, overrides = sample_overrides(trial, GOOD_SPACE, ["synthetic_only", "physical_only", "mixed"])
    assert chosen == arm
    expected = {"trainer.lr", *GOOD_SPACE[arm]}
    assert {o.split("=", 1)[0] for o in overrides} == expected
    assert set(trial.params) == {"arm", *(f"{arm}/{path}" for path in expected)}
    for override in overrides:  # the override carries the sampled value
        path, value = override.split("=", 1)
        assert str(trial.params[f"{arm}/{path}"]) == value


@pytest.mark.parametrize("base", ["tpe", "nsga2"])
def test_arm_balanced_sampler_gives_each_arm_its_turn(base):
    """Also after the wrapped sampler's startup trials: a multivariate TPE (Optuna 5's default)
    or NSGA-II must not pick the arm in ``sample_relative``."""
    arms = ["synthetic_only", "physical_only", "mixed"]
    wrapped = (optuna.samplers.TPESampler(seed=0, n_startup_trials=2) if base == "tpe"
               else optuna.samplers.NSGAIISampler(seed=0, population_size=2))
    study = optuna.create_study(sampler=ArmBalancedSampler(wrapped))
    chosen = []
    for _ in range(7):
        trial = study.ask()
        arm, _ = sample_overrides(trial, GOOD_SPACE, arms)
        study.tell(trial, 1.0)
        chosen.append(arm)
    assert chosen == arms * 2 + arms[:1]


def test_fail_dead_trials_fails_and_retries_only_dead_owners(tmp_path):
    sweep = OmegaConf.structured(SweepConfig(study_name="dead", storage=f"sqlite:///{tmp_path / 'optuna.db'}",
                                             arms=["synthetic_only", "physical_only"], max_retry=1))
    study = create_study(sweep)
    corpse = subprocess.Popen([sys.executable, "-c", "pass"])
    corpse.wait()  # its pid is gone

    dead = study.ask()
    dead.suggest_categorical("arm", list(ARMS.choices))
    dead.suggest_float("x", 0.0, 1.0)
    dead.storage.set_trial_system_attr(dead._trial_id, OWNER_PID, str(corpse.pid))
    dead.storage.set_trial_system_attr(dead._trial_id, OWNER_HOST, socket.gethostname())
    alive = study.ask()
    alive.suggest_categorical("arm", list(ARMS.choices))
    mark_owner(alive)  # this process: alive

    assert fail_dead_trials(study, retry_callback(sweep)) == [dead.number]
    trials = {t.number: t for t in study.get_trials()}
    assert trials[dead.number].state == TrialState.FAIL
    assert trials[alive.number].state == TrialState.RUNNING
    retry = [t for t in trials.values() if dead.number in t.system_attrs.get("retry_history", [])]
    assert len(retry) == 1 and retry[0].state == TrialState.WAITING
    assert retry[0].params == trials[dead.number].params
    assert remaining_budget(study, 3) == 3  # the dead trial does not use the budget
    assert fail_dead_trials(study, retry_callback(sweep)) == []  # idempotent


def test_launcher_raises_when_a_worker_exits_nonzero(monkeypatch):
    """The launcher returns 0 only if every worker process exited 0."""
    from hyco.sweep import runner

    class FakeProcess:
        codes = iter([0, 1])

        def __init__(self, target, args, name):
            self.name, self.exitcode = name, None

        def start(self):
            pass

        def join(self):
            self.exitcode = next(FakeProcess.codes)

    class FakeContext:
        Process = FakeProcess

    monkeypatch.setattr(runner.mp, "get_context", lambda method: FakeContext())
    with pytest.raises(RuntimeError, match="hyco-sweep-worker-1"):
        runner._run_workers([1, 1], {}, [], "parent", 1)
    FakeProcess.codes = iter([0, 0])
    runner._run_workers([1, 1], {}, [], "parent", 1)


# ============================================================================== end to end
def _children(paths, parent_id: str) -> list:
    return [r for r in mlflow_runs(paths) if r.tags.get("mlflow.parentRunId") == parent_id]


@pytest.mark.slow
def test_two_workers_share_a_precreated_study(sweep_paths):
    m, name = 2, "two_workers"
    overrides = sweep_paths.overrides(f"sweep.study_name={name}", "sweep.workers=2", f"sweep.n_trials={2 * m}",
                                      "sweep.arms=[synthetic_only,physical_only]")
    create_study(compose_sweep(overrides).sweep)  # the study exists before the sweep starts
    assert load_study(sweep_paths, name).get_trials() == []

    proc = run_sweep_cli(overrides, cwd=sweep_paths.root)
    assert proc.returncode == 0, tail(proc)

    study = load_study(sweep_paths, name)
    trials = study.get_trials()
    assert len(trials) == 2 * m
    assert sorted(t.number for t in trials) == list(range(2 * m))  # unique numbers
    assert all(t.state in COUNTED for t in trials), [(t.number, t.state) for t in trials]
    owners = Counter(t.system_attrs[OWNER_PID] for t in trials)
    assert len(owners) == 2 and str(proc.pid) not in owners  # two worker processes did the work
    assert sorted(owners.values()) == [m, m]

    parent_id = study.user_attrs["mlflow_parent_run_id"]
    children = _children(sweep_paths, parent_id)
    assert len(children) == 2 * m
    per_trial = Counter(r.tags["hyco.trial"] for r in children)
    assert per_trial == Counter(str(t.number) for t in trials)  # exactly one child per trial
    by_id = {r.run_id: r for r in children}
    for t in trials:
        run = by_id[t.user_attrs["mlflow_run_id"]]
        assert run.tags["hyco.study"] == name
        assert run.tags["hyco.trial"] == str(t.number)
        assert run.tags["hyco.arm"] == t.params["arm"]
        assert run.status == ("FINISHED" if t.state == TrialState.COMPLETE else "KILLED")
    parent = [r for r in mlflow_runs(sweep_paths) if r.run_id == parent_id]
    assert len(parent) == 1 and parent[0].status == "FINISHED"
    assert parent[0].tags["hyco.role"] == "sweep-parent"
    assert len(mlflow_runs(sweep_paths)) == 2 * m + 1  # nothing else was logged


@pytest.mark.slow
def test_kill9_during_a_trial_then_rerun_completes_the_budget(sweep_paths):
    n, name = 2, "killed"
    overrides = sweep_paths.overrides(f"sweep.study_name={name}", "sweep.workers=1", f"sweep.n_trials={n}",
                                      "sweep.arms=[synthetic_only]")
    proc = start_sweep_cli(overrides, cwd=sweep_paths.root, log=sweep_paths.root / "first.log")
    probe = RunningTrialProbe(sweep_paths.optuna_db, sweep_paths.mlflow_db, name)

    def kill(p):
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()

    killed = None
    deadline = time.monotonic() + 180
    try:
        while killed is None and proc.poll() is None and time.monotonic() < deadline:
            killed = probe.kill_during_trial(proc, kill)
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log = (sweep_paths.root / "first.log").read_text()
    assert killed is not None, "the sweep ended before a trial could be killed\n" + log[-4000:]
    number, run_id = killed
    assert proc.returncode == -signal.SIGKILL

    study = load_study(sweep_paths, name)
    assert study.trials[number].state == TrialState.RUNNING  # left behind by the dead worker
    assert {r.run_id: r.status for r in mlflow_runs(sweep_paths)}[run_id] == "RUNNING"

    rerun = run_sweep_cli(overrides, cwd=sweep_paths.root)
    assert rerun.returncode == 0, tail(rerun)

    study = load_study(sweep_paths, name)
    trials = study.get_trials()
    retried = _retried(trials)
    dead = trials[number]
    assert dead.state == TrialState.FAIL and number in retried
    retries = [t for t in trials if number in t.system_attrs.get("retry_history", [])]
    assert len(retries) == 1
    retry = retries[0]
    assert retry.number > number and retry.state in COUNTED
    assert retry.params == dead.params
    assert retry.user_attrs["mlflow_run_id"] != run_id  # a new child run
    assert remaining_budget(study, n) == 0
    assert _counted(trials, retried) == n
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]

    runs = {r.run_id: r for r in mlflow_runs(sweep_paths)}
    assert not [r for r in runs.values() if r.status == "RUNNING"], {r.run_id: r.status for r in runs.values()}
    assert runs[run_id].status == "KILLED"
    parent_id = study.user_attrs["mlflow_parent_run_id"]
    assert runs[parent_id].status == "FINISHED"
    assert runs[run_id].tags["mlflow.parentRunId"] == parent_id
    assert runs[retry.user_attrs["mlflow_run_id"]].tags["mlflow.parentRunId"] == parent_id
    assert len([r for r in runs.values() if r.tags.get("hyco.role") == "sweep-parent"]) == 1


@pytest.mark.slow
def test_a_diverging_trial_fails_with_its_reason_and_the_sweep_goes_on(sweep_paths):
    name = "diverging"
    overrides = sweep_paths.overrides(
        f"sweep.study_name={name}", "sweep.workers=1", "sweep.n_trials=2", "sweep.arms=[synthetic_only]",
        "+sweep.search_space.synthetic_only={trainer.inject_nan_at_step: {type: categorical, choices: [-1, 1]}}")
    study = create_study(compose_sweep(overrides).sweep)
    # the first trial's loss turns NaN at its second optimisation step, the second trains normally
    study.enqueue_trial({"arm": "synthetic_only", "synthetic_only/trainer.inject_nan_at_step": 1})
    study.enqueue_trial({"arm": "synthetic_only", "synthetic_only/trainer.inject_nan_at_step": -1})

    proc = run_sweep_cli(overrides, cwd=sweep_paths.root)
    assert proc.returncode == 0, tail(proc)

    study = load_study(sweep_paths, name)
    first, second = study.get_trials()
    assert first.state in (TrialState.FAIL, TrialState.PRUNED)
    reason = first.user_attrs.get("fail_reason") or first.user_attrs.get("pruned_reason")
    assert reason and "non-finite" in reason.lower(), first.user_attrs
    assert second.state == TrialState.COMPLETE  # the sweep went on
    best = study.best_trial
    assert best.number == second.number and math.isfinite(best.value)
    runs = {r.run_id: r for r in mlflow_runs(sweep_paths)}
    assert runs[first.user_attrs["mlflow_run_id"]].status in ("FAILED", "KILLED")
    assert runs[second.user_attrs["mlflow_run_id"]].status == "FINISHED"


@pytest.mark.slow
@pytest.mark.parametrize("override, key", [
    ("sweep.objectiv=x", "sweep.objectiv"),
    ("sweep.n_trials=abc", "sweep.n_trials"),
    ("sweep.n_trials=0", "sweep.n_trials"),
    ("+sweep.search_space.synthetic_only={trainer.lr: {type: float, low: 1.0, high: 0.1}}",
     "sweep.search_space.synthetic_only.trainer.lr"),
    ("+sweep.search_space.synthetic_only={trainer.lrr: {type: float, low: 0.1, high: 1.0}}",
     "sweep.search_space.synthetic_only.trainer.lrr"),
    ("+sweep.search_space.synthetic_onyl={trainer.lr: {type: float, low: 0.1, high: 1.0}}",
     "sweep.search_space.synthetic_onyl"),
    ("sweep.trial_overrides=['trainer.epochz=3']", "trainer.epochz"),
])
def test_config_error_exits_2_naming_the_key_before_any_file(sweep_paths, override, key):
    overrides = sweep_paths.overrides("sweep.study_name=bad", "sweep.arms=[synthetic_only]", override)
    sweep_paths.mlflow_db.unlink()  # nothing may be created either
    proc = run_sweep_cli(overrides, cwd=sweep_paths.root, timeout=120)
    assert proc.returncode == 2, tail(proc)
    assert key in proc.stderr, tail(proc)
    assert "Traceback" not in proc.stderr
    assert not sweep_paths.optuna_db.exists()
    assert not sweep_paths.mlflow_db.exists()
    assert not sweep_paths.artifacts.exists()
