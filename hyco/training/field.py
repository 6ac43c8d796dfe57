"""Fitting the physical model's parameters: L-BFGS-B via ``math.minimize`` or Adam.

Parameters are optimised in an unconstrained space. A parameter bounded by ``[lower, upper]``
is written ``p = lower + (upper - lower) * sigmoid(z)``: inside the bounds by construction (so the
explicit solver stays inside its stability limit) and, for ``p`` well below ``upper``, close to a
fit in ``log p`` — the parametrisation PhiFlow's notes recommend for viscosities (on raw ``nu`` the
first L-BFGS-B trial step jumps to the upper end and the fit fails).
"""

from __future__ import annotations

import logging
import math as pymath
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

import numpy as np
import torch
from omegaconf import DictConfig
from phiml import math
from phiml.math import Diverged, NotConverged, Solve

from hyco.errors import NonFiniteLossError, PhysicsSolveError
from hyco.physics.base import PhysicalModel
from hyco.physics.params import param_to_numpy
from hyco.synthetic.rollout import masked_rollout_loss
from hyco.training.base import AbstractTrainer, check_finite

log = logging.getLogger(__name__)

PHYSICAL_LOSS = "physical_rollout_mse"


@dataclass
class FitResult:
    """Outcome of one :meth:`FieldTrainer.fit` call."""

    loss: float
    iterations: int
    evaluations: int
    seconds: float
    params: Dict[str, np.ndarray]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


