"""Viscous Burgers' equation on a periodic box, 1D or 2D.

    u_t + (u . grad) u = div(nu grad u)        (per velocity component)

The viscous term is written in divergence form so that a spatially varying ``nu(x)`` diffuses
conservatively (it moves momentum between cells, never creates it); for constant ``nu`` it is
exactly ``nu * laplace(u)``, and the discrete operator then equals ``nu`` times the standard
second-order Laplacian stencil.

Scheme (operator splitting, one step of ``dt``: diffuse, then advect)
---------------------------------------------------------------------
* **Diffusion**: explicit Euler, second-order conservative stencil
  ``sum_d [nu_{i+1/2} (u_{i+1} - u_i) - nu_{i-1/2} (u_i - u_{i-1})] / dx_d^2`` with the face
  viscosity the mean of its two neighbouring samples. ``nu`` is given at cell centres; on a
  staggered grid component ``c`` lives on faces normal to ``c`` and sees the mean of the two
  cells sharing its face. ``n`` sub-steps of ``dt / n`` with ``n`` chosen once, from the
  parameter's *upper bound*, so that ``nu_upper (dt/n) sum_d 1/dx_d^2 <= 0.9 * 0.5`` (i.e.
  ``nu dt/dx^2 <= 0.45 / dim``), and ``n >= physics.substeps``. ``n`` is fixed per model, so
  a new ``nu`` never retraces the jit-compiled step.
* **Advection, 2D**: PhiFlow's ``advect.semi_lagrangian`` (centered or staggered grid).
  Unconditionally stable; linear interpolation adds numerical diffusion and the scheme is not
  conservative (the mean drifts at the level of the interpolation error).
* **Advection, 1D**: ``advect.semi_lagrangian`` and 1D resampling fail with the torch backend
  (``grid_sampler(): expected 5D input``), so 1D uses the conservative Godunov finite-volume
  scheme for the flux ``u^2 / 2`` (exact Riemann solver,
  ``F(a, b) = max(max(a, 0)^2, min(b, 0)^2) / 2``), written with phiml ops on the values. It
  conserves the mean to round-off, is monotone (no new extrema, kinetic energy never grows)
  and needs ``max|u| dt/dx <= 1`` (checked by :meth:`Burgers.check_state` and for the IC
  amplitude at construction). A staggered 1D grid is the same periodic array shifted by half a
  cell, so it uses the same code.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

import numpy as np
from phiml import math
from phiml.math import Tensor, dual

from hyco.errors import PhysicsParameterError
from hyco.fields import FieldSpec
from hyco.physics import operators as ops
from hyco.physics.base import PhysicalModel, State, TinyCase
from hyco.physics.checks import (
    MAX_SUBSTEPS,
    check_nonnegative,
    check_stable,
    diffusion_substeps,
)
from hyco.physics.operators import stable_substeps
from hyco.physics.params import host_values
from hyco.physics.registry import register_physics

__all__ = ["Burgers", "CFL_1D", "MAX_SUBSTEPS", "stable_substeps"]

CFL_1D = 1.0  # Godunov's stability limit for max|u| dt / dx


@register_physics("burgers")
class Burgers(PhysicalModel):
    """Viscous Burgers with viscosity ``nu`` (a scalar or a field at cell centres).

    See the module docstring for the equation and the scheme. Attributes beyond
    :class:`~hyco.physics.base.PhysicalModel`: ``diffusion_substeps`` (explicit sub-steps per
    step). Parameters are those of :class:`PhysicalModel`; ``param_specs`` must contain ``nu``.
    """

    FIELDS = (FieldSpec("velocity", "vector", boundary=("periodic",)),)
    GRIDS = ("centered", "staggered")
    PARAMS = ("nu",)
    IC_PRIOR = "fourier"
    TINY_CASES = {
        "burgers_1d": TinyCase(
            physics={"name": "burgers", "dim": 1, "resolution": [16], "dt": 0.005,
                     "params": {"nu": {"true_value": 0.02, "initial_guess": 0.05, "upper": 0.1}}},
            ic={"name": "fourier", "max_wavenumber": 3},
            invalid=(("nu", -0.01), ("nu", 0.5)), preset="burgers_1d_quick"),
        "burgers_2d_field": TinyCase(
            physics={"name": "burgers", "dim": 2, "resolution": [8, 8], "dt": 0.01,
                     "params": {"nu": {"kind": "field", "true_value": 0.02, "true_profile": "sine",
                                       "profile_amplitude": 0.5, "initial_guess": 0.05, "upper": 0.1}}},
            ic={"name": "fourier", "max_wavenumber": 2}, invalid=(("nu", -0.01),)),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.diffusion_substeps = diffusion_substeps([self.param_specs["nu"]], self.dt, self.dx, self.substeps)
        if self.dim == 1 and self.ic_amplitude * self.dt / self.dx[0] > CFL_1D:
            raise PhysicsParameterError(
                f"physics.dt: 1D advection needs max|u| dt/dx <= {CFL_1D}; the IC amplitude "
                f"{self.ic_amplitude:g} gives {self.ic_amplitude * self.dt / self.dx[0]:.3g}. Use physics.dt <= "
                f"{CFL_1D * self.dx[0] / self.ic_amplitude:.3g} or a smaller data.ic.amplitude"
            )

    # ---------------------------------------------------------------- checks
    def validate_params(self, params: Mapping[str, Any]) -> None:
        """Raise :class:`PhysicsParameterError` for a negative ``nu``, ``nu`` outside its bounds,
        or a ``nu`` for which the explicit diffusion sub-step is unstable."""
        values = check_nonnegative("nu", params["nu"], "viscosity") if "nu" in params else None
        super().validate_params(params)
        check_stable("nu", values, self.dt, self.dx, self.diffusion_substeps)

    def check_state(self, state: State) -> None:
        """1D only: raise if ``max|u| dt/dx`` exceeds the Godunov CFL limit (the scheme is
        monotone, so a valid initial state keeps it valid for the whole rollout)."""
        if self.dim != 1:
            return
        values = host_values(state["velocity"].values)
        if values is None:
            return
        cfl = float(np.abs(values).max()) * self.dt / self.dx[0]
        if cfl > CFL_1D:
            raise PhysicsParameterError(
                f"physics.dt: 1D advection needs max|u| dt/dx <= {CFL_1D}, got {cfl:.3g}; reduce physics.dt "
                f"or the velocity amplitude (data.ic.amplitude)"
            )

    # ---------------------------------------------------------------- dynamics
    def _nu_at_samples(self, nu: Tensor) -> Tensor:
        """``nu`` where the velocity components live: 0-d as is; a centre field as is for
        centered grids; for staggered grids per component the mean of the two cells at a face."""
        if not nu.shape.spatial.rank or self.grid == "centered":
            return nu
        comps = {c: 0.5 * (nu + ops.roll(nu, 1, c)) for c in self.spatial_names}
        return math.stack(comps, dual("vector"))

    def diffusion(self, u: Any, nu: Tensor) -> Any:
        """Explicit conservative diffusion ``div(nu grad u)`` over one ``dt`` (all sub-steps)."""
        return ops.diffuse_explicit(u, self._nu_at_samples(nu), self.dt, self.diffusion_substeps, self.dx)

    def advection(self, u: Any) -> Any:
        """Self-advection ``-(u . grad) u`` over one ``dt`` (2D semi-Lagrangian, 1D Godunov)."""
        if self.dim > 1:
            return ops.semi_lagrangian(u, u, self.dt)
        return ops.godunov_burgers_1d(u, self.dt, self.dx[0])

    def residual(self, values: Dict[str, Any], d: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        """``R_c = ∂_t u_c + (u·∇) u_c − ∇·(ν ∇u_c)`` per velocity component (the divergence form of
        the discrete viscous term; see :mod:`hyco.physics.residuals`)."""
        import torch

        u = values["velocity"]
        comps = [d.t("velocity", c) + d.advection("velocity", u, c) - d.div_flux("velocity", params["nu"], c)
                 for c in range(self.dim)]
        return {"velocity": torch.stack(comps, dim=1)}

    def _step(self, state: State, params: Dict[str, Tensor]) -> State:
        u = self.advection(self.diffusion(state["velocity"], params["nu"]))
        return {"velocity": self.converter.standardize(u)}
