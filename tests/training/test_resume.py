"""Resuming: a run killed with SIGKILL mid-training continues in the same MLflow run, with no
duplicate metric steps, to bit-identical weights; the tracker/checkpoint race is covered too."""

from __future__ import annotations

import os
import signal
import subprocess
import threading

import pytest
import torch
from mlflow.tracking import MlflowClient
from training_helpers import cli_command, cli_env, toy_network, toy_windows, unit_cfg

from hyco import metrics as M
from hyco import tracking
from hyco.core.checkpoints import load_checkpoint
from hyco.runs.train import experiment_name, open_training_data, run_fingerprint, train_run
from hyco.tracking.run_logger import MemoryRunLogger
from hyco.training.context import RunContext
from hyco.training.synthetic import SyntheticTrainer

EPOCHS = 8
KILL_AFTER = 3  # SIGKILL as soon as epoch 3 is reported: during its checkpoint/logging or epoch 4
# 2 sims x 10 window starts, batch 2: ten optimiser steps per epoch; cosine schedule, validation.
OVERRIDES = [f"trainer.epochs={EPOCHS}", "data.num_frames=12", "trainer.batch_size=2", "trainer.scheduler=cosine"]


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


def _metric_steps(client: MlflowClient, run_id: str) -> dict:
    keys = client.get_run(run_id).data.metrics.keys()
    return {key: sorted(m.step for m in client.get_metric_history(run_id, key)) for key in keys}


