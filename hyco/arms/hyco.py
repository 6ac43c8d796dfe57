"""HYCO co-training: alternating rounds in which each player trains on the other's predictions.

One round (after an optional warm start of the synthetic player on observations):

1. the synthetic model predicts ``K`` steps from ground-truth ICs (and ghost ICs);
2. the physical trainer fits its parameters on targets built from those predictions
   (``trainer.physical_iterations_per_epoch`` solver iterations);
3. the physical model predicts from the same kinds of ICs with its new parameters;
4. the synthetic trainer trains ``trainer.hyco.synthetic_epochs_per_round`` epochs on targets
   built from those predictions.

How targets are built is the arm's target rule (``full``, ``warmstart``, ``mixed``,
``cooperative``; see :mod:`hyco.training.targets`); the four arms are presets of the knobs of one
node, ``trainer.hyco`` (:class:`HycoConfig`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import TensorDataset

from hyco import metrics as M
from hyco.arms.baselines import build_physical_trainer, build_synthetic_trainer
from hyco.arms.players import physical_player, synthetic_player
from hyco.arms.reconstruction import (
    HYCO_PHASE,
    SWITCHABLE,
    ReconstructionTrainer,
    build_reconstruction,
    check_switches,
)
from hyco.arms.spec import PHYSICAL_KEYS, SYNTHETIC_KEYS, ArmSpec, get_arm, register_arm
from hyco.config.schema import Choice, ranged
from hyco.core.checkpoints import load_checkpoint, save_checkpoint
from hyco.core.console import bar_metrics, phase_bar
from hyco.data.training_data import TrainingData
from hyco.physics.base import PhysicalModel
from hyco.training.context import RunContext
from hyco.training.hybrid import HybridTrainer, ObservedWindows
from hyco.training.physical import PhysicalTrainer
from hyco.training.rng import capture_rng_state, restore_rng_state
from hyco.training.synthetic import SyntheticTrainer
from hyco.training.targets import (
    COOPERATIVE,
    FULL,
    MIXED,
    Targets,
    alpha_at,
    balance_terms,
    ghost_targets,
)

HYCO_ALPHA = "hyco/alpha"
METRICS = {HYCO_ALPHA: "blend weight in effect (mixed only), per round",
           HYCO_PHASE: "0 = warm start, 1 = exchange, per round"}


class GhostICKind(Choice):
    prior = "prior"  # fresh draws from the model's own initial-condition prior
    perturb = "perturb"  # observed initial states perturbed by ghost_perturbation x their RMS


class AlphaSchedule(Choice):
    constant = "constant"
    linear = "linear"


@dataclass
class HycoConfig:
    """The HYCO arms' own knobs, node ``trainer.hyco`` (``conf/trainer/<variant>.yaml`` are presets)."""

    warmstart_epochs: int = ranged(0, 0)  # rounds of the synthetic player alone on observations, first
    synthetic_epochs_per_round: int = ranged(1, 1)
    alpha: float = ranged(0.5, 0.0, 1.0)  # mixed: weight of the observations in the blended targets
    alpha_end: float = ranged(0.5, 0.0, 1.0)
    alpha_schedule: AlphaSchedule = AlphaSchedule.constant
    lambda_s_data: float = ranged(1.0, 0.0)  # cooperative: the synthetic player's data weight
    lambda_s_int: float = ranged(1.0, 0.0)  # its interaction weight (every HYCO arm: ghost trajectories)
    lambda_p_data: float = ranged(1.0, 0.0)
    lambda_p_int: float = ranged(1.0, 0.0)
    ghost_ics: int = ranged(0, 0)  # ghost initial conditions per round
    ghost_kind: GhostICKind = GhostICKind.prior
    ghost_perturbation: float = ranged(0.1, 0.0)
    checkpoint_every: int = ranged(1, 1)  # rounds between checkpoints
    # reconstruction problems (scattered observations; the papers' form, hyco/arms/reconstruction.py):
    # the lambdas above are absolute weights of mean squared misfits; every epoch the network takes one
    # pass over the data, then the physics one step; the interaction is measured on ghost points
    ghost_points: int = ranged(0, -1)  # spatial points per epoch, reused at every frame; -1: every grid node
    ghost_box_lower: List[float] = ranged([], 0.0, 1.0)  # fractions of the domain; empty: all of it
    ghost_box_upper: List[float] = ranged([], 0.0, 1.0)
    ghost_batch: int = ranged(0, 0)  # ghost points per network step (0: all of the epoch's, every step)
    warmstart_threshold: float = ranged(0.0, 0.0)  # warm start until the network's data MSE is below (0: off)
    # the static papers' code: the warm start resumes for any epoch after which the network's data MSE
    # is above warmstart_threshold again (the threshold is checked every epoch, not once)
    warmstart_reentry: bool = False
    synthetic_lbfgs_iterations: int = ranged(0, 0)  # L-BFGS on the network's data loss after the epochs
    # knobs switched from an epoch (counted from 0) on, e.g. {1500: {ghost_points: 800}}
    switches: Dict[int, Dict[str, Any]] = field(default_factory=dict)


