"""The ``aphynity`` arm: the physical model augmented by a network correction (Yin et al., ICLR 2021).

The forecaster is ``u_{t+1} = P_θ(u_t) + F_w(u_t)``: one step of the differentiable physical
model with learnable parameters ``θ`` plus a network correction ``F_w`` (the configured network,
the UNet of the other arms, built by :func:`~hyco.training.networks.build_model_network`). It
is the discrete-time form of APHYNITY's ``dX/dt = F_p(X; θ) + F_a(X)``. Both are trained jointly
on the observed rollout windows with

    loss = λ · L_traj + mean_k |F_w(u_k)|²,     λ ← λ + τ · L_traj after each update,

where ``L_traj`` is the masked ``K``-step rollout misfit (the same as every other arm) and the
correction norm is averaged over the ``K`` steps of the window. The penalty keeps ``F_w`` as small
as the data allow, so ``P_θ`` explains what it can (the paper's identifiability argument); the
multiplier update is the paper's, with ``λ₀ = trainer.aphynity.lambda0`` and
``τ = trainer.aphynity.tau``. The network weights use the synthetic player's optimiser
(``trainer.lr``, ``optimizer``, ``scheduler``); ``θ`` uses Adam with ``trainer.physical_lr`` in
the physical trainer's unconstrained space (``trainer.physical_optimizer`` does not apply: θ
moves at every network update). One epoch is one pass over the training windows.

Evaluation: the augmented forecaster (the network and ``θ`` of its best checkpoint) fills the
"synthetic" columns (:func:`augmented_player`); ``P_θ`` alone, from ``physical_params.json``
(the last epoch), the "physical" columns; and the parameter recovery.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn
from torch.utils.data import DataLoader, Dataset

from hyco import metrics as M
from hyco.arms.players import physical_player
from hyco.arms.spec import (
    SYNTHETIC_KEYS,
    ArmSpec,
    Player,
    PlayerContext,
    TrainedPlayer,
    register_arm,
)
from hyco.config.schema import ranged
from hyco.core.checkpoints import first_existing, load_checkpoint
from hyco.data.training_data import TrainingData
from hyco.physics.base import PhysicalModel
from hyco.synthetic.checkpoint import spec_of
from hyco.synthetic.rollout import masked_rollout_loss, rollout
from hyco.training.base import check_finite
from hyco.training.context import RunContext
from hyco.training.networks import build_model_network
from hyco.training.physical import PhysicalTrainer
from hyco.training.synthetic import SyntheticTrainer
from hyco.training.tensor import optimizer_step

log = logging.getLogger(__name__)

TRAJECTORY_LOSS = "aphynity_trajectory_mse"
CORRECTION_LOSS = "aphynity_correction_norm"
APHYNITY_DATA_LOSS = "aphynity/data_loss"
APHYNITY_CORRECTION_NORM = "aphynity/correction_norm"
APHYNITY_LAMBDA = "aphynity/lambda"
METRICS = {APHYNITY_DATA_LOSS: "augmented forecaster's trajectory misfit, per epoch",
           APHYNITY_CORRECTION_NORM: "mean |F_w(u)|^2 of the correction, per epoch",
           APHYNITY_LAMBDA: "multiplier of the misfit after the epoch"}


@dataclass
class AphynityConfig:
    """APHYNITY's own knobs, node ``trainer.aphynity``."""

    lambda0: float = ranged(1.0, 0.0)  # initial multiplier of the trajectory misfit
    tau: float = ranged(1.0, 0.0)  # multiplier step: lambda <- lambda + tau * L_traj after each update


