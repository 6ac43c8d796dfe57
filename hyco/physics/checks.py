"""Parameter checks shared by the models with explicit diffusion (sign, bounds, stability)."""

from __future__ import annotations

import math as pymath
from typing import Any, Optional, Sequence

import numpy as np

from hyco.errors import PhysicsParameterError
from hyco.physics.operators import stable_substeps
from hyco.physics.params import ParamSpec, host_values

MAX_SUBSTEPS = 1000  # beyond this the explicit scheme is the wrong tool (lower the upper bound or dt)


def diffusivity_bound(spec: ParamSpec) -> float:
    """The largest diffusivity the explicit scheme must be stable for: the spec's upper bound, or
    without a finite one the truth (with its profile) and the initial guess."""
    if pymath.isfinite(spec.upper):
        return spec.upper
    args = spec.profile_args or {}
    extra = sum(abs(float(a)) for a in args.get("amplitudes", [])) * abs(spec.profile_amplitude or 1.0)
    truth = (abs(spec.true_value) * (1 + abs(spec.profile_amplitude)) if spec.profile_scale == "relative"
             else abs(spec.true_value) + abs(spec.profile_amplitude) + extra)
    return max(truth, abs(spec.initial_guess))


def diffusion_substeps(specs: Sequence[ParamSpec], dt: float, dx: Sequence[float], minimum: int = 1) -> int:
    """Explicit sub-steps per ``dt`` stable for every diffusivity up to its bound; raises
    :class:`PhysicsParameterError` naming the parameter when more than :data:`MAX_SUBSTEPS`."""
    n = max(int(minimum), 1)
    for spec in specs:
        bound = diffusivity_bound(spec)
        need = stable_substeps(bound, dt, dx, minimum=minimum)
        if need > MAX_SUBSTEPS:
            raise PhysicsParameterError(
                f"physics parameter '{spec.name}': the explicit diffusion would need {need} sub-steps for "
                f"{spec.name} up to {bound:g} at dt={dt:g}, dx={min(dx):g}; lower physics.params.{spec.name}.upper "
                f"or physics.dt"
            )
        n = max(n, need)
    return n


def check_nonnegative(name: str, value: Any, what: str = "diffusivity") -> Optional[np.ndarray]:
    """Raise :class:`PhysicsParameterError` naming ``name`` for a negative diffusivity (checked
    before the bounds, so the message says why). Returns the host values (None while traced)."""
    values = host_values(value)
    if values is not None and values.size and float(values.min()) < 0:
        raise PhysicsParameterError(
            f"physics parameter '{name}' ({what}) must be >= 0, got {float(values.min()):g}: a negative "
            f"{what} is anti-diffusion and blows up; set physics.params.{name}.true_value/initial_guess >= 0"
        )
    return values


def check_stable(name: str, values: Optional[np.ndarray], dt: float, dx: Sequence[float], substeps: int) -> None:
    """Raise :class:`PhysicsParameterError` naming ``name`` if explicit diffusion with these
    values is unstable with ``substeps`` sub-steps of ``dt / substeps``
    (``max(values) dt_sub sum 1/dx^2 > 1/2``)."""
    if values is None or not values.size:
        return
    rate = float(values.max()) * dt / substeps * sum(1 / h ** 2 for h in dx)
    if rate > 0.5:
        need = stable_substeps(float(values.max()), dt, dx)
        raise PhysicsParameterError(
            f"physics parameter '{name}': {name}={float(values.max()):g} makes the explicit diffusion unstable "
            f"({name} dt_sub sum(1/dx^2) = {rate:.3g} > 0.5 with {substeps} sub-steps); lower {name}, "
            f"set physics.substeps >= {need}, a finite physics.params.{name}.upper, or a smaller physics.dt"
        )
