"""Interruptions, as they happen: SIGTERM (``kill``, ``timeout``, ``scancel``) during a run, a
``kill -9`` during a sweep's data generation, then Ctrl-C (SIGINT) and SIGTERM during its trials.
Each stop exits with its documented status and one line, no traceback; nothing is left RUNNING;
the same command, run again, resumes: the run to the end of its epochs, the sweep to exactly its
budget with every arm's result present."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from fault_helpers import entry_point, error_lines
from optuna.trial import TrialState
from sweep_helpers import RunningTrialProbe, load_study, mlflow_runs, start_sweep_cli
from training_helpers import cli_command, cli_env

from hyco import tracking
from hyco.compose import compose_config
from hyco.runs.train import train_run
from hyco.sweep.study import INTERRUPTED_ATTR, retried_numbers

pytestmark = pytest.mark.slow

# long enough to be caught in the middle: 15 simulations to generate one by one (most of a
# second), 25 short epochs per trial
SLOWER = ["physics.resolution=[32]", "data.num_frames=20", "data.num_test=12", "data.generation_batch=1",
          "trainer.epochs=25", "sweep.pruner=none", "tracking.log_model=false",
          "+sweep.search_space.physical_only={trainer.physical_iterations_per_epoch: {type: int, low: 1, high: 2}}"]


def _wait(predicate, proc, timeout: float = 180.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, f"the command ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _stopped_line(log: str) -> str:
    assert "Traceback" not in log and "failed with" not in log, log[-4000:]  # not even Optuna's own lines
    lines = [line for line in error_lines(log) if line.startswith("interrupted")]
    assert len(lines) == 1, log[-4000:]
    return lines[0]


def test_sigterm_ends_a_run_killed_and_the_same_command_resumes_it(tmp_path, mlflow_tracking_cfg):
    args = ["experiment=burgers_1d_quick", "physics.resolution=[16]", "data.num_frames=6", "data.num_train=2",
            "data.num_val=1", "data.num_test=1", "trainer.rollout_steps=2", "trainer.epochs=60",
            "synthetic.unet.levels=1", "synthetic.unet.filters=4", "torch_threads=1", "device=cpu",
            "tracking.log_model=false", f"data.cache_dir={tmp_path / 'cache'}",
            f"tracking.tracking_uri={mlflow_tracking_cfg.tracking_uri}",
            f"tracking.artifact_location={mlflow_tracking_cfg.artifact_location}", "task=[generate,train]"]
    artifacts = Path(mlflow_tracking_cfg.artifact_location)
    proc = subprocess.Popen(cli_command(*args), cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait(lambda: any(artifacts.glob("**/checkpoints/synthetic_last.pt")), proc, what="the first checkpoint")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 143, out + err
    (run,) = tracking.search_runs("burgers_1d_quick", tracking=mlflow_tracking_cfg)
    assert run.status == "KILLED", err
    assert _stopped_line(err) == (f"interrupted (SIGTERM): run {run.run_id} ended KILLED; rerun the same command "
                                  "to resume it from its last checkpoint")
    assert len(tracking.get_metric_history(run.run_id, "synthetic/train_loss", mlflow_tracking_cfg)) < 60

    # the same command's config, trained here (the command line's own resume message is tested by
    # tests/training/test_resume.py; a second interpreter would only add its start-up)
    again = train_run(compose_config(args))
    assert again.resumed and again.run_id == run.run_id
    (resumed,) = tracking.search_runs("burgers_1d_quick", tracking=mlflow_tracking_cfg)
    steps = [s for s, _ in tracking.get_metric_history(run.run_id, "synthetic/train_loss", mlflow_tracking_cfg)]
    assert resumed.status == "FINISHED" and steps == list(range(1, 61))  # every epoch once, nothing lost


def _partial_entry(cache: Path):
    if not cache.is_dir():
        return None
    return next((d for d in cache.iterdir() if d.is_dir() and any(d.glob("*.npz"))
                 and not (d / "metadata.json").exists()), None)


def _interrupt_a_trial(paths, overrides, name: str, signum: int, log: Path) -> tuple:
    """Run the sweep, stop it with ``signum`` while a trial trains; ``(trial, run id, log text)``."""
    proc = start_sweep_cli(overrides, cwd=paths.root, log=log)
    probe = RunningTrialProbe(paths.optuna_db, paths.mlflow_db, name)
    caught = None
    try:
        deadline = time.monotonic() + 240
        while caught is None and proc.poll() is None and time.monotonic() < deadline:
            caught = probe.kill_during_trial(proc, lambda p: os.killpg(p.pid, signum))
            time.sleep(0.02)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    assert caught is not None, "the sweep ended before a trial could be stopped\n" + text[-4000:]
    assert proc.returncode == 128 + signum, text[-4000:]
    return caught[0], caught[1], text


def _nothing_running(paths, name: str) -> dict:
    study = load_study(paths, name)
    assert not [t.number for t in study.trials if t.state == TrialState.RUNNING]
    runs = {r.run_id: r for r in mlflow_runs(paths)}
    assert not [r.run_id for r in runs.values() if r.status == "RUNNING"], {r.run_id: r.status for r in runs.values()}
    return runs


def test_a_sweep_killed_during_generation_then_interrupted_twice_resumes_to_the_exact_budget(fault_sweep, monkeypatch,
                                                                                            capfd):
    paths, name, n = fault_sweep, "stopped", 2
    overrides = paths.overrides(f"sweep.study_name={name}", f"sweep.n_trials={n}", "sweep.workers=1",
                                "sweep.arms=[synthetic_only,physical_only]", *SLOWER)

    # 1. kill -9 while the first trial generates its data: half an entry, a trial left RUNNING
    proc = start_sweep_cli(overrides, cwd=paths.root, log=paths.root / "killed.log")
    try:
        _wait(lambda: _partial_entry(paths.cache) is not None, proc, what="the data generation")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    partial = _partial_entry(paths.cache)
    assert partial is not None

    # 2. the same command: the entry is rebuilt (one line), the dead trial retried; Ctrl-C during a trial
    number, run_id, log = _interrupt_a_trial(paths, overrides, name, signal.SIGINT, paths.root / "sigint.log")
    assert log.count("is incomplete (its writer stopped before finishing); rebuilding it") == 1
    line = _stopped_line(log)
    assert line.startswith(f"interrupted (SIGINT): study {name}: ") and f"trial(s) [{number}] stopped and queued" \
        in line and "rerun the same command to continue" in line
    runs = _nothing_running(paths, name)
    study = load_study(paths, name)
    stopped = study.trials[number]
    assert stopped.state == TrialState.FAIL and "SIGINT" in stopped.user_attrs[INTERRUPTED_ATTR]
    (retry,) = [t for t in study.trials if number in t.system_attrs.get("retry_history", [])]
    assert retry.state == TrialState.WAITING and retry.params == stopped.params
    assert runs[run_id].status == "KILLED"
    parent_id = study.user_attrs["mlflow_parent_run_id"]
    assert runs[parent_id].status == "KILLED"

    # 3. again, and SIGTERM (what timeout, scancel and pre-emption send) during a trial
    number, run_id, log = _interrupt_a_trial(paths, overrides, name, signal.SIGTERM, paths.root / "sigterm.log")
    line = _stopped_line(log)
    assert line.startswith(f"interrupted (SIGTERM): study {name}: ") and f"trial(s) [{number}] stopped and queued " \
        "to run again (not counted)" in line
    runs = _nothing_running(paths, name)
    assert runs[run_id].status == "KILLED" and runs[parent_id].status == "KILLED"

    # 4. the same command to the end (its main() in this process, whose imports are paid): exactly the
    #    budget, every arm's result, nothing RUNNING or lost
    monkeypatch.chdir(paths.root)
    monkeypatch.setenv("HYCO_LOG_LEVEL", "INFO")  # the command exports its level; restored after the test
    status = entry_point("sweep").main(overrides)
    stdout, stderr = capfd.readouterr()
    assert status == 0, stdout[-4000:] + stderr[-4000:]
    assert "Traceback" not in stderr
    study = load_study(paths, name)
    trials = study.get_trials()
    retried = retried_numbers(trials)
    counted = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
               and t.number not in retried]
    assert len(counted) == n and all(t.state == TrialState.COMPLETE for t in counted), [
        (t.number, t.state, t.user_attrs) for t in trials]
    assert Counter(t.params["arm"] for t in counted) == {"synthetic_only": 1, "physical_only": 1}
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    runs = _nothing_running(paths, name)
    assert runs[parent_id].status == "FINISHED"
    assert sum(r.tags.get("hyco.role") == "sweep-parent" for r in runs.values()) == 1
    # the console summary: a row per arm, its name first (hyco/sweep/verdicts.py)
    assert re.search(r"^synthetic_only ", stdout, re.M) and re.search(r"^physical_only ", stdout, re.M)
    assert not list(paths.cache.glob("*.lock")) and not list(paths.root.glob("optuna.db.*.lock"))