@pytest.mark.slow
def test_a_killed_run_resumes_in_the_same_mlflow_run_to_identical_weights(
    make_cfg, make_overrides, fresh_tracking, tmp_path
):
    cfg = make_cfg(*OVERRIDES)
    args = ["task=[generate,train]", *make_overrides(*OVERRIDES)]
    client = MlflowClient(cfg.tracking.tracking_uri)

    # 1. Start the run and SIGKILL it in the middle of training (data generated here: faster).
    open_training_data(cfg)
    stderr = open(tmp_path / "killed.stderr", "w")
    # per-epoch lines are DEBUG, written to stderr above the bars: ask for them, on the pipe read here
    proc = subprocess.Popen(cli_command(*args, "log_level=DEBUG"), cwd=tmp_path, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if f"epoch {KILL_AFTER}/{EPOCHS}" in line:
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait()
        watchdog.cancel()
        stderr.close()
    assert proc.returncode == -signal.SIGKILL, "".join(seen) + (tmp_path / "killed.stderr").read_text()

    exp = client.get_experiment_by_name(experiment_name(cfg))
    (killed,) = client.search_runs([exp.experiment_id])
    run_id = killed.info.run_id
    assert killed.info.status == "RUNNING"  # nobody could end it
    assert killed.data.tags["hyco.fingerprint"] == run_fingerprint(cfg)
    ckpt = tracking.artifact_dir(run_id, cfg.tracking) / "checkpoints" / SyntheticTrainer.LAST
    interrupted_at = load_checkpoint(ckpt)["epoch"]
    assert KILL_AFTER - 1 <= interrupted_at < EPOCHS
    logged = _metric_steps(client, run_id)[M.SYNTHETIC_TRAIN_LOSS]
    assert logged == list(range(1, len(logged) + 1)) and len(logged) <= KILL_AFTER

    # 2. The same command again: the dead run is recognised and continued to the end. Meanwhile
    #    (the child spends seconds importing) the same config trains without interruption in
    #    this process, into another tracking store.
    rerun = subprocess.Popen(cli_command(*args), cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    other_store = fresh_tracking("straight")
    try:
        straight = train_run(make_cfg(*OVERRIDES, tracking=other_store))
    finally:
        out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, out + err
    assert f"run id: {run_id} (resumed)" in out
    assert f"marked run {run_id} (pid {killed.data.tags['hyco.pid']}, dead) as KILLED" in out + err
    runs = client.search_runs([exp.experiment_id], f"tags.`hyco.fingerprint` = '{run_fingerprint(cfg)}'")
    assert [r.info.run_id for r in runs] == [run_id]
    assert runs[0].info.status == "FINISHED"
    final = load_checkpoint(ckpt)
    assert final["epoch"] == EPOCHS

    # Every metric has exactly one value per epoch.
    steps = _metric_steps(client, run_id)
    assert {M.SYNTHETIC_TRAIN_LOSS, M.SYNTHETIC_DATA_LOSS, M.SYNTHETIC_LR, M.TIME_EPOCH, M.MEMORY_RSS} <= steps.keys()
    for key, values in steps.items():
        assert values == list(range(1, EPOCHS + 1)), key

    # 3. Bit-identical to the uninterrupted run.
    assert not straight.resumed
    reference_dir = tracking.artifact_dir(straight.run_id, other_store) / "checkpoints"
    reference = load_checkpoint(reference_dir / SyntheticTrainer.LAST)
    _assert_same_weights(final["model"], reference["model"])
    _assert_same_weights(load_checkpoint(ckpt.with_name(SyntheticTrainer.BEST))["model"],
                         load_checkpoint(reference_dir / SyntheticTrainer.BEST)["model"])
    assert final["step"] == reference["step"] and final["best_val"] == reference["best_val"]
    history = client.get_metric_history(run_id, M.SYNTHETIC_DATA_LOSS)
    ref_client = MlflowClient(other_store.tracking_uri)
    ref_history = ref_client.get_metric_history(straight.run_id, M.SYNTHETIC_DATA_LOSS)
    assert sorted((m.step, m.value) for m in history) == sorted((m.step, m.value) for m in ref_history)


class _DiesAfterCheckpoint(RunContext):
    """Simulates a kill after epoch ``die_at`` was checkpointed but before it reached the tracker."""

    die_at = 0

    def log(self, metrics, step):
        if step == self.die_at:
            raise KeyboardInterrupt("killed between checkpoint and logging")
        super().log(metrics, step)


def test_metrics_of_a_checkpointed_epoch_that_never_reached_the_tracker_are_replayed(tmp_path):
    cfg = unit_cfg(epochs=4, batch_size=2, scheduler="cosine")
    data, val = toy_windows(n=6), toy_windows(n=2, seed=9)
    logger = MemoryRunLogger()

    dying = _DiesAfterCheckpoint(logger, tmp_path / "run", log_memory=False)
    dying.die_at = 2
    with pytest.raises(KeyboardInterrupt):
        SyntheticTrainer(cfg, toy_network(), data, val, dying).train()
    assert [s for s, _ in logger.history(M.SYNTHETIC_TRAIN_LOSS)] == [1]
    assert load_checkpoint(dying.path(SyntheticTrainer.LAST))["epoch"] == 2

    context = RunContext(logger, tmp_path / "run", log_memory=False)
    resumed = SyntheticTrainer(cfg, toy_network(seed=7), data, val, context)
    resumed.train()

    reference_logger = MemoryRunLogger()
    reference = SyntheticTrainer(cfg, toy_network(), data, val,
                                 RunContext(reference_logger, tmp_path / "reference", log_memory=False))
    reference.train()
    _assert_same_weights(resumed.model.state_dict(), reference.model.state_dict())
    assert logger.metrics.keys() == reference_logger.metrics.keys()
    for key, values in logger.metrics.items():
        assert [s for s, _ in values] == [1, 2, 3, 4], key
        if key != M.TIME_EPOCH:
            assert values == reference_logger.metrics[key], key


def test_a_finished_run_is_repeated_in_a_new_run(make_cfg):
    cfg = make_cfg("trainer.epochs=1")
    first = train_run(cfg)
    second = train_run(cfg)
    assert not first.resumed and not second.resumed and first.run_id != second.run_id
    client = MlflowClient(cfg.tracking.tracking_uri)
    statuses = {r.info.run_id: r.info.status for r in client.search_runs(
        [client.get_experiment_by_name(experiment_name(cfg)).experiment_id])}
    assert statuses == {first.run_id: "FINISHED", second.run_id: "FINISHED"}


@pytest.mark.parametrize("resume", [True, False])
def test_a_failed_run_is_resumed_unless_resume_is_off(make_cfg, monkeypatch, resume):
    cfg = make_cfg("trainer.epochs=3", f"trainer.resume={resume}")
    original = SyntheticTrainer._on_epoch_end

    def crash_after_epoch_2(self, epoch, metrics):
        original(self, epoch, metrics)
        if epoch == 2:
            raise RuntimeError("worker lost")

    monkeypatch.setattr(SyntheticTrainer, "_on_epoch_end", crash_after_epoch_2)
    with pytest.raises(RuntimeError, match="worker lost"):
        train_run(cfg)
    monkeypatch.undo()
    client = MlflowClient(cfg.tracking.tracking_uri)
    exp_id = client.get_experiment_by_name(experiment_name(cfg)).experiment_id
    (failed,) = client.search_runs([exp_id])
    assert failed.info.status == "FAILED" and "worker lost" in failed.data.tags["hyco.error"]

    outcome = train_run(cfg)
    assert outcome.resumed is resume
    assert (outcome.run_id == failed.info.run_id) is resume
    assert outcome.results["epochs"] == 3
    runs = {r.info.run_id: r.info.status for r in client.search_runs([exp_id])}
    assert runs[outcome.run_id] == "FINISHED" and len(runs) == (1 if resume else 2)
    steps = _metric_steps(client, outcome.run_id)
    assert all(v == [1, 2, 3] for v in steps.values()), steps
