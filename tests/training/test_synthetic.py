"""SyntheticTrainer on tiny data; the trainer factory; the run fingerprint."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset
from training_helpers import toy_network, toy_windows, unit_cfg

from hyco.arms import build_trainer
from hyco.physics.registry import build_physics
from hyco.runs.train import open_training_data, run_fingerprint
from hyco.tracking.run_logger import MemoryRunLogger
from hyco.training.context import RunContext
from hyco.training.networks import input_channels
from hyco.training.physical import PhysicalTrainer
from hyco.training.synthetic import SyntheticTrainer


def test_train_epoch_decreases_the_loss():
    trainer = SyntheticTrainer(unit_cfg(batch_size=1, lr=1e-2), toy_network())
    data = toy_windows(n=8, steps=2)
    losses = [trainer.train_epoch(data) for _ in range(6)]  # measured: 0.084 -> 0.0033
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.2 * losses[0], losses
    assert min(losses[3:]) < min(losses[:3]), losses
    assert trainer.step == 6 * 8  # eight windows, one per batch
    assert trainer.validation_loss(data) < 0.2 * losses[0]


def test_unobserved_points_do_not_influence_training():
    """Targets at masked-out points are ignored entirely (even NaN or huge values)."""
    clean = toy_windows(n=4, steps=3)
    x0, targets, _ = clean.tensors
    masks = torch.ones_like(targets)
    masks[:, 1] = 0  # one whole unobserved frame
    masks[..., ::3] = 0  # and a sparse sensor pattern
    garbage = targets.clone()
    garbage[masks == 0] = float("nan")
    garbage[:, 1, :, ::2] = 1e6

    results = []
    for y in (targets, garbage):
        trainer = SyntheticTrainer(unit_cfg(batch_size=2, lr=1e-2), toy_network())
        loss = trainer.train_epoch(TensorDataset(x0, y, masks))
        results.append((loss, trainer.model.state_dict()))
    assert results[0][0] == results[1][0]
    for key, value in results[0][1].items():
        assert torch.equal(value, results[1][1][key]), key


def test_fully_unobserved_windows_give_zero_loss_and_leave_weights_alone():
    x0, targets, masks = toy_windows(n=4).tensors
    trainer = SyntheticTrainer(unit_cfg(batch_size=4), toy_network())
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    loss = trainer.train_epoch(TensorDataset(x0, targets, torch.zeros_like(masks)))
    assert loss == 0.0
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, before[key]), key


class _Recorder(nn.Module):
    """Wraps a network and records every input and output."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.inputs: list = []
        self.outputs: list = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x)
        self.inputs.append(x.detach().clone())
        self.outputs.append(y.detach().clone())
        return y


def test_static_channels_are_appended_at_every_rollout_step():
    data = toy_windows(n=4, steps=3, static=2)
    x0, targets, _ = data.tensors
    assert x0.shape[1] == 3 and targets.shape[2] == 1
    model = _Recorder(toy_network(in_channels=3, out_channels=1))
    trainer = SyntheticTrainer(unit_cfg(batch_size=4, lr=1e-2), model)
    trainer.train_epoch(data)  # one batch of four (shuffled) windows
    trainer.train_epoch(data)  # a trained head: predictions differ from the input state
    model.inputs.clear(), model.outputs.clear()

    loss = trainer.validation_loss(data)  # no shuffling: the batch is the dataset in order
    assert loss > 0
    assert len(model.inputs) == 3  # one call per rollout step
    assert torch.equal(model.inputs[0], x0)
    for k, inputs in enumerate(model.inputs):
        assert inputs.shape == (4, 3, 16)
        assert torch.equal(inputs[:, 1:], x0[:, 1:]), f"step {k}: static channels changed"
        if k:  # the dynamic channel is the previous prediction
            assert torch.equal(inputs[:, :1], model.outputs[k - 1])
            assert not torch.equal(inputs[:, :1], x0[:, :1])
    assert all(out.shape == (4, 1, 16) for out in model.outputs)

    predictions = trainer.predict(x0[:, :1], 5, static=x0[:, 1:])
    assert predictions.shape == (4, 5, 1, 16)
    assert torch.equal(predictions[:, 0], model.outputs[0])


