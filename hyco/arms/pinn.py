"""The ``pinn`` arm: a physics-informed neural network with the physical parameters in its residual.

One coordinate network ``(x, t, simulation) -> fields`` (:mod:`hyco.arms.pinn_network`:
a learned embedding per training simulation, and why) is fitted to the training trajectories by

    loss = w_data L_data + w_res L_res + w_ic L_ic + w_bc L_bc

* ``L_data``: squared misfit at observed points (frames ``t >= 1``, the observation masks);
* ``L_res``: mean squared PDE residual (:meth:`PhysicalModel.residual`, autograd derivatives)
  times the frame interval ``dt`` (so that it is in the data's units: field change per frame)
  at ``trainer.pinn.collocation_points`` points drawn uniformly over space, time and simulations,
  **resampled every epoch** from a generator seeded by ``(seed, epoch)``;
* ``L_ic``: misfit to the known initial frame (all points);
* ``L_bc``: the boundary condition on walled axes (zero value or zero normal derivative); a
  periodic axis is periodic by construction of the network's encoding, so it has no term.

The learnable physical parameters appear only in ``L_res``: scalars in the physical trainer's
bounded logit space, fields as grids interpolated at the collocation points; they have their
own Adam optimiser (``trainer.physical_lr``), the network uses ``trainer.lr``. One epoch is
``trainer.pinn.iterations_per_epoch`` steps, each with ``data_batch`` observed and initial
points and its share of the epoch's collocation points.

Adaptive weights (``trainer.pinn.adaptive=lra``): learning-rate annealing of Wang, Teng &
Perdikaris, "Understanding and mitigating gradient flow pathologies in physics-informed neural
networks", SIAM J. Sci. Comput. 43 (2021): at the first step of each epoch,
``ŵ_i = max|∇_W L_res| / mean|∇_W L_i|`` over the network weights and
``w_i ← (1 - α) w_i + α ŵ_i`` for the data, IC and BC terms (``α = adaptive_alpha``);
the configured weights multiply them.

On a static problem (:mod:`hyco.physics.static`) the network is ``(x, y) -> u`` (no time, no
initial frame: ``L_ic`` is 0), the residual is not scaled by a frame interval, and a family
parameter enters the residual evaluated exactly at the collocation points from its scalars. The
static papers' PINN is reachable with the knobs below: ``share``/``skip``/``init`` (their tanh
"ResNet" network), ``data_batch: 0`` (every observed point in every step), ``boundary_points``
and ``weight_bc`` (400 wall points weighted 10), and ``pretrain_threshold`` (their first phase:
while the physics-only loss ``w_res L_res + w_bc L_bc`` is above it, no data term and the parameters
frozen; from the first step at or below it on, the full loss).

A PINN reconstructs the trajectories it was trained on; it cannot forecast from a new initial
condition. Its forecast columns are therefore the physical model rolled out on the held-out
simulations with the PINN's parameters (``physical_params.json``, as the physical trainer writes
it); its own product, the reconstruction of the training trajectories where they were not
observed, is logged every ``evaluation.reconstruction_every`` epochs and at the last as
``pinn/reconstruction_rel_l2``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional

import numpy as np
import torch
from omegaconf import DictConfig

from hyco import metrics as M
from hyco.arms.pinn_data import PINNData, ScatteredPINNData
from hyco.arms.pinn_network import CoordinateNetwork
from hyco.arms.players import physical_player
from hyco.arms.spec import ArmSpec, register_arm
from hyco.config.schema import Choice, ranged
from hyco.core.checkpoints import load_checkpoint, save_checkpoint, tensors_finite
from hyco.core.console import bar_metrics, phase_bar
from hyco.core.devices import select_device
from hyco.data.training_data import TrainingData
from hyco.physics.base import PhysicalModel
from hyco.physics.residuals import Derivatives
from hyco.training.base import AbstractTrainer, check_finite
from hyco.training.context import RunContext
from hyco.training.physical import PhysicalTrainer
from hyco.training.rng import capture_rng_state, restore_rng_state
from hyco.training.tensor import build_optimizer, optimizer_step

log = logging.getLogger(__name__)


class Adaptive(Choice):
    none = "none"
    lra = "lra"  # learning-rate annealing (Wang, Teng & Perdikaris 2021)


class PinnInit(Choice):
    default = "default"  # torch's nn.Linear initialisation
    lecun_normal = "lecun_normal"  # N(0, 1 / fan_in), zero biases: flax's default (the static papers' code)


@dataclass
class PinnConfig:
    """The PINN's own knobs, node ``trainer.pinn`` (the network's Adam lr is ``trainer.lr``, the
    physical parameters' ``trainer.physical_lr``)."""

    hidden: int = ranged(64, 1)  # width of the coordinate MLP
    layers: int = ranged(4, 1)  # hidden layers
    fourier_features: int = ranged(4, 0)  # harmonics per axis (periodic axes: at least 1, for exact periodicity)
    embedding_dim: int = ranged(8, 0)  # learned code per training simulation
    collocation_points: int = ranged(2048, 1)  # residual points per epoch, resampled every epoch
    iterations_per_epoch: int = ranged(50, 1)  # optimiser steps per epoch
    data_batch: int = ranged(1024, 0)  # observed points per step (drawn with replacement); 0: all of them
    boundary_points: int = ranged(0, 0)  # wall points per step; 0: max(16, data_batch // 4)
    weight_data: float = ranged(1.0, 0.0)
    weight_residual: float = ranged(1.0, 0.0)
    weight_ic: float = ranged(1.0, 0.0)
    weight_bc: float = ranged(1.0, 0.0)
    adaptive: Adaptive = Adaptive.none
    adaptive_alpha: float = ranged(0.9, 0.0, 1.0)  # moving-average factor of the lra weights
    share: bool = False  # one hidden-to-hidden layer reused for every hidden layer after the first
    skip: bool = False  # a skip connection around the hidden layers (the static papers' ResNet block)
    init: PinnInit = PinnInit.default
    # the static papers' first phase: no data term and frozen parameters while the physics-only loss is above
    # this (0: none)
    pretrain_threshold: float = ranged(0.0, 0.0)
    lr: float = ranged(0.0, 0.0)  # the network's Adam lr; 0: trainer.lr (the PINN's own where the others differ)
    physical_lr: float = ranged(0.0, 0.0)  # the parameters' Adam lr; 0: trainer.physical_lr


