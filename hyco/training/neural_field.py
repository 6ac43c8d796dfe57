"""The synthetic player of a reconstruction problem: a neural field fitted to scattered points.

One epoch is one pass over the observed points in shuffled batches of ``trainer.batch_size``
(the order seeded by ``(seed, epoch)``), each batch one optimiser step on

    lambda_data * MSE(S(points), values) + lambda_int * MSE(S(ghosts), targets)

where the ghost targets (the physical model's predictions there, detached) enter every step: all
of the epoch's ghost points (``ghost_batch = 0``, the heat paper's single full-batch step) or
``ghost_batch`` of them drawn afresh for each step (Gray–Scott's batches of the physical
model's full-grid prediction). After the epochs, an optional L-BFGS pass on the
data term polishes the fit (the Gray–Scott papers' post-training). Checkpoints carry the network's
spec like every other network checkpoint.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Callable, Dict, Optional

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from hyco.data.scattered import ScatteredData
from hyco.synthetic.registry import NetworkSpec
from hyco.training.base import check_finite
from hyco.training.tensor import TensorTrainer, optimizer_step

DATA_LOSS = "synthetic_field_data_mse"
log = logging.getLogger(__name__)

_CHUNK = 65536  # points per forward pass when predicting (bounds the memory of a 1M-point query)


class NeuralFieldTrainer(TensorTrainer):
    """Trains a neural field (``synthetic.name`` of kind ``field``) on :class:`ScatteredData`."""

    LAST, BEST = "synthetic_last.pt", "synthetic_best.pt"

    def __init__(self, cfg: DictConfig, model: nn.Module, total_epochs: Optional[int] = None,
                 network_spec: Optional[NetworkSpec] = None, data: Optional[ScatteredData] = None) -> None:
        super().__init__(cfg, model, total_epochs, network_spec)
        self.data = data
        self.terms: Dict[str, float] = {"data": 0.0, "interaction": 0.0, "total": 0.0}

    def train(self) -> Dict[str, Any]:
        """``trainer.epochs`` passes over the points it was given (no tracking: the arms' loop,
        :class:`~hyco.arms.reconstruction.ReconstructionTrainer`, is what runs log)."""
        if self.data is None:
            raise ValueError("NeuralFieldTrainer.train needs the data it was built with")
        return self.fit(self.data)

    # ------------------------------------------------------------------ predictions
    def predict(self, points: torch.Tensor, grad: bool = False) -> torch.Tensor:
        """The field at ``points [N, dim + 1]``: ``[N, C]`` (in chunks; detached unless ``grad``)."""
        if grad:
            return self.model(points.to(self.device))
        self.model.eval()
        with torch.no_grad():
            out = [self.model(chunk.to(self.device)).cpu() for chunk in torch.split(points, _CHUNK)]
        return torch.cat(out) if out else torch.zeros(0, self.model.out_channels)

    def data_loss(self, data: ScatteredData, batch: Optional[Dict[str, torch.Tensor]] = None) -> torch.Tensor:
        """Mean squared misfit over the observed points (or a batch of them: ``{field: indices}``)."""
        total, count = 0.0, 0
        for name, obs in data.observed.items():
            index = None if batch is None else batch[name]
            points = obs.points if index is None else obs.points[index]
            values = obs.values if index is None else obs.values[index]
            if len(points) == 0:
                continue
            pred = self.model(points.to(self.device))[:, obs.channels]
            total = total + (pred - values.to(self.device)).square().sum()
            count += values.numel()
        return total / max(count, 1)

    # ------------------------------------------------------------------ one epoch
    def batches(self, data: ScatteredData):
        """This epoch's batches: ``[{field: indices}]``, a shuffled pass over every field's points."""
        gen = np.random.default_rng([int(self.cfg.seed) % (1 << 63), 0xF1E1D, self.epoch])
        size = max(1, int(self.cfg.trainer.batch_size))
        orders = {n: gen.permutation(len(o.points)) for n, o in data.observed.items()}
        steps = max(1, max(math.ceil(len(o) / size) for o in orders.values()))
        return [{n: torch.as_tensor(o[k * size:(k + 1) * size]) for n, o in orders.items()} for k in range(steps)]

    def train_epoch(self, data: Any, ghosts: Optional[tuple] = None, lambda_data: float = 1.0,
                    lambda_int: float = 0.0, ghost_batch: int = 0) -> float:
        """One pass over ``data`` (a :class:`ScatteredData`); ``ghosts = (points, targets)`` adds
        the interaction term (``ghost_batch``: module docstring). Returns the mean total loss; the
        terms go to :attr:`terms`."""
        self.model.train()
        tr = self.cfg.trainer
        gen = np.random.default_rng([int(self.cfg.seed) % (1 << 63), 0x6A57, self.epoch])
        sums = {"data": 0.0, "interaction": 0.0, "total": 0.0}
        batches = self.batches(data)
        for batch in batches:
            loss_data = self.data_loss(data, batch)
            loss = lambda_data * loss_data
            loss_int = torch.zeros(())
            if ghosts is not None and lambda_int > 0 and len(ghosts[0]):
                points, targets = ghosts
                if 0 < ghost_batch < len(points):
                    pick = torch.as_tensor(gen.choice(len(points), size=int(ghost_batch), replace=False))
                    points, targets = points[pick], targets[pick]
                loss_int = (self.model(points.to(self.device)) - targets.to(self.device)).square().mean()
                loss = loss + lambda_int * loss_int
            if self.step == tr.inject_nan_at_step:
                loss = loss * float("nan")  # test hook: simulate a diverging step
            check_finite(float(loss.detach()), term=DATA_LOSS, step=self.step, where=f"epoch {self.epoch + 1}")
            optimizer_step(loss, [self.optimizer], self.model.parameters(), tr.grad_clip)
            self.step += 1
            sums["data"] += float(loss_data.detach())
            sums["interaction"] += float(loss_int.detach())
            sums["total"] += float(loss.detach())
        self.terms = {k: v / len(batches) for k, v in sums.items()}
        return self.terms["total"]

    @torch.no_grad()
    def validation_loss(self, data: Any) -> float:
        """The data misfit over every observed point (no update)."""
        self.model.eval()
        return float(self.data_loss(data))

    def lbfgs(self, data: ScatteredData, steps: int, ghosts: Optional[tuple] = None, lambda_data: float = 1.0,
              lambda_int: float = 0.0, max_iter: int = 20, start: int = 0, state: Optional[Dict[str, Any]] = None,
              checkpoint: Optional[Callable[[int, Dict[str, Any], float], None]] = None,
              checkpoint_every: int = 10) -> float:
        """L-BFGS post-training as the Gray–Scott paper runs it: ``steps`` optimiser steps of at most
        ``max_iter`` iterations each (lr 1, no line search, history 100), on the full-batch
        ``lambda_data * data + lambda_int * MSE(S(ghosts), targets)``; returns the final data misfit.

        The phase can take hours, so it is resumable: every ``checkpoint_every`` steps (and after
        the last) ``checkpoint(steps_done, optimiser_state, loss)`` is called, and a call with
        ``start`` and that ``state`` continues exactly where the saved one stood."""
        if steps <= 0:
            return self.validation_loss(data)
        self.model.train()
        optimiser = torch.optim.LBFGS(self.model.parameters(), lr=1.0, max_iter=int(max_iter), tolerance_grad=1e-7,
                                      tolerance_change=1e-9, history_size=100)
        if state is not None:
            optimiser.load_state_dict(state)
        use_ghosts = ghosts is not None and lambda_int > 0 and len(ghosts[0]) > 0

        def closure():
            optimiser.zero_grad(set_to_none=True)
            loss = lambda_data * self.data_loss(data)
            if use_ghosts:
                pred = torch.cat([self.model(c.to(self.device)) for c in torch.split(ghosts[0], _CHUNK)])
                loss = loss + lambda_int * (pred - ghosts[1].to(self.device)).square().mean()
            loss.backward()
            return loss

        began, every = time.perf_counter(), max(1, int(steps) // 10)
        for step in range(int(start), int(steps)):
            loss = optimiser.step(closure)
            check_finite(float(loss.detach()), term=DATA_LOSS, step=self.step,
                         where=f"L-BFGS post-training step {step + 1}")
            self.step += 1
            done = step + 1
            if checkpoint is not None and (done % max(1, int(checkpoint_every)) == 0 or done == int(steps)):
                checkpoint(done, optimiser.state_dict(), float(loss.detach()))
            if done % every == 0:  # a long phase (hours on a CPU for Gray–Scott): say where it is
                spent = time.perf_counter() - began
                log.info("L-BFGS post-training: step %d/%d, loss %.3g, %.0f s (about %.0f s left)", done,
                         steps, float(loss.detach()), spent, spent / (done - start) * (int(steps) - done))
        return self.validation_loss(data)
