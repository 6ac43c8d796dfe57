"""Damaged state, tried on purpose: a flipped byte in a checkpoint's weights or in a parameter file
is refused, naming the file; an evaluation that turns non-finite never overwrites a finished run's
metrics; lock files and a half-written cache entry of a writer that is gone are cleaned up."""

from __future__ import annotations

import fcntl
import json
import math
import os

import numpy as np
import pytest
import torch
from fault_helpers import flip_weight_bytes, one_line

from hyco import tracking
from hyco.app.cli import run_main
from hyco.core.checkpoints import (
    RUN_TAG,
    load_checkpoint,
    load_json_checkpoint,
    save_checkpoint,
    save_json_checkpoint,
)
from hyco.core.locks import clean_stale_locks, file_lock
from hyco.errors import EXIT_DATA, EXIT_NUMERIC, CheckpointError
from hyco.evaluation import evaluate_run
from hyco.runs.train import train_run


def test_a_flipped_weight_byte_is_refused_naming_the_file(tmp_path):
    path = save_checkpoint(tmp_path / "synthetic_best.pt", {"model": {"w": torch.linspace(0, 1, 4096)}, "epoch": 3})
    assert load_checkpoint(path)["epoch"] == 3
    flip_weight_bytes(path)
    assert torch.load(path, weights_only=True)["epoch"] == 3  # torch itself loads it without a word
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(path) in str(err.value) and "checksum" in str(err.value)


def test_a_changed_digit_in_a_parameter_file_is_refused(tmp_path):
    path = save_json_checkpoint(tmp_path / "physical_params.json", {"params": {"nu": 0.0123456}, "epoch": 2})
    assert load_json_checkpoint(path)["params"] == {"nu": 0.0123456}
    path.write_text(path.read_text().replace("0.0123456", "0.0123457"))  # the 7th digit
    with pytest.raises(CheckpointError, match="physical_params.json does not match the checksum"):
        load_json_checkpoint(path)
    old = tmp_path / "old.json"  # a file of an earlier release, without a digest, still loads
    old.write_text(json.dumps({"params": {"nu": 0.01}}))
    assert load_json_checkpoint(old) == {"params": {"nu": 0.01}}


@pytest.fixture
def finished_run(make_cfg):
    """A trained and evaluated tiny synthetic_only run: ``(cfg overrides, run id, metrics, checkpoint dir)``."""
    overrides = ["evaluation.figures=false", "tracking.log_model=false", "tracking.log_memory=false"]
    cfg = make_cfg(*overrides)
    outcome = train_run(cfg)
    cfg.evaluation.run_id = outcome.run_id
    evaluate_run(cfg)
    record = tracking.get_run(outcome.run_id, cfg.tracking)
    ckpt = tracking.artifact_dir(outcome.run_id, cfg.tracking) / "checkpoints"
    assert set(json.loads(record.tags[RUN_TAG])) >= {"synthetic_best.pt", "synthetic_last.pt"}
    return cfg, outcome.run_id, record.metrics, ckpt


def test_evaluating_a_run_whose_checkpoint_was_damaged_is_refused_and_keeps_its_results(finished_run, make_overrides,
                                                                                         capsys):
    cfg, run_id, metrics, ckpt = finished_run
    flip_weight_bytes(ckpt / "synthetic_best.pt")
    code = run_main([*make_overrides("evaluation.figures=false"), "task=[evaluate]", f"evaluation.run_id={run_id}"])
    assert code == EXIT_DATA
    line = one_line(capsys.readouterr().err)
    assert line.startswith("data error: checkpoint ") and str(ckpt / "synthetic_best.pt") in line
    assert tracking.get_run(run_id, cfg.tracking).metrics == metrics  # nothing was logged over them


def test_a_non_finite_re_evaluation_never_overwrites_recorded_metrics(finished_run, make_overrides, capsys,
                                                                     monkeypatch):
    import hyco.evaluation.evaluate as evaluate

    cfg, run_id, metrics, _ = finished_run
    key = "eval/test/synthetic/rel_l2_mean"
    assert math.isfinite(metrics[key])
    real = evaluate.relative_l2_per_step
    monkeypatch.setattr(evaluate, "relative_l2_per_step", lambda p, t: real(p, t) * np.inf)  # a model gone bad
    code = run_main([*make_overrides("evaluation.figures=false"), "task=[evaluate]", f"evaluation.run_id={run_id}"])
    assert code == EXIT_NUMERIC
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"numerical failure: evaluation of run {run_id} gave non-finite") and "nothing was logged" \
        in line
    assert tracking.get_run(run_id, cfg.tracking).metrics == metrics
    assert len(tracking.get_metric_history(run_id, key, cfg.tracking)) == 1


# ------------------------------------------------------------------------------------- locks
def test_lock_files_go_with_their_last_holder_and_stale_ones_are_cleaned(tmp_path):
    path = tmp_path / "k.lock"
    with file_lock(path):
        assert path.exists()
    assert not path.exists()
    with file_lock(path, shared=True):  # two readers: the file stays until the last one leaves
        with file_lock(path, shared=True):
            pass
        assert path.exists()
    assert not path.exists()
    stale, held = tmp_path / "stale.lock", tmp_path / "held.lock"
    stale.write_text("")  # a killed holder's leftover
    fd = os.open(held, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # held by a live "process"
    try:
        assert clean_stale_locks(tmp_path) == [stale]
        assert held.exists()
        with pytest.raises(TimeoutError, match="held.lock"):
            with file_lock(held, timeout=0.2):
                pass
    finally:
        os.close(fd)