# ------------------------------------------------------------------ metric names of this arm
PINN_TERMS = ("data", "residual", "ic", "bc")


def pinn_loss(term: str) -> str:
    """``pinn/<term>_loss``; ``term`` is one of :data:`PINN_TERMS` or ``total``."""
    if term not in (*PINN_TERMS, "total"):
        raise ValueError(f"pinn loss term: {term!r}; choose from {(*PINN_TERMS, 'total')}")
    return f"pinn/{term}_loss"


def pinn_weight(term: str) -> str:
    """``pinn/weight_<term>``: the weight of a loss term in effect."""
    if term not in PINN_TERMS:
        raise ValueError(f"pinn loss term: {term!r}; choose from {PINN_TERMS}")
    return f"pinn/weight_{term}"


PINN_RECONSTRUCTION = "pinn/reconstruction_rel_l2"
PINN_PHASE = "pinn/phase"
METRICS = {
    PINN_PHASE: "0 while the first phase lasts (trainer.pinn.pretrain_threshold: no data, parameters frozen), "
                "then 1, per epoch",
    **{pinn_loss(t): f"the {t} term (unweighted mean), per epoch" for t in PINN_TERMS},
    pinn_loss("total"): "weighted total loss, per epoch",
    **{pinn_weight(t): f"weight of the {t} term in effect (adaptive: lra), per epoch" for t in PINN_TERMS},
    PINN_RECONSTRUCTION: "PINN vs the clean training trajectories where they were not observed (relative L2; a "
                         "static problem: on the reference grid), every evaluation.reconstruction_every epochs",
}


