"""Checkpoints: exact round trips, atomic writes, refusal of pickled code, JSON parameter files."""

from __future__ import annotations

import math
import os
import pickle
import random

import numpy as np
import pytest
import torch
from training_helpers import toy_network, toy_windows, unit_cfg

from hyco.core.checkpoints import load_checkpoint, save_checkpoint, tensors_finite
from hyco.core.files import load_json, save_json
from hyco.errors import CheckpointError
from hyco.training.rng import capture_rng_state, restore_rng_state
from hyco.training.synthetic import SyntheticTrainer


def _trainer(seed: int = 0, **overrides) -> SyntheticTrainer:
    cfg = unit_cfg(epochs=4, batch_size=2, lr=3e-3, scheduler="step", step_size=1, gamma=0.7,
                   optimizer="adamw", weight_decay=1e-3, **overrides)
    return SyntheticTrainer(cfg, toy_network(seed=seed))


def _draws() -> tuple:
    return torch.rand(4), np.random.rand(4), [random.random() for _ in range(4)]


def _assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_round_trip_restores_an_identical_continuation(tmp_path):
    data = toy_windows(n=6)
    first = _trainer()
    first.fit(data, epochs=2)
    path = first.save(tmp_path / "ckpt.pt", {"note": "two epochs"})
    rng_after_save = _draws()
    first.fit(data, epochs=4)  # the uninterrupted continuation

    second = _trainer(seed=123)  # other initial weights, optimizer and RNG state
    torch.manual_seed(99), np.random.seed(99), random.seed(99)
    state = second.load(path)
    assert state["note"] == "two epochs"
    assert (second.epoch, second.step) == (2, 6)
    assert second.lr == pytest.approx(3e-3 * 0.7 ** 2)
    rng = _draws()  # every RNG continues where it was when the checkpoint was written
    assert torch.equal(rng[0], rng_after_save[0])
    assert np.array_equal(rng[1], rng_after_save[1]) and rng[2] == rng_after_save[2]

    second.fit(data, epochs=4)
    _assert_same_state(first.model.state_dict(), second.model.state_dict())
    assert second.scheduler.state_dict() == first.scheduler.state_dict()
    for s1, s2 in zip(first.optimizer.state_dict()["state"].values(),
                      second.optimizer.state_dict()["state"].values()):
        _assert_same_state(s1, s2)
    assert (second.epoch, second.step) == (first.epoch, first.step) == (4, 12)


def test_rng_state_round_trips_through_a_checkpoint(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    np.random.randn()  # leaves a cached Gaussian in numpy's state
    save_checkpoint(tmp_path / "rng.pt", {"rng": capture_rng_state()})
    expected = _draws() + (np.random.randn(),)
    torch.manual_seed(7), np.random.seed(7), random.seed(7)
    restore_rng_state(load_checkpoint(tmp_path / "rng.pt")["rng"])
    got = _draws() + (np.random.randn(),)
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert got[2] == expected[2] and got[3] == expected[3]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_resume_on_cuda_restores_the_cpu_rng_states(tmp_path):
    """``TensorTrainer.load`` maps the checkpoint to the training device; RNG states must
    still go back to the CPU generators."""
    cfg = unit_cfg(epochs=1, batch_size=2)
    cfg.device = "cuda"
    trainer = SyntheticTrainer(cfg, toy_network())
    trainer.fit(toy_windows(n=4), epochs=1)
    trainer.save(tmp_path / "c.pt")
    other = SyntheticTrainer(cfg, toy_network(seed=5))
    other.load(tmp_path / "c.pt")
    assert other.epoch == 1


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    path = tmp_path / "ckpt" / "last.pt"
    save_checkpoint(path, {"w": torch.ones(3), "epoch": 1})
    save_json(tmp_path / "ckpt" / "params.json", {"nu": 0.01})
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt", "params.json"]

    # A write that fails half-way (an unpicklable object) keeps the previous file intact.
    with pytest.raises(Exception):
        save_checkpoint(path, {"w": torch.zeros(3), "epoch": 2, "bad": lambda: None})
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt", "params.json"]
    state = load_checkpoint(path)
    assert state["epoch"] == 1 and torch.equal(state["w"], torch.ones(3))


class _Exploit:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_a_crafted_pickle_is_refused_and_never_executed(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoints" / "synthetic_last.pt"
    path.parent.mkdir()
    payload = {"model": {"w": torch.ones(2)}, "epoch": 3, "rng": _Exploit(marker)}
    if writer == "pickle":
        with open(path, "wb") as handle:
            pickle.dump(payload, handle)
    else:
        torch.save(payload, path)

    with pytest.raises(CheckpointError, match="refusing to load checkpoint") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)
    assert not marker.exists()

    # The payload is live: an unsafe loader would have run it.
    if writer == "pickle":
        with open(path, "rb") as handle:
            pickle.load(handle)
    else:
        torch.load(path, weights_only=False)
    assert marker.exists()


def test_trainer_resume_refuses_a_crafted_checkpoint(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"model": _Exploit(marker)}, tmp_path / "last.pt")
    with pytest.raises(CheckpointError):
        _trainer().load(tmp_path / "last.pt")
    assert not marker.exists()


def test_missing_or_truncated_checkpoints_raise_helpful_errors(tmp_path):
    missing = tmp_path / "nope" / "synthetic_last.pt"
    with pytest.raises(CheckpointError, match="does not exist") as err:
        load_checkpoint(missing)
    assert str(missing) in str(err.value) and "task=[train]" in str(err.value)

    good = save_checkpoint(tmp_path / "good.pt", {"w": torch.arange(1000.0)})
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="corrupt") as err:
        load_checkpoint(truncated)
    assert "Delete it" in str(err.value)


def test_json_parameter_files_round_trip(tmp_path):
    payload = {"epoch": 2, "params": {"nu": [[0.01, 0.02], [0.03, 0.04]]},
               "history": [{"epoch": 1, "param_nu": 0.012}], "note": "ok"}
    path = save_json(tmp_path / "physical_params.json", payload)
    assert load_json(path) == payload
    # Non-finite floats are written as strings: the file stays valid, strict JSON.
    save_json(path, {"loss": float("inf"), "vals": [1.0, float("nan")]})
    assert load_json(path) == {"loss": "inf", "vals": [1.0, "nan"]}

    with pytest.raises(CheckpointError, match="does not exist"):
        load_json(tmp_path / "missing.json")
    path.write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_json(path)


def test_tensors_finite():
    assert tensors_finite({"a": torch.ones(2), "step": torch.tensor(3), "n": 1})
    assert not tensors_finite({"a": torch.tensor([1.0, math.nan])})
    assert not tensors_finite({"a": torch.tensor([math.inf])})


def test_non_finite_weights_are_never_written_over_a_good_checkpoint(tmp_path):
    trainer = _trainer()
    path = trainer.save(tmp_path / "last.pt")
    with torch.no_grad():
        next(trainer.model.parameters()).fill_(math.nan)
    with pytest.raises(FloatingPointError, match="non-finite"):
        trainer.save(path)
    assert tensors_finite(load_checkpoint(path)["model"])
