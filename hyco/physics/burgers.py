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

import math as pymath
from typing import Any, Dict, Mapping, Sequence, Union

import numpy as np
from phi.physics import advect
from phiml import math
from phiml.math import Tensor, dual

from hyco.fields import FieldSpec
from hyco.physics.base import PhysicalModel, PhysicsParameterError, State, _host_values, register_physics

MAX_SUBSTEPS = 1000  # beyond this the explicit scheme is the wrong tool (lower nu.upper or dt)
CFL_1D = 1.0  # Godunov's stability limit for max|u| dt / dx


def stable_substeps(upper: float, dt: float, dx: Sequence[float], minimum: int = 1, safety: float = 0.9) -> int:
    """Sub-steps ``n`` so that explicit diffusion with diffusivity ``upper`` is stable:
    ``upper * (dt / n) * sum_d 1 / dx_d^2 <= safety * 0.5`` (i.e. ``nu dt / dx^2 <= safety * 0.5 / dim``
    on a uniform grid), and at least ``minimum``."""
    rate = upper * dt * sum(1.0 / h ** 2 for h in dx)
    return max(int(minimum), int(pymath.ceil(rate / (0.5 * safety) - 1e-12)), 1)


def _roll(x: Tensor, shift: int, dim: str) -> Tensor:
    """Periodic shift like ``numpy.roll``: ``out[i] = x[i - shift]`` along ``dim``."""
    n = x.shape.get_size(dim)
    s = shift % n
    return math.concat([x[{dim: slice(n - s, None)}], x[{dim: slice(0, n - s)}]], dim) if s else x


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        spec = self.param_specs["nu"]
        if pymath.isfinite(spec.upper):
            nu_max = spec.upper
        else:  # no finite bound: make the truth and the initial guess stable
            nu_max = max(abs(spec.true_value) * (1 + abs(spec.profile_amplitude)), abs(spec.initial_guess))
        self.diffusion_substeps = stable_substeps(nu_max, self.dt, self.dx, minimum=self.substeps)
        if self.diffusion_substeps > MAX_SUBSTEPS:
            raise PhysicsParameterError(
                f"physics parameter 'nu': the explicit diffusion would need {self.diffusion_substeps} sub-steps "
                f"for nu up to {nu_max:g} at dt={self.dt:g}, dx={min(self.dx):g}; lower physics.params.nu.upper "
                f"or physics.dt"
            )
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
        values = _host_values(params["nu"]) if "nu" in params else None
        if values is not None and values.size and float(values.min()) < 0:
            raise PhysicsParameterError(
                f"physics parameter 'nu' (viscosity) must be >= 0, got {float(values.min()):g}: negative "
                f"viscosity is anti-diffusion and blows up; set physics.params.nu.true_value/initial_guess >= 0"
            )
        super().validate_params(params)
        if values is None:
            return
        rate = float(values.max()) * self.dt / self.diffusion_substeps * sum(1 / h ** 2 for h in self.dx)
        if rate > 0.5:
            need = stable_substeps(float(values.max()), self.dt, self.dx)
            raise PhysicsParameterError(
                f"physics parameter 'nu': nu={float(values.max()):g} makes the explicit diffusion unstable "
                f"(nu dt_sub sum(1/dx^2) = {rate:.3g} > 0.5 with {self.diffusion_substeps} sub-steps); lower nu, "
                f"set physics.substeps >= {need}, a finite physics.params.nu.upper, or a smaller physics.dt"
            )

    def check_state(self, state: State) -> None:
        """1D only: raise if ``max|u| dt/dx`` exceeds the Godunov CFL limit (the scheme is
        monotone, so a valid initial state keeps it valid for the whole rollout)."""
        if self.dim != 1:
            return
        values = _host_values(state["velocity"].values)
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
        comps = {c: 0.5 * (nu + _roll(nu, 1, c)) for c in self.spatial_names}
        return math.stack(comps, dual("vector"))

    def diffusion(self, u: Any, nu: Tensor) -> Any:
        """Explicit conservative diffusion ``div(nu grad u)`` over one ``dt`` (all sub-steps)."""
        nu_s = self._nu_at_samples(nu)
        dt_sub = self.dt / self.diffusion_substeps
        terms = []
        for d, h in zip(self.spatial_names, self.dx):
            plus = 0.5 * (nu_s + _roll(nu_s, -1, d)) if nu_s.shape.spatial.rank else nu_s  # nu_{i+1/2}
            minus = _roll(plus, 1, d) if nu_s.shape.spatial.rank else plus  # nu_{i-1/2}
            terms.append((d, plus * (dt_sub / h ** 2), minus * (dt_sub / h ** 2)))
        v = u.values
        # Converter states and PhiFlow outputs are component-last *views* of component-first
        # memory; every stencil op on such a view against a freshly laid-out roll costs several
        # times more. One contiguous copy up front (bit-identical) measured 25.4 -> 11.1 ms per
        # step at 128^2 x 8 (experiments/bench_physics.py).
        v = math.tensor(v.native(v.shape.names).contiguous(), v.shape)
        for _ in range(self.diffusion_substeps):
            v = v + sum(cp * (_roll(v, -1, d) - v) - cm * (v - _roll(v, 1, d)) for d, cp, cm in terms)
        return u.with_values(v)

    def advection(self, u: Any) -> Any:
        """Self-advection ``-(u . grad) u`` over one ``dt`` (2D semi-Lagrangian, 1D Godunov)."""
        if self.dim > 1:
            return advect.semi_lagrangian(u, u, self.dt)
        v = u.values
        flux = 0.5 * math.maximum(math.maximum(v, 0) ** 2, math.minimum(_roll(v, -1, "x"), 0) ** 2)  # F_{i+1/2}
        return u.with_values(v - (self.dt / self.dx[0]) * (flux - _roll(flux, 1, "x")))

    def _step(self, state: State, params: Dict[str, Tensor]) -> State:
        u = self.advection(self.diffusion(state["velocity"], params["nu"]))
        return {"velocity": self.converter.standardize(u)}
