"""Hybrid training: the physical and the synthetic player train on each other's predictions.

:class:`HybridTrainer` owns both players, the Field/tensor converter (through the physical
model) and the observed data, and produces each player's *detached* predictions from
ground-truth and ghost initial conditions. It has no training loop of its own: subclasses
orchestrate by passing data to :meth:`PhysicalTrainer.fit` and :meth:`SyntheticTrainer.train_epoch`.

Ghost initial conditions (``trainer.hyco.ghost_ics`` per round, fresh each round):
``ghost_kind=prior`` samples the physical model's own IC prior with seeds derived from
``(seed, round)`` — this assumes the prior that generated the training ICs is known, which holds
for simulated benchmarks and is the papers' setting; ``ghost_kind=perturb`` perturbs observed
ICs by ``ghost_perturbation`` × their RMS instead, assuming nothing about the prior.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import Dataset

from hyco.training.base import AbstractTrainer
from hyco.training.context import RunContext
from hyco.training.physical import PhysicalTrainer
from hyco.training.synthetic import SyntheticTrainer

log = logging.getLogger(__name__)


class ObservedWindows:
    """The hybrid's access to observed training windows, with ICs and observations apart.

    ``initial_states`` is all a variant without a data term may read; ``observations`` is the
    data term's access, so a recording subclass can prove which variant reads what.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def initial_states(self, indices: Sequence[int]) -> torch.Tensor:
        return torch.stack([self.dataset[int(i)][0] for i in indices])

    def observations(self, indices: Sequence[int]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Observed targets and masks ``[B, K, ·, *s]`` of the given windows."""
        items = [self.dataset[int(i)] for i in indices]
        return torch.stack([it[1] for it in items]), torch.stack([it[2] for it in items])

    def observed_dataset(self) -> Dataset:
        """All observed windows, for training on observations (warm start)."""
        return self.dataset


class HybridTrainer(AbstractTrainer):
    """Base of hybrid strategies: both players, their predictions, ghost ICs; ``train()`` in subclasses.

    Parameters
    ----------
    physical, synthetic
        The two players; they keep their own optimisation state.
    data
        Observed training windows.
    val_data
        Observed validation windows, for each player's data misfit (None: not measured).
    context
        Logger and checkpoint directory of the run.
    """

    def __init__(self, cfg: DictConfig, physical: PhysicalTrainer, synthetic: SyntheticTrainer,
                 data: ObservedWindows, val_data: Optional[Dataset] = None,
                 context: Optional[RunContext] = None) -> None:
        super().__init__(cfg)
        self.physical = physical
        self.synthetic = synthetic
        self.data = data
        self.val_data = val_data
        self.context = context
        self.model = physical.model
        self.converter = physical.model.converter
        self.channels = sum(self.model.channels.values())
        self.chunk = max(1, 4 * int(cfg.trainer.batch_size))

    # ------------------------------------------------------------------ predictions
    def _split(self, x0: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        static = x0[:, self.channels:] if x0.shape[1] > self.channels else None
        return x0[:, : self.channels], static

    def synthetic_predictions(self, initial_states: torch.Tensor, steps: int) -> torch.Tensor:
        """The synthetic model's detached rollout ``[B, steps, C, *s]`` from ``[B, C_in, *s]``."""
        out = []
        for chunk in torch.split(initial_states, self.chunk):
            x0, static = self._split(chunk)
            out.append(self.synthetic.predict(x0, steps, static).cpu())
        return torch.cat(out).detach()

    def physical_predictions(self, initial_states: torch.Tensor, steps: int) -> torch.Tensor:
        """The physical model's detached rollout with its current parameters."""
        params = self.physical.physics_params(self.physical.z)
        out = []
        with torch.no_grad():
            for chunk in torch.split(initial_states, self.chunk):
                out.append(self.physical.rollout_tensor(chunk.to(self.model.device), steps, params).cpu())
        return torch.cat(out).detach()

    # ------------------------------------------------------------------ ghost ICs
    def ghost_initial_states(self, round_index: int, count: int, like: torch.Tensor, kind: str = "prior",
                             perturbation: float = 0.1) -> torch.Tensor:
        """``count`` fresh ICs for this round (see the module docstring), with ``like``'s static
        channels: ``kind`` ``prior`` or ``perturb`` (by ``perturbation`` x their RMS)."""
        if count <= 0:
            return like[:0]
        seed = int(self.cfg.seed) * 1_000_003 + 7_777_777 + round_index * 1_009
        if kind == "prior":
            seeds = [seed + i for i in range(count)]
            state = self.model.initial_state(count, seeds)
            dynamic = self.converter.state_to_tensor(state, self.model.dynamic_fields).detach().cpu().float()
        else:
            rng = np.random.default_rng(seed)
            picks = rng.integers(0, len(self.data), size=count)
            base = self.data.initial_states(picks)[:, : self.channels]
            rms = base.pow(2).mean(dim=tuple(range(1, base.ndim)), keepdim=True).sqrt()
            noise = torch.from_numpy(rng.standard_normal(base.shape).astype(np.float32))
            dynamic = base + float(perturbation) * rms * noise
        static = (like[:1, self.channels:].expand(count, *like.shape[1:]).clone()
                  if like.shape[1] > self.channels else None)
        return dynamic if static is None else torch.cat([dynamic, static], dim=1)

    @abstractmethod
    def train(self) -> Dict[str, Any]:
        """The hybrid strategy (see :class:`HYCOTrainer`)."""
