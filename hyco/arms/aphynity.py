"""The ``aphynity`` arm: the physical model augmented by a network correction (Yin et al., ICLR 2021).

Two forms (``trainer.aphynity.form``; the forecasters are in :mod:`hyco.arms.aphynity_forms`):

* ``discrete`` (default): ``u_{t+1} = P_θ(u_t) + F_w(u_t)``, one step of the differentiable
  physical model plus a network increment per frame (the configured network, built by
  :func:`~hyco.training.networks.build_model_network`); penalty ``mean_k |F_w(u_k)|²`` over the
  rollout.
* ``continuous``, the paper's: ``dX/dt = F_p(X; θ) + F_a(X)`` integrated by RK4 over the whole
  window (``steps_per_frame`` RK4 steps per frame; 0: as many as the model's own step); penalty
  ``‖F_a‖²`` on the derivatives at the window's data states (per point over ``(‖X‖ + 1e-5)²``
  with ``normalise``, the paper's pendulum). It needs a model that states ``F_p``
  (:meth:`~hyco.physics.base.PhysicalModel.derivative`); others are refused before any compute.

Both train ``w`` and ``θ`` jointly on the observed rollout windows with

    loss = λ · L_traj + penalty,     λ ← λ + τ · L_traj after each batch,

where ``L_traj`` is the masked ``K``-step rollout misfit (the same as every other arm), after
``iterations_per_batch`` updates on the batch (the paper's ``niter``; the last update's misfit
moves ``λ``). The penalty keeps the correction as small as the data allow, so ``P_θ`` explains
what it can (the paper's identifiability argument, which holds for the derivative form);
``λ₀ = trainer.aphynity.lambda0``, ``τ = trainer.aphynity.tau``. The network weights use the
synthetic player's optimiser (``trainer.lr``, ``optimizer``, ``scheduler``); ``θ`` uses Adam with
``trainer.physical_lr`` in the physical trainer's unconstrained space (``trainer.physical_optimizer``
does not apply: θ moves at every network update), scaled by the network's schedule (``θ``'s rate is
``physical_lr · lr_now / trainer.lr``, so ``trainer.scheduler=cosine`` anneals both players: at a
constant rate, Adam's steps stay about the rate's size however small the gradient, and long runs
at the presets' rates were measured to diverge). One epoch is one pass over the training windows.

Evaluation: the augmented forecaster (the network and ``θ`` of its best checkpoint) fills the
"synthetic" columns (:func:`augmented_player`); ``P_θ`` alone, from ``physical_params.json``
(the last epoch), the "physical" columns; and the parameter recovery. A continuous-form run on data
from a truth apart from the learner also logs, at step 0, where the objective would put ``θ`` once
the training windows are fitted exactly (:func:`exact_fit_limit`), to read the learned ``θ`` against.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn
from torch.utils.data import DataLoader, Dataset

from hyco import metrics as M
from hyco.arms.aphynity_forms import continuous_forecast, derivative_penalty, discrete_forecast
from hyco.arms.aphynity_optimum import minimum_norm_fit, window_states
from hyco.arms.players import physical_player
from hyco.arms.spec import (
    SYNTHETIC_KEYS,
    ArmSpec,
    Player,
    PlayerContext,
    TrainedPlayer,
    register_arm,
)
from hyco.config.schema import Choice, ranged, truth_physics
from hyco.core.checkpoints import first_existing, load_checkpoint
from hyco.data.training_data import TrainingData
from hyco.physics import build_physics
from hyco.physics.base import PhysicalModel
from hyco.synthetic.checkpoint import spec_of
from hyco.synthetic.rollout import masked_rollout_loss
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
APHYNITY_EXACT_FIT = "aphynity/exact_fit"  # /<parameter>, /param_error
METRICS = {APHYNITY_DATA_LOSS: "augmented forecaster's trajectory misfit, per epoch",
           APHYNITY_CORRECTION_NORM: "the penalty: mean |F_w(u)|^2 of the increments (discrete) or ||F_a||^2 on "
                                     "the derivatives (continuous), per epoch",
           APHYNITY_LAMBDA: "multiplier of the misfit after the epoch",
           f"{APHYNITY_EXACT_FIT}/<parameter>": "continuous form, data from a truth model apart from the learner "
                                                "(data.truth): where the objective puts each learnable parameter "
                                                "once the training windows are fitted exactly (step 0)",
           f"{APHYNITY_EXACT_FIT}/param_error": "that limit's mean relative parameter error (step 0)"}


class Form(Choice):
    discrete = "discrete"  # u_{t+1} = P(u_t) + F(u_t), the increment penalised
    continuous = "continuous"  # dX/dt = F_p + F_a by RK4 over the window, ||F_a||^2 on derivatives


@dataclass
class AphynityConfig:
    """APHYNITY's own knobs, node ``trainer.aphynity``."""

    lambda0: float = ranged(1.0, 0.0)  # initial multiplier of the trajectory misfit
    tau: float = ranged(1.0, 0.0)  # multiplier step: lambda <- lambda + tau * L_traj after each batch
    form: Form = Form.discrete
    steps_per_frame: int = ranged(0, 0)  # continuous: RK4 steps per frame; 0: as many as the model's own step
    normalise: bool = False  # continuous: ||F_a||^2 / (||X|| + 1e-5)^2 per point (the paper's pendulum)
    iterations_per_batch: int = ranged(1, 1)  # updates on each batch before lambda moves (the paper's niter)