def augmented_step(network: nn.Module, model: PhysicalModel, params: Dict[str, Any], channels: int,
                   norms: List[torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """The step ``u_{t+1} = P_θ(u_t) + F_w(u_t)`` on inputs ``[B, C_in, *s]`` (dynamic fields,
    then the model's static fields and known parameters: the physics receives its static fields,
    the network every input channel), for :func:`~hyco.synthetic.rollout.rollout`. Each call
    appends the correction's mean square to ``norms``. A residual network (``network.residual``,
    the UNet's default: ``u + net(u)`` with a zero-initialised head) contributes its increment, so
    an untrained one is ``F_w = 0`` exactly and the forecaster starts as the physical model."""
    physics = model.tensor_step(params)
    residual = bool(getattr(network, "residual", False))

    def step(x: torch.Tensor) -> torch.Tensor:
        u = x[:, :channels]
        p = physics(x)
        correction = network(x)
        if residual:  # a residual network returns u + increment: the increment is the correction
            correction = correction - u
        norms.append(correction.square().mean())
        return p.to(x.device) + correction

    return step


def augmented_forecast(network: nn.Module, model: PhysicalModel, params: Dict[str, Any], x0: torch.Tensor,
                       steps: int, channels: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Roll ``u_{t+1} = P_θ(u_t) + F_w(u_t)`` out ``steps`` times from ``x0 [B, C_in, *s]``;
    returns the frames ``[B, steps, C, *s]`` and the correction's mean square over the steps."""
    norms: List[torch.Tensor] = []
    static = x0[:, channels:] if x0.shape[1] > channels else None
    frames = rollout(augmented_step(network, model, params, channels, norms), x0[:, :channels], steps, static=static)
    return frames, torch.stack(norms).mean()


class AphynityTrainer(SyntheticTrainer):
    """Joint training of ``F_w`` and ``θ`` (module docstring); the epoch loop, loaders, best/last
    checkpoints and resume are the synthetic trainer's, under this arm's own file names (so the
    evaluation never mistakes ``F_w`` alone for a forecaster)."""

    LAST, BEST = "aphynity_last.pt", "aphynity_best.pt"

    def __init__(self, cfg: DictConfig, network: nn.Module, physical: PhysicalTrainer,
                 train_data: Optional[Dataset] = None, val_data: Optional[Dataset] = None,
                 context: Optional[RunContext] = None, network_spec=None) -> None:
        super().__init__(cfg, network, train_data, val_data, context, total_epochs=int(cfg.trainer.epochs),
                         network_spec=network_spec)
        self.physical = physical
        self.physics = physical.model
        self.channels = sum(self.physics.channels.values())
        self.lam = float(cfg.trainer.aphynity.lambda0)
        self.tau = float(cfg.trainer.aphynity.tau)
        self.terms: Dict[str, float] = {}

    def forecast(self, x0: torch.Tensor, steps: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """The augmented rollout with the current ``θ`` (differentiable in ``w`` and ``θ``)."""
        params = self.physical.physics_params(self.physical.z)
        return augmented_forecast(self.model, self.physics, params, x0, steps, self.channels)

    def _rollout_loss(self, x0, targets, masks, weights) -> torch.Tensor:
        """``L_traj`` of the augmented forecaster (the validation misfit)."""
        return masked_rollout_loss(self.forecast(x0, targets.shape[1])[0], targets, masks, weights)

    def train_epoch(self, data: Dataset | DataLoader) -> float:
        """One pass over ``data``: per batch one update of ``w`` and ``θ`` on ``λ L_traj + |F|²``,
        then ``λ ← λ + τ L_traj``. Returns the mean total loss; the terms go to :attr:`terms`.
        A non-finite term raises naming it, before any weight or ``λ`` changes."""
        self.model.train()
        tr = self.cfg.trainer
        adam = self.physical._adam_optimizer()
        sums = {"total": 0.0, "traj": 0.0, "corr": 0.0}
        batches = 0
        for batch in self._loader(data, shuffle=True):
            x0, targets, masks, weights = self._unpack(batch)
            predictions, correction = self.forecast(x0, targets.shape[1])
            traj = masked_rollout_loss(predictions, targets, masks, weights)
            if self.step == tr.inject_nan_at_step:
                traj = traj * float("nan")  # test hook: simulate a diverging step
            where = f"epoch {self.epoch + 1}"
            check_finite(float(traj.detach()), term=TRAJECTORY_LOSS, step=self.step, where=where)
            check_finite(float(correction.detach()), term=CORRECTION_LOSS, step=self.step, where=where)
            loss = self.lam * traj + correction
            optimizer_step(loss, [self.optimizer, adam], self.model.parameters(), tr.grad_clip)
            # the multiplier's ascent step (the paper's Algorithm 1), on the misfit just measured
            self.lam += self.tau * float(traj.detach())
            self.step += 1
            self.physical.step += 1
            sums["total"] += float(loss.detach())
            sums["traj"] += float(traj.detach())
            sums["corr"] += float(correction.detach())
            batches += 1
        if batches == 0:
            raise ValueError("aphynity training data is empty: no rollout windows to train on")
        self.terms = {APHYNITY_DATA_LOSS: sums["traj"] / batches,
                      APHYNITY_CORRECTION_NORM: sums["corr"] / batches, APHYNITY_LAMBDA: self.lam}
        return sums["total"] / batches

    # ------------------------------------------------------------------ state
    def state_dict(self) -> Dict[str, Any]:
        return {**super().state_dict(), "physical": self.physical.state(), "lambda": self.lam}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.physical.load_state(state["physical"])
        self.lam = float(state["lambda"])

    def save(self, path: Path, extra: Optional[Dict[str, Any]] = None) -> Path:
        """The checkpoint, and ``physical_params.json`` (what the evaluation rolls ``P_θ`` out with)."""
        out = super().save(path, extra)
        self.physical.save()
        return out

    def _on_epoch_end(self, epoch: int, metrics: Dict[str, float]) -> None:
        metrics.update(self.terms)
        metrics.update(self.physical.parameter_scores())
        if self.val_data is not None:  # P_θ alone on the validation windows
            metrics[M.PHYSICAL_DATA_LOSS] = self.physical.validation_loss(self.val_data)
        super()._on_epoch_end(epoch, metrics)


def augmented_player() -> Player:
    """The augmented forecaster of an ``aphynity`` run: the network and ``θ`` of the same epoch,
    from its best checkpoint, else the last (the network alone is no forecaster)."""

    def load(ctx: PlayerContext) -> Optional[TrainedPlayer]:
        path = first_existing(ctx.checkpoint_dir, (AphynityTrainer.BEST, AphynityTrainer.LAST))
        if path is None:
            return None
        state = load_checkpoint(path)
        network = spec_of(state, path).build()
        network.load_state_dict(state["model"])
        network.eval()
        values = {n: torch.tensor(np.asarray(v, dtype=np.float32)) for n, v in state["physical"]["params"].items()}
        params = ctx.model.params_from_values(values)
        channels = sum(ctx.model.channels.values())

        def forecast(x0: torch.Tensor, steps: int) -> torch.Tensor:
            with torch.no_grad():
                return augmented_forecast(network, ctx.model, params, x0, steps, channels)[0].cpu()

        return TrainedPlayer(forecast)

    return Player("synthetic", load)


def build_aphynity_trainer(cfg: DictConfig, model: PhysicalModel, data: TrainingData,
                           context: Optional[RunContext]) -> AphynityTrainer:
    """``F_w`` (the configured network for ``model``'s fields) and ``θ`` on the observed windows."""
    physical = PhysicalTrainer(cfg, model, None, data.val, context)
    network, spec = build_model_network(cfg, model)
    return AphynityTrainer(cfg, network, physical, data.train, data.val, context, network_spec=spec)


register_arm(ArmSpec(
    name="aphynity", build=build_aphynity_trainer, trains=("synthetic", "physical"), forecast="synthetic",
    players=(augmented_player(), physical_player()), node="aphynity", node_config=AphynityConfig,
    reads=(*SYNTHETIC_KEYS, "physical_lr", "aphynity.lambda0", "aphynity.tau"),
    checkpoints=(AphynityTrainer.LAST, AphynityTrainer.BEST, PhysicalTrainer.PARAMS_FILE), metrics=METRICS,
    rank=21))
