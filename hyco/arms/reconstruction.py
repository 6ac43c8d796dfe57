"""Reconstruction problems: the arms on scattered observations of their training trajectories.

With ``observation.spatial=lattice|tuples`` the data are points, not grid windows (the papers'
protocol, :mod:`hyco.data.scattered`): the physical player rolls the whole horizon out from the
known initial state (:class:`~hyco.training.trajectory.TrajectoryPhysics`), the synthetic player
is a neural field ``(x, t) -> u`` (:class:`~hyco.training.neural_field.NeuralFieldTrainer`), and
both are scored on the trajectory they reconstruct. :class:`ReconstructionTrainer` runs the
arms that train on such data: each player alone (``synthetic_only``, ``physical_only``) and the
papers' HYCO (``cooperative``). One epoch of HYCO, after an optional warm start of the network
alone (``trainer.hyco.warmstart_epochs`` epochs, or until its data misfit falls below
``warmstart_threshold``; with ``warmstart_reentry`` the threshold is checked before every epoch,
as the static papers' code does, so an epoch after which the network's misfit is above it again is
a warm-start epoch too):

1. ghost points are drawn (:class:`~hyco.training.ghosts.GhostPoints`, seeded by the epoch);
2. the network takes one pass over the observed points on
   ``lambda_s_data * MSE(S, data) + lambda_s_int * MSE(S, P)`` at the ghosts, with ``P`` the
   physical trajectory of the previous epoch (detached);
3. the physics takes ``physical_iterations_per_epoch`` steps on
   ``lambda_p_data * MSE(P, data) + lambda_p_int * MSE(P, S)`` with ``S`` the network after its
   update (detached), through a differentiable rollout of the whole horizon.

The lambdas are absolute weights of mean squared misfits, as published (the grid arms'
``cooperative`` normalises them instead). ``trainer.hyco.switches`` changes knobs from an epoch on
(``{"1500": {ghost_points: 800}}``: the heat paper's ghost schedule). After the epochs,
``synthetic_lbfgs_iterations`` L-BFGS iterations polish the network on its data (Gray–Scott).

Each epoch logs the losses, the physical reconstruction error and the parameters (a family
parameter with each of its scalars); the network's reconstruction error, which costs a pass over
the truth's grid, every ``evaluation.reconstruction_every`` epochs and at the last. Metrics of
the epochs between checkpoints (``trainer.hyco.checkpoint_every``) are sent in one batch with
the checkpoint, so a 3000-epoch run does not pay one tracker call per epoch (one player alone:
``trainer.checkpoint_every``).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np
import torch
from omegaconf import DictConfig

from hyco import metrics as M
from hyco.core.checkpoints import load_checkpoint, save_checkpoint
from hyco.core.console import phase_bar
from hyco.data.scattered import ScatteredData
from hyco.errors import ConfigError
from hyco.physics.base import PhysicalModel
from hyco.training.base import AbstractTrainer
from hyco.training.context import RunContext
from hyco.training.ghosts import GhostPoints
from hyco.training.networks import build_model_network
from hyco.training.neural_field import NeuralFieldTrainer
from hyco.training.rng import capture_rng_state, restore_rng_state
from hyco.training.trajectory import TrajectoryPhysics

log = logging.getLogger(__name__)

#: 0 in a warm-start epoch (the network alone), 1 in an exchange epoch; the HYCO arms declare it
HYCO_PHASE = "hyco/phase"
#: the knobs of ``trainer.hyco`` that ``switches`` may change from an epoch on
SWITCHABLE = ("ghost_points", "ghost_batch", "lambda_s_data", "lambda_s_int", "lambda_p_data", "lambda_p_int")
MODES = ("synthetic", "physical", "hybrid")


def check_switches(switches: Mapping[str, Any]) -> Dict[int, Dict[str, Any]]:
    """``trainer.hyco.switches`` as ``{epoch: {knob: value}}``; a :class:`ConfigError` naming the
    entry for a key that is not an epoch number or a knob that cannot be switched."""
    out: Dict[int, Dict[str, Any]] = {}
    for key, changes in dict(switches or {}).items():
        try:
            epoch = int(key)
        except (TypeError, ValueError):
            raise ConfigError(f"trainer.hyco.switches: keys are epoch numbers (the first epoch, from 0, "
                              f"where the change applies), got {key!r}") from None
        if epoch < 0 or not isinstance(changes, Mapping):
            raise ConfigError(f"trainer.hyco.switches.{key}: an epoch >= 0 mapping knobs to values, got {changes!r}")
        unknown = [k for k in changes if k not in SWITCHABLE]
        if unknown:
            raise ConfigError(f"trainer.hyco.switches.{key}: {unknown} cannot be switched; choose from {SWITCHABLE}")
        out[epoch] = dict(changes)
    return out


class ReconstructionTrainer(AbstractTrainer):
    """Trains one or both players on scattered observations (module docstring).

    Parameters
    ----------
    data
        The observed points and the truth they are scored against.
    physical, synthetic
        The players (None: the arm does not train it).
    context
        Logger and checkpoint directory of the run.
    """

    CHECKPOINT = "reconstruction_last.pt"

    def __init__(self, cfg: DictConfig, data: ScatteredData, physical: Optional[TrajectoryPhysics],
                 synthetic: Optional[NeuralFieldTrainer], context: Optional[RunContext]) -> None:
        super().__init__(cfg)
        if physical is None and synthetic is None:
            raise ValueError("ReconstructionTrainer needs at least one player")
        self.data, self.physical, self.synthetic, self.context = data, physical, synthetic, context
        self.mode = "hybrid" if physical is not None and synthetic is not None else (
            "physical" if physical is not None else "synthetic")
        self.epochs = int(cfg.trainer.epochs)
        self.knobs = cfg.trainer.hyco if self.mode == "hybrid" else None
        self.switches = check_switches(self.knobs.switches) if self.knobs is not None else {}
        self.epoch = 0
        self.warm_done = False  # the threshold warm start has ended
        self.last_mse = float("inf")  # the network's data misfit in the last epoch (the re-entrant warm start)
        self.post_done = False  # the L-BFGS post-training has run
        self.post_step = 0  # L-BFGS steps done (a resumed post-training continues from here)
        self.post_optimiser: Optional[Dict[str, Any]] = None  # the L-BFGS state at post_step
        self.best: Dict[str, float] = {}
        self.grid: Optional[torch.Tensor] = None  # the physical trajectory after the last update
        self.ghosts: Optional[GhostPoints] = None
        if self.mode == "hybrid":
            model = physical.model
            extent_lower, size = getattr(model, "node_box", (model.domain_origin, model.domain_size))
            positions = np.stack(model.cell_centres(), axis=-1)  # [*s, dim]
            self.ghosts = GhostPoints([extent_lower] * model.dim, size, positions, data.times, int(cfg.seed),
                                      list(self.knobs.ghost_box_lower), list(self.knobs.ghost_box_upper),
                                      timed=data.timed)

    # ------------------------------------------------------------------ knobs
    def knob(self, name: str, epoch: int) -> Any:
        """``trainer.hyco.<name>`` in effect at ``epoch`` (after the switches up to it)."""
        value = self.knobs[name]
        for start in sorted(self.switches):
            if epoch >= start and name in self.switches[start]:
                value = self.switches[start][name]
        return value

    def warming(self, epoch: int) -> bool:
        """Whether ``epoch`` belongs to the network's warm start."""
        if self.mode != "hybrid":
            return False
        if epoch < int(self.knobs.warmstart_epochs):
            return True
        threshold = float(self.knobs.warmstart_threshold)
        if threshold > 0 and bool(self.knobs.warmstart_reentry):
            return self.last_mse > threshold
        return threshold > 0 and not self.warm_done

    # ------------------------------------------------------------------ one epoch
    def physical_grid(self) -> torch.Tensor:
        """The physical trajectory with the current parameters (cached after each update)."""
        if self.grid is None:
            with torch.no_grad():
                self.grid = self.physical.trajectory().detach()
        return self.grid

    def _synthetic_epoch(self, epoch: int, warm: bool, points, frames) -> Dict[str, float]:
        s = self.synthetic
        start = time.perf_counter()
        if self.mode != "hybrid" or warm:
            lam = 1.0 if self.mode != "hybrid" else float(self.knob("lambda_s_data", epoch))
            s.train_epoch(self.data, lambda_data=lam)
        else:
            lam_int = float(self.knob("lambda_s_int", epoch))
            ghosts = None
            if lam_int > 0 and len(points):
                grid = self.physical_grid()
                targets = self.physical.at(grid, points, frames, torch.zeros_like(frames),
                                           slice(0, self.physical.channels)).cpu()
                ghosts = (points, targets)
            s.train_epoch(self.data, ghosts, float(self.knob("lambda_s_data", epoch)), lam_int,
                          int(self.knob("ghost_batch", epoch)))
        s.end_epoch()
        return {M.SYNTHETIC_TOTAL_LOSS: s.terms["total"], M.SYNTHETIC_INTERACTION_LOSS: s.terms["interaction"],
                M.recon_data_mse("synthetic"): s.terms["data"], M.SYNTHETIC_LR: s.lr,
                M.TIME_SYNTHETIC: time.perf_counter() - start}

    def _physical_epoch(self, epoch: int, points, frames) -> Dict[str, float]:
        p = self.physical
        start = time.perf_counter()
        ghosts, lam_data, lam_int = None, 1.0, 0.0
        if self.mode == "hybrid":
            lam_data, lam_int = float(self.knob("lambda_p_data", epoch)), float(self.knob("lambda_p_int", epoch))
            if lam_int > 0 and len(points):
                ghosts = (points, frames, self.synthetic.predict(points))
        fit = p.update(ghosts, lam_data, lam_int)
        p.epoch += 1
        self.grid = p.last_grid
        return {M.PHYSICAL_TOTAL_LOSS: fit.loss, M.PHYSICAL_INTERACTION_LOSS: p.terms["interaction"],
                M.recon_data_mse("physical"): p.terms["data"], M.PHYSICAL_LR: p.physical_lr_now,
                M.TIME_PHYSICAL: time.perf_counter() - start, **p.parameter_scores(fit.params)}

    def synthetic_error(self) -> Dict[str, float]:
        """The network's reconstruction error metrics (relative L2 and MSE over frames ``1..T-1``,
        on the truth's own grid when it was finer than the learner's)."""
        scores = self.data.field_error(self.synthetic.predict)
        return {M.recon_rel_l2("synthetic"): scores["rel_l2"], M.recon_mse("synthetic"): scores["mse"]}

    def run_epoch(self, epoch: int) -> Dict[str, float]:
        warm = self.warming(epoch)
        points, frames = torch.zeros(0), torch.zeros(0, dtype=torch.long)
        if self.mode == "hybrid" and not warm:
            points, frames = self.ghosts.draw(epoch, int(self.knob("ghost_points", epoch)))
        metrics: Dict[str, float] = {}
        if self.synthetic is not None:
            metrics.update(self._synthetic_epoch(epoch, warm, points, frames))
            self.last_mse = metrics[M.recon_data_mse("synthetic")]
            threshold = float(self.knobs.warmstart_threshold) if self.knobs is not None else 0.0
            if warm and threshold > 0 and metrics[M.recon_data_mse("synthetic")] < threshold \
                    and epoch + 1 >= int(self.knobs.warmstart_epochs):
                # the first end is news; a re-entrant warm start ending again is detail
                (log.debug if self.warm_done else log.info)(
                    "warm start ended at epoch %d (network data MSE %.3g < %g)", epoch + 1,
                    metrics[M.recon_data_mse("synthetic")], threshold)
                self.warm_done = True
        if self.physical is not None and not warm:
            metrics.update(self._physical_epoch(epoch, points, frames))
            scores = self.physical.reconstruction_error(self.grid)
            metrics.update({M.recon_rel_l2("physical"): scores["rel_l2"], M.recon_mse("physical"): scores["mse"]})
        every = max(1, int(self.cfg.evaluation.reconstruction_every))
        if self.synthetic is not None and ((epoch + 1) % every == 0 or epoch + 1 == self.epochs):
            metrics.update(self.synthetic_error())
        metrics[M.RECON_GHOSTS] = float(len(points))
        if self.mode == "hybrid":
            metrics[HYCO_PHASE] = 0.0 if warm else 1.0
        return metrics

    # ------------------------------------------------------------------ persistence
    def save(self, extra: Optional[Dict[str, Any]] = None) -> None:
        assert self.context is not None
        state: Dict[str, Any] = {"epoch": self.epoch, "warm_done": self.warm_done, "post_done": self.post_done,
                                 "last_mse": self.last_mse, "rng": capture_rng_state(), **(extra or {})}
        if self.physical is not None:
            state["physical"] = self.physical.state()
            self.physical.save()  # physical_params.json, the evaluation's physical player
        if self.synthetic is not None:
            state["synthetic"] = self.synthetic.state_dict()
            self.synthetic.save(self.context.path(self.synthetic.LAST))
        save_checkpoint(self.context.path(self.CHECKPOINT), state)

    def post_training_ghosts(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """The L-BFGS post-training's interaction points and targets: the physics' final trajectory
        at every node of every frame."""
        points, frames = self.ghosts.draw(self.epochs - 1, -1)
        targets = self.physical.at(self.physical_grid(), points, frames, torch.zeros_like(frames),
                                   slice(0, self.physical.channels)).cpu()
        return points, targets

    def save_post(self, steps_done: int, optimiser: Dict[str, Any], loss: float) -> None:
        """A checkpoint inside the L-BFGS post-training (its step and optimiser state), and its
        objective logged at that step: a stop loses at most ``checkpoint_every`` of its steps."""
        assert self.context is not None
        self.post_step = steps_done  # the optimiser's live state is not kept: a resume reads the file
        self.save({"post_step": steps_done, "post_optimiser": optimiser})
        self.context.log({M.RECON_LBFGS_LOSS: loss}, steps_done)

    def resume(self) -> bool:
        path = self.context and self.context.resume_from(self.CHECKPOINT, self.cfg.trainer.resume)
        if not path:
            return False
        state = load_checkpoint(path)
        if self.physical is not None:
            self.physical.load_state(state["physical"])
        if self.synthetic is not None:
            self.synthetic.load_state_dict(state["synthetic"])
        self.epoch = int(state["epoch"])
        self.warm_done, self.post_done = bool(state["warm_done"]), bool(state["post_done"])
        self.last_mse = float(state.get("last_mse", float("inf")))
        self.post_step, self.post_optimiser = int(state.get("post_step", 0)), state.get("post_optimiser")
        restore_rng_state(state["rng"])
        self.context.replay_pending(state)
        log.info("resumed reconstruction training from %s at epoch %d", path, self.epoch)
        return True

    # ------------------------------------------------------------------ the loop
    def train(self) -> Dict[str, Any]:
        """``trainer.epochs`` epochs, then the network's optional L-BFGS post-training."""
        if self.context is None:
            raise ValueError("ReconstructionTrainer.train needs a RunContext")
        self.resume()
        every = self.knobs.checkpoint_every if self.knobs is not None else self.cfg.trainer.checkpoint_every
        every = max(1, int(every))
        metrics: Dict[str, float] = {}
        bar = phase_bar(range(self.epoch, self.epochs), f"reconstruction epochs ({self.mode})", initial=self.epoch,
                        total=self.epochs)
        for epoch in bar:
            start = time.perf_counter()
            metrics = self.run_epoch(epoch)
            metrics[M.TIME_EPOCH] = time.perf_counter() - start
            self.epoch = epoch + 1
            bar.set_postfix({k.split("/")[0][:4]: f"{v:.3g}" for k, v in metrics.items()
                             if k in (M.recon_rel_l2("physical"), M.recon_data_mse("synthetic"))})
            if self.epoch % every == 0 or self.epoch == self.epochs:
                self.context.report(self.epoch, metrics, self.save)
            else:
                self.context.defer(metrics, self.epoch)
        iterations = int(self.knobs.synthetic_lbfgs_iterations) if self.knobs is not None else 0
        if iterations > 0 and not self.post_done:
            start = time.perf_counter()
            last = self.epochs - 1
            lam_int = float(self.knob("lambda_s_int", last))
            ghosts = self.post_training_ghosts() if lam_int > 0 else None
            if self.post_step:
                log.info("resuming the L-BFGS post-training at step %d of %d", self.post_step, iterations)
            mse = self.synthetic.lbfgs(self.data, iterations, ghosts, float(self.knob("lambda_s_data", last)), lam_int,
                                       start=self.post_step, state=self.post_optimiser,
                                       checkpoint=self.save_post, checkpoint_every=every)
            self.post_done = True
            post = {M.recon_data_mse("synthetic"): mse, **self.synthetic_error(),
                    M.TIME_SYNTHETIC: time.perf_counter() - start}
            log.info("network L-BFGS post-training (%d iterations): data MSE %.3g", iterations, mse)
            self.context.report(self.epochs + 1, post, self.save)
            metrics.update(post)
        results: Dict[str, Any] = {**metrics, "epochs": self.epoch}
        if self.physical is not None:
            results["params"] = self.physical.current_params()
        return results


# ------------------------------------------------------------------ building the players
def field_trainer(cfg: DictConfig, model: PhysicalModel, data: ScatteredData) -> NeuralFieldTrainer:
    """The configured neural field for ``model``'s fields (``synthetic.name`` of kind ``field``)."""
    network, spec = build_model_network(cfg, model)
    return NeuralFieldTrainer(cfg, network, int(cfg.trainer.epochs), network_spec=spec, data=data)


def build_reconstruction(cfg: DictConfig, model: PhysicalModel, data: Any, context: Optional[RunContext],
                         players: tuple) -> ReconstructionTrainer:
    """The trainer of ``players`` (``("synthetic",)``, ``("physical",)`` or both) on ``data.scattered``."""
    scattered = data.scattered
    physical = TrajectoryPhysics(cfg, model, scattered, context) if "physical" in players else None
    synthetic = field_trainer(cfg, model, scattered) if "synthetic" in players else None
    return ReconstructionTrainer(cfg, scattered, physical, synthetic, context)