log = logging.getLogger(__name__)

PHASES = {"warmstart": 0.0, "exchange": 1.0}


class HYCOTrainer(HybridTrainer):
    """The HYCO strategy; ``trainer.variant`` picks how targets are built (module docstring)."""

    CHECKPOINT = "hybrid_last.pt"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tr = self.cfg.trainer
        self.variant = str(getattr(tr.variant, "value", tr.variant))
        self.spec = get_arm(self.variant)
        self.rule = self.spec.targets
        self.knobs = tr.hyco
        self.rounds = int(tr.epochs)
        self.warmstart = min(int(self.knobs.warmstart_epochs), self.rounds)
        self.steps = int(tr.rollout_steps)
        self.round = 0
        self._x0_all: torch.Tensor | None = None
        self._observed: tuple | None = None

    # ------------------------------------------------------------------ static data, read once
    def initial_states_all(self) -> torch.Tensor:
        """ICs of every training window (they never change, so they are read once)."""
        if self._x0_all is None:
            self._x0_all = self.data.initial_states(np.arange(len(self.data)))
        return self._x0_all

    def observations_at(self, indices: np.ndarray) -> tuple:
        """Observed targets and masks of the given windows (read once, only by data-term variants)."""
        if self._observed is None:
            self._observed = self.data.observations(np.arange(len(self.data)))
        observed, mask = self._observed
        return observed[indices], mask[indices]

    # ------------------------------------------------------------------ targets of the arm's rule
    def alpha(self, round_index: int) -> float:
        k = self.knobs
        schedule = str(getattr(k.alpha_schedule, "value", k.alpha_schedule))
        return alpha_at(round_index - self.warmstart, self.rounds - self.warmstart, k.alpha, k.alpha_end, schedule)

    def _targets(self, x0: torch.Tensor, prediction: torch.Tensor, indices: np.ndarray, alpha: float,
                 lambda_data: float, lambda_int: float) -> Targets:
        observed, mask = self.observations_at(indices) if self.rule.reads_observations else (None, None)
        return self.rule.build(x0, prediction, observed, mask, alpha, lambda_data, lambda_int)

    def _with_ghosts(self, targets: Targets, ghosts: torch.Tensor, predict, lambda_data: float,
                     lambda_int: float) -> Targets:
        if ghosts.shape[0] == 0:
            return targets
        both = targets.cat(ghost_targets(ghosts, predict(ghosts, self.steps), lambda_int))
        # the interaction term now also averages the ghost points
        return balance_terms(both, lambda_data, lambda_int) if self.rule.balance_ghosts else both

    # ------------------------------------------------------------------ one round
    def warmstart_round(self) -> Dict[str, float]:
        """Synthetic player on observations only (the physical player waits)."""
        start = time.perf_counter()
        loss = self.synthetic.train_epoch(self.data.observed_dataset())
        return {M.SYNTHETIC_TOTAL_LOSS: loss, M.TIME_SYNTHETIC: time.perf_counter() - start}

    def exchange_round(self, round_index: int) -> Dict[str, float]:
        tr, k = self.cfg.trainer, self.knobs
        alpha = self.alpha(round_index)
        rng = np.random.default_rng(int(self.cfg.seed) * 7919 + round_index)
        count = min(int(tr.physical_sims_per_fit), len(self.data))
        fit_idx = np.sort(rng.choice(len(self.data), size=count, replace=False))
        all_idx = np.arange(len(self.data))
        # alpha is logged only where it acts: arms that read it (mixed)
        metrics: Dict[str, float] = {HYCO_ALPHA: alpha} if "hyco.alpha" in self.spec.reads else {}

        t0 = time.perf_counter()
        x0_all = self.initial_states_all()
        x0_fit = x0_all[fit_idx]
        kind = str(getattr(k.ghost_kind, "value", k.ghost_kind))
        ghosts = self.ghost_initial_states(round_index, int(k.ghost_ics), x0_fit, kind, float(k.ghost_perturbation))
        s_pred = self.synthetic_predictions(x0_fit, self.steps)
        p_data = self._with_ghosts(self._targets(x0_fit, s_pred, fit_idx, alpha, k.lambda_p_data, k.lambda_p_int),
                                   ghosts, self.synthetic_predictions, k.lambda_p_data, k.lambda_p_int)
        t1 = time.perf_counter()
        fit = self.physical.fit(*p_data.as_tuple()[:3], iterations=int(tr.physical_iterations_per_epoch),
                                weights=p_data.weights)
        t2 = time.perf_counter()
        p_pred = self.physical_predictions(x0_all, self.steps)
        s_data = self._with_ghosts(self._targets(x0_all, p_pred, all_idx, alpha, k.lambda_s_data, k.lambda_s_int),
                                   ghosts, self.physical_predictions, k.lambda_s_data, k.lambda_s_int)
        t3 = time.perf_counter()
        dataset = TensorDataset(*s_data.as_tuple())
        s_losses = [self.synthetic.train_epoch(dataset) for _ in range(int(k.synthetic_epochs_per_round))]
        t4 = time.perf_counter()

        # disagreement of the players on the fit windows after each one's update (the physical
        # prediction there is part of p_pred already)
        interaction_p = float(((p_pred[fit_idx] - s_pred) ** 2).mean())
        interaction_s = float(((self.synthetic_predictions(x0_fit, self.steps) - p_pred[fit_idx]) ** 2).mean())
        metrics.update({
            M.PHYSICAL_TOTAL_LOSS: fit.loss,
            M.PHYSICAL_INTERACTION_LOSS: interaction_p,
            M.SYNTHETIC_TOTAL_LOSS: float(np.mean(s_losses)),
            M.SYNTHETIC_INTERACTION_LOSS: interaction_s,
            M.TIME_PREDICT: (t1 - t0) + (t3 - t2),
            M.TIME_PHYSICAL: t2 - t1,
            M.TIME_SYNTHETIC: t4 - t3,
            **self.physical.parameter_scores(fit.params),
        })
        return metrics

    # ------------------------------------------------------------------ persistence
    def state(self) -> Dict[str, Any]:
        return {"round": self.round, "synthetic": self.synthetic.state_dict(),
                "physical": self.physical.state(), "rng": capture_rng_state()}

    def save(self, extra: Dict[str, Any]) -> None:
        assert self.context is not None
        save_checkpoint(self.context.path(self.CHECKPOINT), {**self.state(), **extra})
        # The players' own files, for evaluation (same names as the baselines).
        self.synthetic.save(self.context.path(self.synthetic.LAST))
        self.physical.save()

    def resume(self) -> bool:
        path = self.context and self.context.resume_from(self.CHECKPOINT, self.cfg.trainer.resume)
        if not path:
            return False
        state = load_checkpoint(path)
        self.synthetic.load_state_dict(state["synthetic"])
        self.physical.load_state(state["physical"])
        self.round = int(state["round"])
        restore_rng_state(state["rng"])
        self.context.replay_pending(state)
        log.info("resumed HYCO training from %s at round %d", path, self.round)
        return True

    # ------------------------------------------------------------------ the loop
    def train(self) -> Dict[str, Any]:
        """Run ``trainer.epochs`` rounds (the first ``warmstart_epochs`` as warm start)."""
        if self.context is None:
            raise ValueError("HYCOTrainer.train needs a RunContext")
        self.resume()
        every = max(1, int(self.knobs.checkpoint_every))
        metrics: Dict[str, float] = {}
        bar = phase_bar(range(self.round, self.rounds), f"{self.variant} rounds", initial=self.round,
                        total=self.rounds)
        for r in bar:
            start = time.perf_counter()
            phase = "warmstart" if r < self.warmstart else "exchange"
            metrics = self.warmstart_round() if phase == "warmstart" else self.exchange_round(r)
            if self.val_data is not None:
                metrics[M.SYNTHETIC_DATA_LOSS] = self.synthetic.validation_loss(self.val_data)
                if phase == "exchange":
                    metrics[M.PHYSICAL_DATA_LOSS] = self.physical.validation_loss(self.val_data)
            metrics.update({HYCO_PHASE: PHASES[phase], M.TIME_ROUND: time.perf_counter() - start,
                            M.SYNTHETIC_LR: self.synthetic.lr})
            self.round = r + 1
            bar.set_postfix(bar_metrics(metrics))
            log.debug("round %d/%d (%s) %s", self.round, self.rounds, phase,
                     " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
            if self.round % every == 0 or self.round == self.rounds:
                self.context.report(self.round, metrics, self.save)
            else:
                self.context.log(metrics, self.round)
                self.context.notify(self.round, metrics)
        return {**metrics, "rounds": self.round, "params": self.physical.current_params()}


def planned_synthetic_epochs(cfg: Any) -> int:
    """Synthetic epochs a HYCO run plans for (the scheduler's horizon): the warm-start rounds, then
    ``synthetic_epochs_per_round`` per exchange round."""
    rounds, knobs = int(cfg.trainer.epochs), cfg.trainer.hyco
    warm = min(int(knobs.warmstart_epochs), rounds)
    return warm + (rounds - warm) * int(knobs.synthetic_epochs_per_round)


def build_hyco_trainer(cfg: DictConfig, model: PhysicalModel, data: TrainingData,
                       context: Optional[RunContext]) -> HYCOTrainer:
    """Both players (built exactly as for the baselines) and the observed windows; on scattered
    data the papers' alternating epochs (:mod:`hyco.arms.reconstruction`)."""
    if data.scattered is not None:
        return build_reconstruction(cfg, model, data, context, ("synthetic", "physical"))
    return HYCOTrainer(cfg, build_physical_trainer(cfg, model, data, context),
                       build_synthetic_trainer(cfg, model, data, context, planned_synthetic_epochs(cfg)),
                       ObservedWindows(data.train), data.val, context)


# every HYCO arm: the warm start, rounds, and ghost ICs (their targets weigh lambda_*_int)
HYCO_KEYS = (*SYNTHETIC_KEYS, *PHYSICAL_KEYS, *(f"hyco.{k}" for k in (
    "warmstart_epochs", "synthetic_epochs_per_round", "checkpoint_every", "ghost_ics", "ghost_kind",
    "ghost_perturbation", "lambda_s_int", "lambda_p_int")))
_CHECKPOINTS = (HYCOTrainer.CHECKPOINT, SyntheticTrainer.LAST, PhysicalTrainer.PARAMS_FILE)
# the papers' form on scattered data reads these too
RECONSTRUCTION_KEYS = (*(f"hyco.{k}" for k in (*SWITCHABLE, "ghost_box_lower", "ghost_box_upper",
                                              "warmstart_threshold", "warmstart_reentry",
                                              "synthetic_lbfgs_iterations", "switches")),)


def check_reconstruction_knobs(cfg: DictConfig, model: PhysicalModel) -> None:
    """``trainer.hyco.switches`` is valid (a :class:`~hyco.errors.ConfigError` naming the entry)."""
    check_switches(cfg.trainer.hyco.switches)


def _hyco_arm(name: str, rule, rank: int, reads=(), metrics=(HYCO_PHASE,), reconstructs: bool = False) -> ArmSpec:
    return register_arm(ArmSpec(
        name=name, build=build_hyco_trainer, trains=("synthetic", "physical"), hybrid=True,
        players=(synthetic_player(), physical_player()), node="hyco", node_config=HycoConfig,
        reads=(*HYCO_KEYS, *reads, *(RECONSTRUCTION_KEYS if reconstructs else ())),
        checkpoints=(*_CHECKPOINTS, *((ReconstructionTrainer.CHECKPOINT,) if reconstructs else ())),
        metrics={m: METRICS[m] for m in metrics}, targets=rule, rank=rank,
        accepts=check_reconstruction_knobs if reconstructs else None, reconstructs=reconstructs,
        static=reconstructs))


# The seed's HYCO: ground truth only for the initial conditions (no warm start in its preset).
_hyco_arm("full", FULL, 10)
# The synthetic player on observations first, then the full exchange.
_hyco_arm("warmstart", FULL, 11)
# Targets alpha * observed + (1 - alpha) * prediction where observed.
_hyco_arm("mixed", MIXED, 12, reads=("hyco.alpha", "hyco.alpha_end", "hyco.alpha_schedule"),
          metrics=(HYCO_ALPHA, HYCO_PHASE))
# The papers' form: lambda_data * data misfit + lambda_int * interaction, per player.
# On scattered data, the papers' alternating epochs (hyco.arms.reconstruction).
_hyco_arm("cooperative", COOPERATIVE, 13, reads=("hyco.lambda_s_data", "hyco.lambda_p_data"), reconstructs=True)