class PINNTrainer(AbstractTrainer):
    """Trains the coordinate network and the physical parameters (module docstring).

    Parameters
    ----------
    physical
        Holds the learnable parameters, their Adam state and ``physical_params.json``.
    data
        The training trajectories as point sets.
    """

    CHECKPOINT = "pinn_last.pt"

    def __init__(self, cfg: DictConfig, physical: PhysicalTrainer, data: PINNData,
                 val_data: Any = None, context: Optional[RunContext] = None) -> None:
        super().__init__(cfg)
        tr, pn = cfg.trainer, cfg.trainer.pinn
        self.physical = physical
        self.model = physical.model
        self.data = data
        self.val_data = val_data
        self.context = context
        self.device = select_device(cfg.device)
        self.data.to(self.device)
        self.timed = bool(getattr(data, "timed", True))
        self.network = CoordinateNetwork(
            data.periodic, self.model.domain_lower, self.model.domain_size, data.duration, data.channels, data.num_sims,
            pn.hidden, pn.layers, pn.fourier_features, pn.embedding_dim, int(cfg.seed), timed=self.timed,
            share=bool(pn.share), skip=bool(pn.skip), init=str(getattr(pn.init, "value", pn.init)),
        ).to(self.device)
        self.optimizer = build_optimizer(tr, self.network.parameters())
        if float(pn.lr) > 0:  # the PINN's own learning rate (the static papers' differs from the network's)
            for group in self.optimizer.param_groups:
                group["lr"] = float(pn.lr)
        self.pretrained = float(pn.pretrain_threshold) <= 0  # the first phase is over (or there is none)
        self.base_weights = {"data": float(pn.weight_data), "residual": float(pn.weight_residual),
                             "ic": float(pn.weight_ic), "bc": float(pn.weight_bc)}
        self.adaptive = {"data": 1.0, "ic": 1.0, "bc": 1.0}  # lra factors (1 without adaptation)
        self.epoch = 0
        self.step = 0

    # ------------------------------------------------------------------ the loss terms
    def physical_values(self) -> Dict[str, torch.Tensor]:
        """Parameter values in physical space (differentiable in the learnable ones)."""
        out = {n: self.physical._to_physical(n, z) for n, z in self.physical.z.items()}
        out.update({n: torch.tensor(v, dtype=torch.float32, device=self.device)
                    for n, v in self.physical.fixed.items()})
        return out

    def _fields(self, out: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {name: out[:, sl] for name, sl in self.data.slices.items()}

    def physical_adam(self) -> torch.optim.Optimizer:
        """The parameters' Adam (the physical trainer's), at ``trainer.pinn.physical_lr`` when set."""
        adam = self.physical._adam_optimizer()
        if float(self.cfg.trainer.pinn.physical_lr) > 0:
            for group in adam.param_groups:
                group["lr"] = float(self.cfg.trainer.pinn.physical_lr)
        return adam

    def residual_loss(self, coords: torch.Tensor, sims: torch.Tensor) -> torch.Tensor:
        coords = coords.clone().requires_grad_(True)
        if self.timed:  # autograd's derivatives, as this arm has always taken them on trajectories
            values = self._fields(self.network(coords, sims))
            d = Derivatives(coords, values, timed=True)
        else:  # a static problem: the network's own forward derivatives (forward Laplacian), the faster way
            out, first, laplacian = self.network.laplacian_jet(coords, sims)
            values = self._fields(out)
            d = Derivatives(coords, values, timed=False,
                            jets={n: (first[:, sl], laplacian[:, sl]) for n, sl in self.data.slices.items()})
        params = self.model.params_at(self.physical_values(), coords[:, : self.model.dim],
                                      thetas=self.physical.family_thetas())
        residuals = self.model.residual(values, d, params)
        # R * dt: the residual in units of the field per frame, the data misfit's units, so that
        # one set of weights suits every PDE (Burgers' R reaches ~50 where u_x is steep); a static
        # residual has no frame interval and enters as it is (the static papers' plain mean square)
        dt = float(self.model.dt) if self.timed else 1.0
        return torch.stack([(r * dt).square().mean() for r in residuals.values()]).mean()

    def boundary_loss(self, rng: np.random.Generator, count: int) -> torch.Tensor:
        """Mean square of the boundary condition's defect at ``count`` wall points (0 without walls)."""
        walls = self.data.walls
        if not walls:
            return torch.zeros((), device=self.device)
        coords, sims, which = self.data.wall_points(rng, count)
        coords = coords.requires_grad_(True)
        out = self.network(coords, sims)
        terms = []
        for k, (channels, axis, kind) in enumerate(walls):
            pick = which == k
            if not bool(pick.any()):
                continue
            if kind == "dirichlet":
                terms.append(out[pick][:, channels].square().mean())
            else:  # zero normal derivative
                for c in range(channels.start, channels.stop):
                    (g,) = torch.autograd.grad(out[:, c].sum(), coords, create_graph=True)
                    terms.append(g[pick, axis].square().mean())
        return torch.stack(terms).mean() if terms else torch.zeros((), device=self.device)

    def terms(self, rng: np.random.Generator, colloc: tuple) -> Dict[str, torch.Tensor]:
        """The four unweighted terms of one step (no initial frame on a static problem: ``ic`` 0)."""
        pn = self.cfg.trainer.pinn
        batch = int(pn.data_batch)
        coords, sims, target, mask = self.data.observed_batch(rng, batch)
        misfit = ((self.network(coords, sims) - target) ** 2 * mask).sum() / mask.sum().clamp_min(1.0)
        if self.timed:
            coords0, sims0, target0 = self.data.initial_batch(rng, batch or 1024)
            ic = ((self.network(coords0, sims0) - target0) ** 2).mean()
        else:
            ic = torch.zeros((), device=self.device)
        walls = int(pn.boundary_points) or max(16, (batch or 1024) // 4)
        return {"data": misfit, "residual": self.residual_loss(*colloc), "ic": ic,
                "bc": self.boundary_loss(rng, walls)}

    def weights(self) -> Dict[str, float]:
        return {k: w * self.adaptive.get(k, 1.0) for k, w in self.base_weights.items()}

    def _anneal(self, terms: Dict[str, torch.Tensor]) -> None:
        """Learning-rate annealing (Wang, Teng & Perdikaris 2021): ``ŵ_i = max|∇L_res| / mean|∇L_i|``."""
        params = [p for p in self.network.parameters() if p.requires_grad]

        def grads(term: torch.Tensor) -> Optional[torch.Tensor]:
            if not term.requires_grad:
                return None
            gs = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
            flat = [g.abs().reshape(-1) for g in gs if g is not None]
            return torch.cat(flat) if flat else None

        g_res = grads(terms["residual"])
        if g_res is None:
            return
        alpha = float(self.cfg.trainer.pinn.adaptive_alpha)
        for name in self.adaptive:
            g = grads(terms[name])
            if g is None or float(g.mean()) == 0.0:
                continue
            target = float(g_res.max()) / float(g.mean())
            self.adaptive[name] = (1 - alpha) * self.adaptive[name] + alpha * target

    # ------------------------------------------------------------------ one epoch
    def train_epoch(self) -> Dict[str, float]:
        """``iterations_per_epoch`` steps on fresh collocation points; the epoch's metrics."""
        tr, pn = self.cfg.trainer, self.cfg.trainer.pinn
        start = time.perf_counter()
        rng = np.random.default_rng([int(self.cfg.seed), 31_337, self.epoch])
        iterations = max(1, int(pn.iterations_per_epoch))
        coords, sims = self.data.collocation(rng, max(int(pn.collocation_points), iterations))
        chunks = np.array_split(np.arange(coords.shape[0]), iterations)
        adam = self.physical_adam()
        threshold = float(pn.pretrain_threshold)
        sums = {k: 0.0 for k in (*PINN_TERMS, "total")}
        for i, chunk in enumerate(chunks):
            index = torch.as_tensor(chunk, device=self.device)
            terms = self.terms(rng, (coords[index], sims[index]))
            if self.step == tr.inject_nan_at_step:
                terms["residual"] = terms["residual"] * float("nan")  # test hook: a diverging step
            for name, value in terms.items():
                check_finite(float(value.detach()), term=f"pinn_{name}_loss", step=self.step,
                             where=f"epoch {self.epoch + 1}")
            if i == 0 and str(getattr(pn.adaptive, "value", pn.adaptive)) == "lra":
                self._anneal(terms)
            w = self.weights()
            if self.pretrained:
                total = sum(w[k] * terms[k] for k in terms)
                optimizer_step(total, [self.optimizer, adam], self.network.parameters(), tr.grad_clip)
            else:  # the first phase: the physics alone shapes the network, the parameters wait
                total = sum(w[k] * terms[k] for k in terms if k != "data")
                optimizer_step(total, [self.optimizer], self.network.parameters(), tr.grad_clip)
                adam.zero_grad(set_to_none=True)
                self.pretrained = float(total.detach()) <= threshold
            self.step += 1
            self.physical.step += 1
            for name, value in terms.items():
                sums[name] += float(value.detach())
            sums["total"] += float(total.detach())
        self.epoch += 1
        self.physical.epoch = self.epoch
        metrics = {pinn_loss(k): v / len(chunks) for k, v in sums.items()}
        metrics.update({pinn_weight(k): v for k, v in self.weights().items()})
        metrics[PINN_PHASE] = 1.0 if self.pretrained else 0.0
        every = max(1, int(self.cfg.evaluation.reconstruction_every))
        if self.epoch % every == 0 or self.epoch == int(tr.epochs):  # a pass over every point: not every epoch
            metrics[PINN_RECONSTRUCTION] = self.reconstruction_error()
        metrics.update(self.physical.parameter_scores())
        if self.val_data is not None and len(self.val_data) > 0:
            # the physical model with the PINN's parameters on the validation windows
            metrics[M.PHYSICAL_DATA_LOSS] = self.physical.validation_loss(self.val_data)
        metrics[M.TIME_EPOCH] = time.perf_counter() - start
        return metrics

    @torch.no_grad()
    def reconstruction_error(self) -> float:
        """Relative L2 of the network against the clean training trajectories (frames ``t >= 1``)
        where they were not observed (everywhere, when everything was observed)."""
        num, den = 0.0, 0.0
        for coords, sims, truth, unobserved in self.data.reconstruction_chunks():
            err = (self.network(coords, sims) - truth) * unobserved
            num += float(err.square().sum())
            den += float((truth * unobserved).square().sum())
        return float(np.sqrt(num / max(den, 1e-30)))

    # ------------------------------------------------------------------ persistence
    def state(self) -> Dict[str, Any]:
        return {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict(),
                "epoch": self.epoch, "step": self.step, "adaptive": dict(self.adaptive), "pretrained": self.pretrained,
                "physical": self.physical.state(), "rng": capture_rng_state()}

    def save(self, extra: Optional[Dict[str, Any]] = None) -> None:
        """The checkpoint and ``physical_params.json`` (the evaluation's physical rollout)."""
        assert self.context is not None
        state = self.state()
        if not tensors_finite(state["network"]):
            raise FloatingPointError("refusing to write non-finite PINN weights to "
                                     f"{self.context.path(self.CHECKPOINT)}")
        save_checkpoint(self.context.path(self.CHECKPOINT), {**state, **(extra or {})})
        self.physical.save()

    def resume(self) -> bool:
        path = self.context and self.context.resume_from(self.CHECKPOINT, self.cfg.trainer.resume)
        if not path:
            return False
        state = load_checkpoint(path, map_location=self.device)
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.adaptive = {k: float(v) for k, v in state["adaptive"].items()}
        self.pretrained = bool(state.get("pretrained", True))
        self.physical.load_state(state["physical"])
        restore_rng_state(state["rng"])
        self.context.replay_pending(state)
        log.info("resumed PINN training from %s at epoch %d", path, self.epoch)
        return True

    def train(self) -> Dict[str, Any]:
        """``trainer.epochs`` epochs, each checkpointed and reported to the context."""
        if self.context is None:
            raise ValueError("PINNTrainer.train needs a RunContext")
        self.resume()
        epochs = int(self.cfg.trainer.epochs)
        metrics: Dict[str, float] = {}
        every = max(1, int(self.cfg.trainer.checkpoint_every))
        bar = phase_bar(range(self.epoch, epochs), f"{self.cfg.trainer.variant} epochs", initial=self.epoch,
                        total=epochs)
        for _ in bar:
            metrics = self.train_epoch()
            bar.set_postfix(bar_metrics(metrics))
            log.debug("epoch %d/%d %s", self.epoch, epochs, " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
            if self.epoch % every == 0 or self.epoch == epochs:
                self.context.report(self.epoch, metrics, self.save)
            else:  # sent with the next checkpoint
                self.context.defer(metrics, self.epoch)
        return {**metrics, "epochs": self.epoch, "params": self.physical.current_params()}


def check_pinn_model(cfg: DictConfig, model: PhysicalModel) -> None:
    """Refuse, at config time, what the PINN cannot run on (a ``ValueError`` that says why)."""
    name = cfg.physics.name
    if model.dim == 0:
        raise ValueError(f"trainer.variant=pinn: the model '{name}' has no spatial axes (an ODE system); the "
                         "PINN's coordinate network samples space and time")
    if not model.has_residual:
        raise ValueError(f"trainer.variant=pinn: the physics model '{name}' does not state its PDE's continuous "
                         "residual (PhysicalModel.residual), so a PINN has nothing to enforce; choose another arm "
                         "or implement the residual")
    if any(s.grid == "staggered" for s in model.field_specs if s.role == "dynamic"):
        raise ValueError("trainer.variant=pinn: staggered fields are not supported; use physics.grid=centered")
    if model.static_fields:
        raise ValueError(f"trainer.variant=pinn: the model '{name}' has static input fields "
                         f"{list(model.static_fields)}, which the PINN's residual does not receive")


def build_pinn_trainer(cfg: DictConfig, model: PhysicalModel, data: TrainingData,
                       context: Optional[RunContext]) -> PINNTrainer:
    """The coordinate network on the training trajectories of ``data.reader``; parameters as for
    the physical player."""
    physical = PhysicalTrainer(cfg, model, None, data.val, context)
    points = ScatteredPINNData(data.scattered, model) if data.scattered is not None else PINNData(data.reader, model)
    return PINNTrainer(cfg, physical, points, data.val, context)


register_arm(ArmSpec(
    name="pinn", build=build_pinn_trainer, trains=("physical",), forecast="physical", learns_params=True,
    players=(physical_player(),), node="pinn", node_config=PinnConfig,
    reads=("epochs", "lr", "weight_decay", "optimizer", "grad_clip", "physical_lr", "resume", "inject_nan_at_step",
           "checkpoint_every",
           *(f"pinn.{f.name}" for f in dataclasses.fields(PinnConfig))),
    checkpoints=(PINNTrainer.CHECKPOINT, PhysicalTrainer.PARAMS_FILE), metrics=METRICS, accepts=check_pinn_model,
    reconstructs=True, static=True, rank=20))
