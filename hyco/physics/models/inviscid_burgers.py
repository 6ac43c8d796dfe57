"""Inviscid Burgers' equation forced by a potential, on a periodic box, 1D or 2D.

    u_t + (u . grad) u = -grad phi

``phi`` is a learnable FIELD at cell centres (a scalar ``phi`` is a constant: no force).

Identifiability of ``phi``: only ``grad phi`` enters the dynamics, so ``phi`` is determined up
to an additive constant. The true profile (``sine``, additive on ``true_value = 0``) has zero
mean on the periodic grid, and the initial guess is a constant. On a periodic grid the
centered-difference gradient annihilates constants exactly and its adjoint (a discrete
divergence) returns mean-free fields, so every gradient of a loss w.r.t. ``phi`` has zero mean:
a gradient-based fit started from a constant never changes the mean of ``phi`` (up to
round-off; a bound becoming active in L-BFGS-B could). Hence the raw relative L2 error of a fit
started from 0 equals the error after removing the mean, and it is what the platform reports;
an evaluation that starts elsewhere should compare ``phi - mean(phi)`` (see
:meth:`InviscidBurgers.gauge_fixed`).

Scheme (one step of ``dt`` = ``n`` sub-steps of ``dt / n``, each: advect, then force)
-------------------------------------------------------------------------------------
* Advection: 2D PhiFlow ``advect.semi_lagrangian`` (unconditionally stable); 1D the
  conservative Godunov scheme for the flux ``u^2 / 2`` (:func:`~hyco.physics.operators.
  godunov_burgers_1d`; semi-Lagrangian fails in 1D with torch), which captures the shocks the
  inviscid equation forms and needs ``max|u| (dt/n)/dx <= 1``.
* Force: ``u <- u - (dt/n) grad phi`` with centered differences
  (:func:`~hyco.physics.operators.centered_gradient`). Advecting first makes the step from
  ``u = 0`` exactly ``-dt grad phi`` (``n = 1``), and a constant ``phi`` exactly unforced.
* ``n = max(physics.substeps, n_cfl)``; in 1D ``n_cfl`` keeps ``2 A dt/(n dx) <= 1`` for the IC
  amplitude ``A`` (headroom for growth under the force); the initial state is checked against
  ``max|u| dt/(n dx) <= 1`` by :meth:`check_state`. Growth beyond ``2 A`` during a rollout is not
  checked (the step is compiled).
"""

from __future__ import annotations

import math as pymath
from typing import Any, Dict

import numpy as np
from phiml.math import Tensor

from hyco.errors import PhysicsParameterError
from hyco.fields import FieldSpec
from hyco.physics import operators as ops
from hyco.physics.base import PhysicalModel, State, TinyCase
from hyco.physics.params import host_values
from hyco.physics.registry import register_physics

CFL_1D = 1.0
GROWTH_HEADROOM = 2.0


@register_physics("inviscid_burgers")
class InviscidBurgers(PhysicalModel):
    """Inviscid Burgers forced by ``-grad phi``. Attribute: ``advection_substeps``."""

    FIELDS = (FieldSpec("velocity", "vector", boundary=("periodic",)),)
    PARAMS = ("phi",)
    IC_PRIOR = "fourier"
    TINY_CASES = {
        "inviscid_burgers_1d": TinyCase(
            physics={"name": "inviscid_burgers", "dim": 1, "resolution": [16], "domain_size": 2 * pymath.pi,
                     "dt": 0.1, "params": {"phi": {"kind": "field", "true_value": 0.0, "true_profile": "sine",
                                                   "profile_scale": "additive", "profile_amplitude": 0.3,
                                                   "initial_guess": 0.0, "lower": -2.0, "upper": 2.0}}},
            ic={"name": "fourier", "max_wavenumber": 3}, invalid=(("phi", 5.0),), preset="inviscid_burgers_1d_quick"),
        "inviscid_burgers_2d": TinyCase(
            physics={"name": "inviscid_burgers", "dim": 2, "resolution": [8, 8], "domain_size": 2 * pymath.pi,
                     "dt": 0.1, "params": {"phi": {"kind": "field", "true_value": 0.0, "true_profile": "sine",
                                                   "profile_scale": "additive", "profile_amplitude": 0.3,
                                                   "initial_guess": 0.0, "lower": -2.0, "upper": 2.0}}},
            ic={"name": "fourier", "max_wavenumber": 2}, invalid=(("phi", -3.0),)),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        n = max(self.substeps, 1)
        if self.dim == 1:
            n = max(n, int(pymath.ceil(GROWTH_HEADROOM * self.ic_amplitude * self.dt / self.dx[0] / CFL_1D - 1e-12)))
        self.advection_substeps = n

    def check_state(self, state: State) -> None:
        """1D only: raise if ``max|u| (dt/n)/dx`` exceeds the Godunov CFL limit."""
        if self.dim != 1:
            return
        values = host_values(state["velocity"].values)
        if values is None:
            return
        cfl = float(np.abs(values).max()) * self.dt / self.advection_substeps / self.dx[0]
        if cfl > CFL_1D:
            raise PhysicsParameterError(
                f"physics.dt: 1D advection needs max|u| dt_sub/dx <= {CFL_1D}, got {cfl:.3g} with "
                f"{self.advection_substeps} sub-steps; raise physics.substeps, reduce physics.dt or the velocity "
                f"amplitude (data.ic.amplitude)"
            )

    def force(self, phi: Tensor) -> Tensor:
        """``-grad phi`` at the cell centres (channel ``vector``)."""
        return -ops.centered_gradient(phi, self.dx, self.converter._template("velocity").extrapolation,
                                      self.spatial_names)

    def gauge_fixed(self, phi: Any) -> np.ndarray:
        """``phi - mean(phi)`` as numpy: the identifiable part of ``phi``."""
        arr = np.asarray(host_values(phi), dtype=np.float64)
        return arr - arr.mean()

    def residual(self, values: Dict[str, Any], d: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        """``R_c = ∂_t u_c + (u·∇) u_c + ∂_c φ`` (``φ`` interpolated at the points, so its gradient
        is the autograd derivative of the interpolant)."""
        import torch

        u = values["velocity"]
        grad_phi = d.spatial_grad_of(params["phi"])
        comps = [d.t("velocity", c) + d.advection("velocity", u, c) + grad_phi[:, c] for c in range(self.dim)]
        return {"velocity": torch.stack(comps, dim=1)}

    def _step(self, state: State, params: Dict[str, Tensor]) -> State:
        u = state["velocity"]
        n = self.advection_substeps
        tau = self.dt / n
        force = self.force(params["phi"]) * tau
        for _ in range(n):
            u = ops.semi_lagrangian(u, u, tau) if self.dim > 1 else ops.godunov_burgers_1d(u, tau, self.dx[0])
            u = u.with_values(u.values + force)
        return {"velocity": self.converter.standardize(u)}
