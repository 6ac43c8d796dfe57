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

Pressure solve: what was measured (``experiments/smoke_pressure.py --resolution 64 --steps 10``:
64^2 x 4 buoyant blobs, true ``b``, CPU, one thread; PhiFlow's ``fluid.make_incompressible``
unless stated; "div" is the worst ``max|div u| dx / max|u|`` after the projection)
---------------------------------------------------------------------------------------------
* ``CG``, abs/rel tolerance 1e-3, 200 or 1000 iterations, eager: no exception in 10 steps here,
  but div 1.9e-4, a hundred times the round-off level: an absolute tolerance stops on the
  wrong scale (the seed's runs saw ``NotConverged``/``Diverged`` with it).
* ``CG``, relative 1e-5, ``rank_deficiency=1``, 1000 iterations, float32, eager:
  ``NotConverged`` at step 1 (float32 round-off floors the residual above 1e-5 of a 64^2
  Poisson problem); a warm start from the previous pressure does not change that.
* The same in float64, eager: converges every step, div 2.2e-6, but an eager step with an
  iteration count that follows the state (1.5 s per step in that loaded run).
* The same under ``jit_compile`` (float32): never raises, and leaves div 2.9e-5: it silently
  returns an unconverged pressure.
* ``Solve('auto')`` under ``jit_compile``: ``RuntimeError: unordered_map::at`` at step 1.
* The direct spectral solve (this module, jit): div 3.3e-6 (round-off), never fails; 30-40 ms
  per step for the whole smoke step at 64^2 x 4 when the machine was quiet (the ms column of
  the table above was taken at a load average of ~10 on 2 cores and is not comparable).
Preconditioners: PhiFlow's ILU is not supported with torch (PHIFLOW_NOTES); not pursued once
the direct solve existed. Hence the direct solve, always; ``experiments/smoke_robustness.py``
checks it over 100 random ICs x 49 steps (0 failures, worst relative residual 1.5e-6 with the
truth and 1.7e-6 with the initial guess of ``b``).

Failure handling: the jitted step also returns the relative residual of the projection per
batch entry (``max|div u'| / (max|div u*| + max|u*|/dx)``); :meth:`Smoke.step` checks it on the
host and raises :class:`~hyco.physics.params.PhysicsSolveError` naming the step, the batch entry
and the residual when it exceeds :attr:`Smoke.RESIDUAL_TOLERANCE` or is not finite (a NaN
parameter or state). Measured: residual <= ~1e-6 in float32 (round-off), ~1e-15 in float64.
The physical fit turns that error into a non-finite loss inside ``math.minimize`` and raises
it once the optimiser has returned (``hyco.training.field``), so a HYCO run fails cleanly
instead of hanging.

Conservation: MacCormack (and semi-Lagrangian) advection is not conservative; total smoke
drifts at the level of the interpolation error. Measured (true ``b``, 4 blob ICs, dt = 0.04,
relative drift of ``sum s``, worst IC): after 10 steps, while the blobs are away from the walls,
1.6e-2, 5.5e-3, 9.5e-4, 7.4e-5 at 16^2, 32^2, 64^2, 128^2 (high order in ``dx``); after 50
steps, once the smoke has met the lid, 6 %, 8 %, 3 %, 4 % (mostly a loss: the limiter and the
interpolation against the wall; at a fixed ``dt`` the CFL number grows with the resolution, so
this part does not converge). ``tests/physics/test_smoke.py`` checks the 10-step numbers.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple, Union

import numpy as np
import torch
from phi.physics import advect
from phiml import math
from phiml.math import Tensor, dual

from hyco.errors import ConfigError, PhysicsSolveError
from hyco.fields import FieldSpec
from hyco.physics.base import PhysicalModel, State, TinyCase
from hyco.physics.params import host_values
from hyco.physics.pressure import (
    SpectralPoissonSolver,
    divergence,
    face_components,
    project,
)
from hyco.physics.registry import register_physics

_RESIDUAL = "_pressure_residual"  # an extra output of the jitted step, checked and removed by step()


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
    TINY_CASES = {
        "smoke": TinyCase(
            physics={"name": "smoke", "dim": 2, "resolution": [8, 8], "dt": 0.04, "grid": "staggered",
                     "params": {"b": {"kind": "field", "true_value": 1.0, "true_profile": "sine_x",
                                      "profile_scale": "relative", "profile_amplitude": 0.4,
                                      "initial_guess": 0.5, "lower": 0.0, "upper": 3.0}}},
            ic={"name": "blobs", "num_spots": 2, "spot_size": 0.2, "amplitude": 1.0},
            invalid=(("b", -0.5), ("b", 5.0)), preset="smoke_quick"),
        "smoke_scalar": TinyCase(
            physics={"name": "smoke", "dim": 2, "resolution": [8, 8], "dt": 0.04, "grid": "staggered",
                     "params": {"b": {"kind": "scalar", "true_value": 1.0, "initial_guess": 0.5,
                                      "lower": 0.0, "upper": 3.0}}},
            ic={"name": "blobs", "num_spots": 2, "spot_size": 0.2, "amplitude": 1.0}, invalid=(("b", -0.5),)),
    }
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
        values = host_values(residual)
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

    def rollout(self, state: State, params: Dict[str, Tensor], n: int, every: int = 1) -> List[State]:
        """As :meth:`PhysicalModel.rollout`; a failed solve names the rollout step."""
        self.validate_params(params)
        states, current = [state], state
        for k in range(int(n) * int(every)):
            try:
                current = self.step(current, params)
            except PhysicsSolveError as err:
                raise PhysicsSolveError(f"{err} — rollout step {k + 1} of {int(n) * int(every)}") from None
            if (k + 1) % int(every) == 0:
                states.append(current)
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