def form_of(cfg: Any) -> str:
    """``trainer.aphynity.form`` as a string."""
    form = cfg.trainer.aphynity.form
    return str(getattr(form, "value", form))


def rk4_steps(cfg: Any, model: PhysicalModel) -> int:
    """RK4 steps per frame of the continuous form: ``trainer.aphynity.steps_per_frame``, or as many
    as the model's own step takes (then ``F_a = 0`` is the model's step, bit for bit)."""
    return int(cfg.trainer.aphynity.steps_per_frame) or int(getattr(model, "inner_steps", 1))


def augmented_forecast(network: nn.Module, model: PhysicalModel, params: Dict[str, Any], x0: torch.Tensor,
                       steps: int, cfg: Any) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The forecast of the form ``cfg`` configures: frames ``[B, steps, C, *s]`` and, for the
    discrete form, its increments' mean square (None for the continuous form, whose penalty is
    taken on the data states)."""
    channels = sum(model.channels.values())
    if form_of(cfg) == "continuous":
        return continuous_forecast(network, model, params, x0, steps, channels, rk4_steps(cfg, model)), None
    return discrete_forecast(network, model, params, x0, steps, channels)


def accepts(cfg: Any, model: PhysicalModel) -> None:
    """The continuous form integrates the model's right-hand side: refuse a model without one."""
    if form_of(cfg) == "continuous" and not model.has_derivative:
        raise ValueError(f"trainer.variant=aphynity with trainer.aphynity.form=continuous integrates the physics' "
                         f"continuous right-hand side, which '{cfg.physics.name}' does not state "
                         "(PhysicalModel.derivative); use trainer.aphynity.form=discrete")


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
        self.form = form_of(cfg)
        self.normalise = bool(cfg.trainer.aphynity.normalise)
        self.iterations = int(cfg.trainer.aphynity.iterations_per_batch)
        self.terms: Dict[str, float] = {}

    def forecast(self, x0: torch.Tensor, steps: int) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The augmented rollout with the current ``θ`` (differentiable in ``w`` and ``θ``)."""
        params = self.physical.physics_params(self.physical.z)
        return augmented_forecast(self.model, self.physics, params, x0, steps, self.cfg)

    def _rollout_loss(self, x0, targets, masks, weights) -> torch.Tensor:
        """``L_traj`` of the augmented forecaster (the validation misfit)."""
        return masked_rollout_loss(self.forecast(x0, targets.shape[1])[0], targets, masks, weights)

    def _losses(self, x0, targets, masks, weights) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(L_traj, penalty)`` of one batch in the configured form."""
        predictions, increments = self.forecast(x0, targets.shape[1])
        traj = masked_rollout_loss(predictions, targets, masks, weights)
        if increments is not None:
            return traj, increments
        return traj, derivative_penalty(self.model, x0, targets, masks, predictions, self.channels, self.normalise)

    def train_epoch(self, data: Dataset | DataLoader) -> float:
        """One pass over ``data``: per batch ``iterations_per_batch`` updates of ``w`` and ``θ`` on
        ``λ L_traj + penalty``, then ``λ ← λ + τ L_traj``. Returns the mean total loss; the terms go
        to :attr:`terms`. A non-finite term raises naming it, before any weight or ``λ`` changes."""
        self.model.train()
        tr = self.cfg.trainer
        adam = self.physical._adam_optimizer()
        # θ follows the network's schedule (module docstring); set from the network's rate each epoch, so
        # a resumed run gets it from the restored optimiser, and exactly physical_lr without a schedule
        theta_lr = float(tr.physical_lr) * (self.lr / float(tr.lr))
        for group in adam.param_groups:
            group["lr"] = theta_lr
        sums = {"total": 0.0, "traj": 0.0, "corr": 0.0}
        batches = 0
        for batch in self._loader(data, shuffle=True):
            x0, targets, masks, weights = self._unpack(batch)
            for _ in range(self.iterations):
                traj, penalty = self._losses(x0, targets, masks, weights)
                if self.step == tr.inject_nan_at_step:
                    traj = traj * float("nan")  # test hook: simulate a diverging step
                where = f"epoch {self.epoch + 1}"
                check_finite(float(traj.detach()), term=TRAJECTORY_LOSS, step=self.step, where=where)
                check_finite(float(penalty.detach()), term=CORRECTION_LOSS, step=self.step, where=where)
                loss = self.lam * traj + penalty
                optimizer_step(loss, [self.optimizer, adam], self.model.parameters(), tr.grad_clip)
                self.step += 1
                self.physical.step += 1
            # the multiplier's ascent step (the paper's Algorithm 1), on the misfit just measured
            self.lam += self.tau * float(traj.detach())
            sums["total"] += float(loss.detach())
            sums["traj"] += float(traj.detach())
            sums["corr"] += float(penalty.detach())
            batches += 1
        if batches == 0:
            raise ValueError("aphynity training data is empty: no rollout windows to train on")
        self.terms = {APHYNITY_DATA_LOSS: sums["traj"] / batches,
                      APHYNITY_CORRECTION_NORM: sums["corr"] / batches, APHYNITY_LAMBDA: self.lam,
                      M.PHYSICAL_LR: theta_lr}
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

        def forecast(x0: torch.Tensor, steps: int) -> torch.Tensor:
            with torch.no_grad():
                return augmented_forecast(network, ctx.model, params, x0, steps, ctx.cfg)[0].cpu()

        return TrainedPlayer(forecast)

    return Player("synthetic", load)