class FieldTrainer(AbstractTrainer):
    """Optimises the learnable parameters of a :class:`~hyco.physics.base.PhysicalModel`.

    The data to fit is an argument of :meth:`fit` — tensors ``x0 [B,C,*s]``,
    ``targets [B,K,C,*s]``, ``masks [B,K,1,*s]`` and optional per-point ``weights`` — so the same
    trainer fits observations (``physical_only``) or the synthetic model's predictions (HYCO).
    ``math.minimize`` with L-BFGS-B (``trainer.physical_optimizer``) runs at most
    ``iterations`` iterations per call; the Adam alternative takes ``iterations`` Adam steps.
    """

    def __init__(self, cfg: DictConfig, model: PhysicalModel) -> None:
        super().__init__(cfg)
        self.model = model
        self.learnable = [n for n, s in model.param_specs.items() if s.learnable]
        if not self.learnable:
            raise ValueError("physics.params: no learnable parameter to fit (set learnable: true)")
        init = {name: np.asarray(param_to_numpy(t), dtype=np.float64) for name, t in model.initial_params().items()}
        self.fixed = {n: v for n, v in init.items() if n not in self.learnable}
        # family parameters move in their scalars theta (their family's unconstrained space)
        init.update({n: np.asarray(s.initial_theta, dtype=np.float64) for n, s in model.param_specs.items()
                     if s.kind == "family" and n in self.learnable})
        for index, name in enumerate(self.learnable):
            init[name] = self._jittered(name, index, init[name])
        # Leaf tensors updated in place, so an Adam optimiser keeps its moments across fits.
        self.z: Dict[str, torch.Tensor] = {
            name: torch.tensor(self._to_unconstrained(name, init[name]), dtype=torch.float32,
                               device=model.device, requires_grad=True)
            for name in self.learnable
        }
        self.evaluations = 0
        self.step = 0  # loss evaluations over the trainer's life, the "optimisation step" of errors
        self._adam: Optional[torch.optim.Optimizer] = None
        self._schedule: Optional[Any] = None  # a OneCycle schedule of Adam (trainer.physical_scheduler)

    # ------------------------------------------------------------------ parametrisation
    def _jittered(self, name: str, index: int, value: np.ndarray) -> np.ndarray:
        """The initial value, drawn uniformly in ``initial_uniform`` when it is given, times
        ``1 + initial_jitter * N(0, 1)`` (both seeded by the run's seed and the parameter's
        position), kept inside a bounded parameter's range; unchanged without either."""
        spec = self.model.param_specs[name]
        if spec.initial_uniform:
            low, high = (np.array(v, dtype=np.float64) for v in zip(*spec.initial_uniform))
            rng = np.random.default_rng([int(self.cfg.seed) % (1 << 63), 0x1A17, index])
            value = (low + (high - low) * rng.random(low.shape)).reshape(np.shape(value))
        if spec.initial_jitter <= 0:
            return value
        rng = np.random.default_rng([int(self.cfg.seed) % (1 << 63), 0x717, index])
        out = value * (1.0 + spec.initial_jitter * rng.standard_normal(np.shape(value)))
        if spec.kind != "family" and spec.space == "bounded":
            margin = 1e-6 * (spec.upper - spec.lower)
            out = np.clip(out, spec.lower + margin, spec.upper - margin)
        return out

    def _family(self, name: str):
        from hyco.physics.families import FAMILIES

        spec = self.model.param_specs[name]
        return FAMILIES.get(spec.family) if spec.kind == "family" else None

    def _to_unconstrained(self, name: str, value: np.ndarray) -> np.ndarray:
        spec, family = self.model.param_specs[name], self._family(name)
        if family is not None:  # value is theta
            return family.to_unconstrained(value, spec.family_args, self.model.dim)
        if spec.space == "log":
            return np.log(np.maximum(value, 1e-30))
        if spec.space == "linear":
            return np.asarray(value, dtype=np.float64)
        return _logit((value - spec.lower) / (spec.upper - spec.lower))

    def _to_physical(self, name: str, z: torch.Tensor) -> torch.Tensor:
        """The parameter's value from its optimised variables: a bounded scalar or field, or a
        family parameter's field generated from its scalars."""
        spec, family = self.model.param_specs[name], self._family(name)
        if family is not None:
            return self.model.family_field(name, family.from_unconstrained(z, spec.family_args, self.model.dim))
        if spec.space == "log":
            return torch.exp(z)
        if spec.space == "linear":
            return z
        return spec.lower + (spec.upper - spec.lower) * torch.sigmoid(z)

    def family_thetas(self, z: Optional[Dict[str, torch.Tensor]] = None) -> Dict[str, torch.Tensor]:
        """The scalars of every learnable family parameter, differentiable in ``z`` (default: the
        current ones), for a residual that evaluates the family exactly at points."""
        out = {}
        for name, value in (self.z if z is None else z).items():
            family = self._family(name)
            if family is not None:
                out[name] = family.from_unconstrained(value, self.model.param_specs[name].family_args, self.model.dim)
        return out

    def current_theta(self) -> Dict[str, np.ndarray]:
        """The scalars of every learnable family parameter."""
        out = {}
        for name, z in self.z.items():
            family = self._family(name)
            if family is not None:
                spec = self.model.param_specs[name]
                out[name] = family.from_unconstrained(z.detach(), spec.family_args, self.model.dim).cpu().numpy()
        return out

    def current_params(self) -> Dict[str, np.ndarray]:
        """The current parameter values (physical space; a family parameter's field), as numpy arrays."""
        with torch.no_grad():
            out = {n: self._to_physical(n, z).detach().cpu().numpy() for n, z in self.z.items()}
        out.update(self.fixed)
        return out

    def set_params(self, values: Dict[str, Any]) -> None:
        """Set parameters from physical-space values (e.g. when resuming); a family parameter is
        set from its scalars ``theta`` only (a field does not give them back)."""
        for name, value in values.items():
            if name in self.z and self._family(name) is None:
                z = self._to_unconstrained(name, np.asarray(value, dtype=np.float64))
                self._assign(name, torch.as_tensor(z))

    def _assign(self, name: str, value: torch.Tensor) -> None:
        with torch.no_grad():
            self.z[name].copy_(value.reshape(self.z[name].shape).to(self.z[name].dtype).to(self.z[name].device))

    def physics_params(self, z: Dict[str, torch.Tensor]) -> Dict[str, Any]:
        values: Dict[str, Any] = {n: self._to_physical(n, t) for n, t in z.items()}
        values.update({n: torch.tensor(v, dtype=torch.float32, device=self.model.device)
                       for n, v in self.fixed.items()})
        return self.model.params_from_values(values)

    # ------------------------------------------------------------------ loss
    def rollout_tensor(self, x0: torch.Tensor, steps: int, params: Dict[str, Any]) -> torch.Tensor:
        """Roll the physical model out from ``x0 [B,C,*s]``: ``[B, steps, C_dyn, *s]`` (differentiable).

        ``x0`` holds the dynamic fields, then the model's static fields; any further channels
        (known parameters given to the network) are ignored."""
        return self.model.tensor_rollout(x0, steps, params)

    def loss(self, z: Dict[str, torch.Tensor], x0, targets, masks, weights=None,
             optimising: bool = True) -> torch.Tensor:
        """Masked rollout MSE; ``optimising=False`` (validation) does not advance the step counter."""
        device = self.model.device
        x0, targets, masks = x0.to(device), targets.to(device), masks.to(device)
        weights = None if weights is None else weights.to(device)
        predictions = self.rollout_tensor(x0, targets.shape[1], self.physics_params(z))
        loss = masked_rollout_loss(predictions, targets, masks, weights) + self.smoothness_penalty(z)
        if not optimising:
            return loss
        if self.step == self.cfg.trainer.inject_nan_at_step:
            loss = loss * float("nan")  # test hook: simulate a diverging step
        self.step += 1
        self.evaluations += 1
        return loss

    def smoothness_penalty(self, z: Dict[str, torch.Tensor]) -> torch.Tensor:
        """``sum_p beta_p * mean |grad p|^2`` over field parameters with ``smoothness = beta > 0``
        (one-sided differences between neighbouring cells, divided by the cell size)."""
        total = torch.zeros(())
        for name, value in z.items():
            beta = self.model.param_specs[name].smoothness
            if beta <= 0 or value.ndim == 0 or self._family(name) is not None:
                continue
            p = self._to_physical(name, value)
            for axis, h in enumerate(self.model.dx):
                if p.shape[axis] > 1:
                    total = total + beta * (torch.diff(p, dim=axis) / h).square().mean()
        return total

    # ------------------------------------------------------------------ fitting
    def fit(self, x0: torch.Tensor, targets: torch.Tensor, masks: torch.Tensor,
            iterations: int, weights: Optional[torch.Tensor] = None) -> FitResult:
        """Fit the learnable parameters to the rollout windows ``targets`` for at most
        ``iterations`` iterations (:meth:`minimise` of :meth:`loss`)."""
        device = self.model.device  # the physics' device (CUDA when configured), not the network's
        x0, targets, masks = (t.detach().float().to(device) for t in (x0, targets, masks))
        weights = None if weights is None else weights.detach().float().to(device)
        return self.minimise(lambda z, optimising=True: self.loss(z, x0, targets, masks, weights, optimising),
                             iterations)

    def minimise(self, loss_fn: Callable[..., torch.Tensor], iterations: int) -> FitResult:
        """Minimise ``loss_fn(z, optimising=True)`` over the learnable parameters for at most
        ``iterations`` iterations of ``trainer.physical_optimizer``.

        Raises :class:`~hyco.training.base.NonFiniteLossError` (naming the step) if the loss
        becomes NaN/inf, or the model's :class:`~hyco.physics.params.PhysicsSolveError` if an
        inner solve failed (raised after L-BFGS-B has returned, never inside it); the
        parameters then keep their values from before this call.
        """
        before = {n: t.detach().clone() for n, t in self.z.items()}
        start, evals0 = time.perf_counter(), self.evaluations
        method = getattr(self.cfg.trainer.physical_optimizer, "value", self.cfg.trainer.physical_optimizer)
        try:
            if method == "lbfgsb":
                iters = self._fit_lbfgsb(loss_fn, iterations)
            else:
                iters = self._fit_adam(loss_fn, iterations)
        except (NonFiniteLossError, PhysicsSolveError):
            for name, value in before.items():
                self._assign(name, value)
            raise
        try:
            with torch.no_grad():  # counted as an evaluation, as every loss of the fit
                final = float(loss_fn(self.z))
        except PhysicsSolveError:
            for name, value in before.items():
                self._assign(name, value)
            raise
        if not pymath.isfinite(final):
            for name, value in before.items():
                self._assign(name, value)
        check_finite(final, term=PHYSICAL_LOSS, step=self.step - 1, where="physical fit")
        return FitResult(final, iters, self.evaluations - evals0, time.perf_counter() - start,
                         self.current_params())

    def _fit_lbfgsb(self, loss_fn: Callable[..., torch.Tensor], iterations: int) -> int:
        names = list(self.z)
        shapes = [tuple(self.z[n].shape) for n in names]
        sizes = [int(np.prod(s)) if s else 1 for s in shapes]
        flat0 = torch.cat([self.z[n].detach().reshape(-1) for n in names])
        bad: Dict[str, Any] = {"value": None, "step": None, "solve": None}

        def objective(flat):
            native = flat.native("v") if isinstance(flat, math.Tensor) else flat
            z, offset = {}, 0
            for n, shape, size in zip(names, shapes, sizes):
                z[n] = native[offset:offset + size].reshape(shape)
                offset += size
            try:
                loss = loss_fn(z)
            except PhysicsSolveError as err:
                # A failed inner solve must not raise here either (the scipy thread would hang):
                # it counts as a non-finite loss and is raised once the solver has returned.
                if bad["solve"] is None:
                    bad["solve"] = err
                loss = native.sum() * float("nan")
            if not bool(torch.isfinite(loss)):
                # Raising inside math.minimize blocks phiml's scipy thread; record it (the first
                # one) and raise once the solver has returned.
                if bad["value"] is None:
                    bad["value"], bad["step"] = float(loss.detach()), self.step - 1
                loss = torch.nan_to_num(loss.detach(), nan=1e30, posinf=1e30) + 0 * native.sum()
            return math.tensor(loss)

        solve = Solve("L-BFGS-B", 0, 1e-10, max_iterations=int(iterations),
                      x0=math.tensor(flat0, math.channel("v")), suppress=[NotConverged, Diverged])
        result = math.minimize(objective, solve)
        best = result.native("v") if isinstance(result, math.Tensor) else result
        offset = 0
        for n, size in zip(names, sizes):
            self._assign(n, torch.as_tensor(best[offset:offset + size]).detach())
            offset += size
        if bad["solve"] is not None:  # minimise() restores the parameters from before the call
            raise bad["solve"]
        if bad["value"] is not None:
            check_finite(bad["value"], term=PHYSICAL_LOSS, step=bad["step"], where="L-BFGS-B")
        return int(iterations)

    def _adam_optimizer(self) -> torch.optim.Optimizer:
        """Adam on the unconstrained parameters (``trainer.physical_lr``, ``physical_betas``), with
        a OneCycle schedule over the run's planned steps when ``trainer.physical_scheduler=onecycle``
        (``physical_lr`` is then its peak)."""
        if self._adam is None:
            tr = self.cfg.trainer
            betas = tuple(float(b) for b in tr.get("physical_betas", (0.9, 0.999)))
            self._adam = torch.optim.Adam(list(self.z.values()), lr=float(tr.physical_lr), betas=betas)
            if str(getattr(tr.get("physical_scheduler", "none"), "value", tr.get("physical_scheduler", "none"))) \
                    == "onecycle":
                steps = max(2, int(tr.epochs) * int(tr.physical_iterations_per_epoch))
                self._schedule = torch.optim.lr_scheduler.OneCycleLR(self._adam, max_lr=float(tr.physical_lr),
                                                                     total_steps=steps)
        return self._adam

    @property
    def physical_lr_now(self) -> float:
        """The physical optimiser's learning rate in effect (Adam's, after its schedule)."""
        if self._adam is None:
            return float(self.cfg.trainer.physical_lr)
        return float(self._adam.param_groups[0]["lr"])

    def optimizer_state(self) -> Dict[str, Any]:
        """Adam's moments (and its schedule's position) as plain lists (JSON, weights_only), so a
        resumed fit continues exactly; ``{}`` while Adam has not run (L-BFGS-B keeps nothing
        between fits)."""
        if self._adam is None:
            return {}
        state = {str(i): {k: v.tolist() if torch.is_tensor(v) else v for k, v in s.items()}
                 for i, s in self._adam.state_dict()["state"].items()}
        if self._schedule is not None:
            state["schedule"] = {k: v for k, v in self._schedule.state_dict().items()
                                 if isinstance(v, (int, float, str, bool, list)) or v is None}
            # OneCycle moves the learning rate and (cycling momentum) Adam's beta1 every step
            state["lr"] = [float(g["lr"]) for g in self._adam.param_groups]
            state["betas"] = [[float(b) for b in g["betas"]] for g in self._adam.param_groups]
        return state

    def load_optimizer_state(self, state: Dict[str, Any]) -> None:
        """Inverse of :meth:`optimizer_state`."""
        if not state:
            return
        adam = self._adam_optimizer()
        moments = {k: v for k, v in state.items() if k not in ("schedule", "lr", "betas")}
        adam.load_state_dict({
            "state": {int(i): {k: torch.tensor(v, dtype=torch.float32) for k, v in s.items()}
                      for i, s in moments.items()},
            "param_groups": adam.state_dict()["param_groups"],
        })
        if self._schedule is not None and "schedule" in state:
            self._schedule.load_state_dict({**self._schedule.state_dict(), **state["schedule"]})
            for group, lr in zip(adam.param_groups, state.get("lr", [])):
                group["lr"] = lr
            for group, betas in zip(adam.param_groups, state.get("betas", [])):
                group["betas"] = tuple(betas)

    def _fit_adam(self, loss_fn: Callable[..., torch.Tensor], iterations: int) -> int:
        self._adam_optimizer()
        for _ in range(int(iterations)):
            loss = loss_fn(self.z)
            check_finite(float(loss.detach()), term=PHYSICAL_LOSS, step=self.step - 1, where="Adam")
            self._adam.zero_grad(set_to_none=True)
            loss.backward()
            self._adam.step()
            if self._schedule is not None:
                self._schedule.step()
        return int(iterations)


