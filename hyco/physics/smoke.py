"""Buoyant smoke: incompressible flow in a closed box, driven by a learnable buoyancy field.

    s_t + u . grad s = 0
    u_t + (u . grad) u = -grad p + b(x) s y_hat,     div u = 0

State: ``velocity`` on a staggered grid (components on the faces normal to them) and ``smoke``,
a scalar at the cell centres. ``b`` is the learnable buoyancy, a field at the cell centres
(truth ``1 + 0.4 sin(2 pi x / L)``, profile ``sine_x``) or a scalar (``conf/physics/smoke_scalar.yaml``).

Walls: a closed box, zero normal velocity on all four walls
-----------------------------------------------------------
(velocity boundary ``dirichlet``; smoke ``neumann``, i.e. zero-gradient, which is what the
interpolation of the advection sees beyond a wall.) Why: it is the seed's setting (the original
HYCO-PhiFlow model), smoke can neither leave nor enter, so its total is a conserved quantity
the tests can check, and rising smoke meets a lid and spreads, which is the flow the buoyancy
field has to be identified from. The price is the pressure equation's rank deficiency (pressure
is defined up to a constant): the solve below handles it exactly. A periodic-in-x box would
have suited the ``sin(2 pi x / L)`` truth but not the seed's zero-velocity walls; it is not offered.

Step (one ``dt``, PhiFlow operators where they are right)
---------------------------------------------------------
1. Smoke: ``advect.mac_cormack`` (second order, PhiFlow's limiter clamps to the range of the
   neighbours). Smoke is centered, so PhiFlow 3.4's half-cell offset of ``mac_cormack`` on
   *staggered* grids does not apply.
2. Velocity: ``advect.semi_lagrangian`` of the staggered velocity by itself.
3. Buoyancy: ``b * s`` at the centres, averaged to the interior y-faces (the linear
   interpolation of PhiFlow's resampling, written out), added as ``dt * b s`` to ``u_y``.
4. Projection: ``u <- u - grad p`` with ``L p = div u`` solved *directly*
   (:class:`~hyco.physics.pressure.SpectralPoissonSolver`: separable eigenbasis of the Neumann
   Laplacian, zero mode dropped); differentiable, its backward is the same solve.

Pressure solve: what was measured (``experiments/smoke_pressure.py``, 64^2 x 4, buoyant blobs,
20 steps, CPU, one thread; PhiFlow's ``fluid.make_incompressible`` unless stated)
-----------------------------------------------------------------------------------------------
SOLVE_MEASUREMENTS

Failure handling: the jitted step also returns the relative residual of the projection per
batch entry (``max|div u'| / (max|div u*| + max|u*|/dx)``); :meth:`Smoke.step` checks it on the
host and raises :class:`~hyco.physics.params.PhysicsSolveError` naming the step, the batch entry
and the residual when it exceeds :attr:`Smoke.RESIDUAL_TOLERANCE` or is not finite (a NaN
parameter or state). Measured: residual <= ~1e-6 in float32 (round-off), ~1e-15 in float64.
The physical fit turns that error into a non-finite loss inside ``math.minimize`` and raises
it once the optimiser has returned (``hyco.training.field``), so a HYCO run fails cleanly
instead of hanging.

Conservation: semi-Lagrangian/MacCormack advection is not conservative; total smoke drifts at
the level of the interpolation error. Measured: see :data:`SMOKE_CONSERVATION`.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence, Tuple, Union

import numpy as np
import torch
from phi.physics import advect
from phiml import math
from phiml.math import Tensor, dual

from hyco.config import ConfigError
from hyco.fields import FieldSpec
from hyco.physics.base import PhysicalModel, State
from hyco.physics.params import PhysicsSolveError, _host_values
from hyco.physics.pressure import SpectralPoissonSolver, divergence, face_components, project
from hyco.physics.registry import register_physics

_RESIDUAL = "_pressure_residual"  # an extra output of the jitted step, checked and removed by step()

#: relative drift of the total smoke, measured (see the tests): ``|sum s_T - sum s_0| / sum s_0``
SMOKE_CONSERVATION = "SMOKE_CONSERVATION_TEXT"


@register_physics("smoke")
class Smoke(PhysicalModel):
    """Buoyant incompressible smoke with buoyancy ``b`` (a field at the cell centres or a scalar).

    Attributes beyond :class:`~hyco.physics.base.PhysicalModel`: ``solver`` (the direct
    pressure solve), ``steps_taken`` (calls of :meth:`step`, named in solve errors) and
    ``worst_residual`` (the largest finite relative residual checked so far).
    """

    FIELDS = (FieldSpec("velocity", "vector", grid="staggered", boundary=("dirichlet",)),
              FieldSpec("smoke", "scalar", boundary=("neumann",)))
    BOUNDARIES = ("dirichlet",)
    GRIDS = ("staggered",)
    PARAMS = ("b",)
    IC_PRIOR = "blobs"
    #: largest accepted relative divergence after the projection (round-off is ~1e-6 in float32)
    RESIDUAL_TOLERANCE = 1e-4

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.dim != 2:
            raise ConfigError(f"physics.resolution: the smoke model is 2D, got {list(self.resolution)}")
        self.solver = SpectralPoissonSolver(self.resolution, self.dx)
        self.steps_taken = 0
        self.worst_residual = 0.0  # largest finite relative residual seen by check_residual

    def _resolve_fields(self, boundary: Union[str, Sequence[str]]) -> Tuple[FieldSpec, ...]:
        # physics.boundary names the velocity's walls; the smoke keeps its zero-gradient walls
        specs = super()._resolve_fields(boundary)
        return tuple(s.with_boundary(("neumann",) * self.dim) if s.name == "smoke" else s for s in specs)

    # ---------------------------------------------------------------- dynamics
    def buoyancy(self, smoke: Tensor, b: Tensor) -> Tensor:
        """``b s`` averaged from the centres to the interior y-faces: ``[N, N-1]``."""
        force = smoke * b
        return 0.5 * (force.y[1:] + force.y[:-1])

    def _step(self, state: State, params: Dict[str, Tensor]) -> Dict[str, Any]:
        velocity, smoke = state["velocity"], state["smoke"]
        smoke = advect.mac_cormack(smoke, velocity, self.dt)
        velocity = advect.semi_lagrangian(velocity, velocity, self.dt)
        ux, uy = face_components(velocity.values)
        uy = uy + self.dt * self.buoyancy(smoke.values, params["b"])
        ux, uy, residual = project(ux, uy, self.dx, self.solver)
        velocity = velocity.with_values(math.stack({"x": ux, "y": uy}, dual(vector="x,y")))
        return {"velocity": velocity, "smoke": self.converter.standardize(smoke), _RESIDUAL: residual}

    def step(self, state: State, params: Dict[str, Tensor]) -> State:
        """One jit-compiled step; raises :class:`PhysicsSolveError` if the projection's residual
        is not finite or above :attr:`RESIDUAL_TOLERANCE` (never returns such a state)."""
        # TorchScript's optimising executor differentiates the traced grid_sample/advection graph
        # wrongly (measured: a 2-3 % wrong gradient of b after 2 steps at 8^2, float64, against
        # central differences and against the eager step); the plain executor runs the same
        # trace with autograd's own derivatives and matches to 1e-10.
        with torch.jit.optimized_execution(False):
            out = dict(self._step_jit(state, params))
        residual = out.pop(_RESIDUAL)
        self.steps_taken += 1
        self.check_residual(residual)
        return out

    def check_residual(self, residual: Tensor, where: str = "") -> None:
        """Raise :class:`PhysicsSolveError` naming the step, batch entry and residual if any
        batch entry's relative residual is not finite or above the tolerance."""
        values = _host_values(residual)
        if values is None:
            return
        values = np.atleast_1d(values)
        finite = values[np.isfinite(values)]
        if finite.size:
            self.worst_residual = max(self.worst_residual, float(finite.max()))
        bad = np.flatnonzero(~np.isfinite(values) | (values > self.RESIDUAL_TOLERANCE))
        if bad.size:
            i = int(bad[0])
            raise PhysicsSolveError(
                f"smoke: pressure solve failed at step {self.steps_taken}{where} (batch entry {i}): relative "
                f"divergence residual {values[i]:.3g} > tolerance {self.RESIDUAL_TOLERANCE:g}"
                + ("; the state or the buoyancy b is not finite" if not np.isfinite(values[i]) else "")
            )

    def rollout(self, state: State, params: Dict[str, Tensor], n: int) -> List[State]:
        """As :meth:`PhysicalModel.rollout`; a failed solve names the rollout step."""
        self.validate_params(params)
        states = [state]
        for k in range(int(n)):
            try:
                states.append(self.step(states[-1], params))
            except PhysicsSolveError as err:
                raise PhysicsSolveError(f"{err} — rollout step {k + 1} of {int(n)}") from None
        return states

    # ---------------------------------------------------------------- diagnostics
    def divergence(self, state: State) -> Tensor:
        """The velocity's divergence at the cell centres (per batch entry)."""
        ux, uy = face_components(state["velocity"].values)
        return divergence(ux, uy, self.dx)

    def total_smoke(self, state: State) -> np.ndarray:
        """``sum s dx dy`` per batch entry (float64)."""
        values = state["smoke"].values
        return np.asarray(math.sum(values, "x,y").numpy(values.shape.non_spatial.names), dtype=np.float64) * float(
            np.prod(self.dx))

    def validate_params(self, params: Mapping[str, Any]) -> None:
        """Bounds and finiteness of ``b`` (:meth:`PhysicalModel.validate_params`)."""
        super().validate_params(params)