def exact_fit_limit(cfg: DictConfig, data: TrainingData) -> Optional[Dict[str, float]]:
    """Where the objective puts the learnable parameters once the training windows are fitted
    exactly (:mod:`hyco.arms.aphynity_optimum`), as metrics; None unless the form is continuous and
    the data come from a truth model apart from the learner (``data.truth``), and when the limit is
    not defined (a field parameter, unobserved targets: said in the log)."""
    if not cfg.data.truth or form_of(cfg) != "continuous" or data.train is None:
        return None
    truth = build_physics(truth_physics(cfg), cfg.data.ic, jit=False)
    learner = build_physics(cfg.physics, cfg.data.ic, jit=False)
    try:
        fit = minimum_norm_fit(truth, learner, window_states(data.train), bool(cfg.trainer.aphynity.normalise))
    except ValueError as err:
        log.info("APHYNITY's exact-fit limit not computed: %s", err)
        return None
    log.info("APHYNITY's exact-fit limit on the training windows: %s (mean relative error %.4g)",
             ", ".join(f"{n} {v:.6g}" for n, v in fit.params.items()), fit.percent_error / 100)
    return {**{f"{APHYNITY_EXACT_FIT}/{n}": v for n, v in fit.params.items()},
            f"{APHYNITY_EXACT_FIT}/param_error": fit.percent_error / 100}


def build_aphynity_trainer(cfg: DictConfig, model: PhysicalModel, data: TrainingData,
                           context: Optional[RunContext]) -> AphynityTrainer:
    """``F_w`` (the configured network for ``model``'s fields) and ``θ`` on the observed windows;
    the exact-fit limit logged at step 0 where it is defined (:func:`exact_fit_limit`)."""
    limit = exact_fit_limit(cfg, data) if context is not None else None
    if limit:
        context.log(limit, step=0)
    physical = PhysicalTrainer(cfg, model, None, data.val, context)
    network, spec = build_model_network(cfg, model)
    return AphynityTrainer(cfg, network, physical, data.train, data.val, context, network_spec=spec)


register_arm(ArmSpec(
    name="aphynity", build=build_aphynity_trainer, trains=("synthetic", "physical"), forecast="synthetic",
    players=(augmented_player(), physical_player()), node="aphynity", node_config=AphynityConfig,
    reads=(*SYNTHETIC_KEYS, "physical_lr", *(f"aphynity.{k}" for k in (
        "lambda0", "tau", "form", "steps_per_frame", "normalise", "iterations_per_batch"))), accepts=accepts,
    checkpoints=(AphynityTrainer.LAST, AphynityTrainer.BEST, PhysicalTrainer.PARAMS_FILE), metrics=METRICS,
    rank=21))