def test_a_dataset_used_for_training_and_validation_keeps_its_own_orders():
    """Validation never shuffles, even on the dataset that training shuffles (and vice versa)."""
    data = toy_windows(n=8, steps=1)
    model = _Recorder(toy_network())
    trainer = SyntheticTrainer(unit_cfg(batch_size=8), model)
    trainer.validation_loss(data)
    trainer.train_epoch(data)
    trainer.validation_loss(data)
    x0 = data.tensors[0]
    first_val, train, second_val = model.inputs
    assert torch.equal(first_val, x0) and torch.equal(second_val, x0)
    assert not torch.equal(train, x0) and torch.equal(train.sort(0).values, x0.sort(0).values)


def test_datasets_of_past_rounds_are_released():
    """HYCO trains on a new dataset every round; the trainer must not keep them all alive."""
    import gc
    import weakref

    trainer = SyntheticTrainer(unit_cfg(batch_size=4), toy_network())
    first = toy_windows(n=4, seed=0)
    ref = weakref.ref(first)
    trainer.train_epoch(first)
    del first
    for seed in range(1, 8):
        trainer.train_epoch(toy_windows(n=4, seed=seed))
    gc.collect()
    assert ref() is None


def test_empty_training_data_is_a_clear_error():
    trainer = SyntheticTrainer(unit_cfg(), toy_network())
    empty = TensorDataset(torch.zeros(0, 1, 16), torch.zeros(0, 2, 1, 16), torch.zeros(0, 2, 1, 16))
    with pytest.raises(ValueError, match="empty"):
        trainer.train_epoch(empty)
    with pytest.raises(ValueError, match="needs train_data and a RunContext"):
        trainer.train()


# ------------------------------------------------------------------------------ factory
def test_build_trainer_builds_the_trainer_of_each_arm(make_cfg, tmp_path):
    cfg = make_cfg("data.static_fields=[nu]")
    data, _ = open_training_data(cfg)
    context = RunContext(MemoryRunLogger(), tmp_path / "ckpt", log_memory=False)
    model = build_physics(cfg.physics, cfg.data.ic)
    assert input_channels(cfg, model) == (2, 1)

    synthetic = build_trainer(cfg, data, context, model)
    assert type(synthetic) is SyntheticTrainer
    assert synthetic.train_data is data.train and synthetic.val_data is data.val
    assert synthetic.context is context
    x0, targets, _ = data.train[0]
    assert x0.shape == (2, 16)  # velocity + the static nu field
    with torch.no_grad():
        assert synthetic.model(x0[None]).shape == (1, 1, 16)

    cfg.trainer.variant = "physical_only"
    physical = build_trainer(cfg, data, context, model)
    assert type(physical) is PhysicalTrainer and physical.learnable == ["nu"]
    assert physical.context is context


def test_an_unknown_arm_stops_at_composition(make_overrides):
    from hyco.compose import compose_config
    from hyco.errors import ConfigError

    with pytest.raises(ConfigError, match="trainer.variant: unknown arm 'hyco_plus'"):
        compose_config(make_overrides("trainer.variant=hyco_plus"))


# ------------------------------------------------------------------------------ fingerprint
def test_run_fingerprint_ignores_where_and_how_a_run_is_recorded(make_cfg, fresh_tracking, tmp_path):
    base = run_fingerprint(make_cfg())
    other = fresh_tracking("elsewhere")
    same = [
        make_cfg(tracking=other),
        make_cfg("tracking.experiment_name=other", "tracking.run_name=x", "tracking.log_memory=false"),
        make_cfg("task=[generate,train,evaluate]"),
        make_cfg("evaluation.horizon=3", "sweep.n_trials=2", "torch_threads=2"),
        make_cfg("trainer.resume=false", "data.regenerate=true"),
        make_cfg(f"data.cache_dir='{tmp_path / 'another_cache'}'", "data.max_cached_sims=1"),
    ]
    assert [run_fingerprint(c) for c in same] == [base] * len(same)
    changed = [
        make_cfg("trainer.lr=0.002"),
        make_cfg("trainer.epochs=4"),
        make_cfg("seed=1"),
        make_cfg("physics.params.nu.initial_guess=0.02"),
        make_cfg("trainer=physical_only"),
    ]
    prints = [run_fingerprint(c) for c in changed]
    assert base not in prints and len(set(prints)) == len(prints)
    assert len(base) == 16 and int(base, 16) >= 0
