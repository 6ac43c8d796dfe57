"""HYCO co-training: which data each variant hands to which player, warm start, resume."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from hyco import metrics as M
from hyco.arms.baselines import build_physical_trainer, build_synthetic_trainer
from hyco.arms.hyco import HYCO_ALPHA, HYCO_PHASE, HYCOTrainer
from hyco.compose import compose_config
from hyco.data.cache import CacheReader
from hyco.data.generate import generate_dataset
from hyco.data.training_data import TrainingData
from hyco.tracking.run_logger import MemoryRunLogger
from hyco.training.context import RunContext
from hyco.training.hybrid import ObservedWindows

TINY = [
    "experiment=burgers_1d_quick", "physics.resolution=[16]", "data.num_train=3", "data.num_val=1",
    "data.num_test=1", "data.num_frames=6", "trainer.rollout_steps=2", "trainer.epochs=3",
    "trainer.physical_iterations_per_epoch=3", "trainer.physical_sims_per_fit=2", "trainer.batch_size=4",
    "synthetic.unet.levels=1", "synthetic.unet.filters=4", "observation.noise=0.02", "torch_threads=1",
]


class RecordingWindows(ObservedWindows):
    """Counts every access to initial conditions and to observations."""

    def __init__(self, dataset):
        super().__init__(dataset)
        self.calls = Counter()

    def initial_states(self, indices):
        self.calls["initial_states"] += 1
        return super().initial_states(indices)

    def observations(self, indices):
        self.calls["observations"] += 1
        return super().observations(indices)

    def observed_dataset(self):
        self.calls["observed_dataset"] += 1
        return super().observed_dataset()


def _cfg(tmp_path: Path, *overrides: str):
    return compose_config([*TINY, f"data.cache_dir={tmp_path / 'cache'}", *overrides], check=False)


def _hyco(tmp_path: Path, *overrides: str, ckpt: str = "ckpt"):
    cfg = _cfg(tmp_path, *overrides)
    data = TrainingData.open(cfg, CacheReader(generate_dataset(cfg, progress=False).path))
    logger = MemoryRunLogger()
    context = RunContext(logger, tmp_path / ckpt, log_memory=False)
    from hyco.physics.registry import build_physics

    model = build_physics(cfg.physics, cfg.data.ic)
    windows = RecordingWindows(data.train)
    trainer = HYCOTrainer(cfg, build_physical_trainer(cfg, model, data, context),
                          build_synthetic_trainer(cfg, model, data, context), windows, data.val, context)
    return trainer, windows, logger


def _record_synthetic_data(trainer):
    seen = []
    original = trainer.synthetic.train_epoch

    def spy(data):
        seen.append(data)
        return original(data)

    trainer.synthetic.train_epoch = spy
    return seen


def test_full_reads_only_initial_conditions(tmp_path):
    trainer, windows, logger = _hyco(tmp_path, "trainer=full")
    seen = _record_synthetic_data(trainer)
    trainer.train()
    assert windows.calls["initial_states"] > 0
    assert windows.calls["observations"] == 0 and windows.calls["observed_dataset"] == 0
    # the synthetic player only ever trained on the physical player's predictions
    assert seen and all(isinstance(d, TensorDataset) for d in seen)
    assert [s for s, _ in logger.history(M.PHYSICAL_TOTAL_LOSS)] == [1, 2, 3]


def test_warmstart_reads_observations_only_during_the_warm_start(tmp_path):
    trainer, windows, logger = _hyco(tmp_path, "trainer=warmstart", "trainer.hyco.warmstart_epochs=2",
                                     "trainer.epochs=4")
    seen = _record_synthetic_data(trainer)
    trainer.train()
    assert windows.calls["observed_dataset"] == 2
    assert windows.calls["observations"] == 0
    assert [type(d).__name__ for d in seen] == ["WindowDataset", "WindowDataset", "TensorDataset", "TensorDataset"]
    phases = [v for _, v in logger.history(HYCO_PHASE)]
    assert phases == [0.0, 0.0, 1.0, 1.0]
    # the physical player waits during the warm start
    assert [s for s, _ in logger.history(M.PHYSICAL_TOTAL_LOSS)] == [3, 4]


@pytest.mark.parametrize("variant", ["mixed", "cooperative"])
def test_data_term_variants_read_observations(tmp_path, variant):
    trainer, windows, logger = _hyco(tmp_path, f"trainer={variant}", "trainer.hyco.warmstart_epochs=0")
    trainer.train()
    assert windows.calls["observations"] >= 1  # read once, reused by both players every round


def test_alpha_in_effect_is_logged_per_round(tmp_path):
    trainer, _, logger = _hyco(tmp_path, "trainer=mixed", "trainer.hyco.alpha=0.9", "trainer.hyco.alpha_end=0.3",
                               "trainer.hyco.alpha_schedule=linear")
    trainer.train()
    assert [v for _, v in logger.history(HYCO_ALPHA)] == pytest.approx([0.9, 0.6, 0.3])


def test_ghost_initial_conditions_are_fresh_each_round_and_seeded(tmp_path):
    trainer, _, _ = _hyco(tmp_path, "trainer=cooperative", "trainer.hyco.ghost_ics=3")
    like = trainer.data.initial_states([0])
    a0 = trainer.ghost_initial_states(0, 3, like)
    a1 = trainer.ghost_initial_states(1, 3, like)
    assert a0.shape == (3, *like.shape[1:])
    assert not torch.allclose(a0, a1)
    assert torch.equal(a0, trainer.ghost_initial_states(0, 3, like))
    trainer.cfg.trainer.hyco.ghost_kind = "perturb"
    p0 = trainer.ghost_initial_states(0, 3, like)
    assert p0.shape == a0.shape and torch.isfinite(p0).all()


def test_predictions_handed_over_are_detached(tmp_path):
    trainer, windows, _ = _hyco(tmp_path, "trainer=full")
    x0 = windows.initial_states([0, 1])
    for pred in (trainer.synthetic_predictions(x0, 2), trainer.physical_predictions(x0, 2)):
        assert pred.shape == (2, 2, 1, 16)
        assert not pred.requires_grad


def test_resumed_hybrid_run_is_bit_identical(tmp_path):
    """Interrupt after round 2 of 4, resume from the checkpoint: same weights and nu as straight through."""
    straight, _, _ = _hyco(tmp_path, "trainer=cooperative", "trainer.epochs=4", "trainer.hyco.warmstart_epochs=1",
                           ckpt="straight")
    straight.train()

    first, _, logger = _hyco(tmp_path, "trainer=cooperative", "trainer.epochs=4",
                             "trainer.hyco.warmstart_epochs=1", ckpt="resumed")
    first.rounds = 2  # stop early, as a killed process would after its round-2 checkpoint
    first.train()
    second, _, _ = _hyco(tmp_path, "trainer=cooperative", "trainer.epochs=4", "trainer.hyco.warmstart_epochs=1",
                         ckpt="resumed")
    second.context.logger = logger
    second.train()
    for name, tensor in straight.synthetic.model.state_dict().items():
        assert torch.equal(tensor, second.synthetic.model.state_dict()[name]), name
    assert torch.equal(straight.physical.z["nu"], second.physical.z["nu"])
    assert [s for s, _ in logger.history(M.SYNTHETIC_TOTAL_LOSS)] == [1, 2, 3, 4]
