"""Explicit time integrators of a continuous right-hand side ``dX/dt = F(X)``, shared by the models
whose step integrates their derivative and by APHYNITY's continuous form (which integrates
``F_p + F_a`` with the same function, so that ``F_a = 0`` reproduces the physics bit for bit).

A state is a mapping ``{name: values}`` of anything with ``+`` and multiplication by a float
(phiml Tensors inside a jitted model step, torch tensors in the arm). The arithmetic is written
once, in one order: the same inputs give the same bits whichever caller runs it.
"""

from __future__ import annotations

import math as pymath
from typing import Any, Callable, Dict, Mapping

Values = Mapping[str, Any]
Rates = Callable[[Dict[str, Any]], Dict[str, Any]]

#: the real-axis stability limit of classical RK4, ``|lambda| dt <= 2.785`` (kept with a margin:
#: a model picks sub-steps so that its fastest decay rate times the sub-step stays below this)
RK4_REAL_LIMIT = 2.5
#: the imaginary-axis limit, ``|omega| dt <= 2 sqrt 2`` (oscillations: the wave), with a margin
RK4_IMAGINARY_LIMIT = 2.5


def _axpy(x: Values, h: float, k: Values) -> Dict[str, Any]:
    return {n: x[n] + h * k[n] for n in x}


def rk4_step(rates: Rates, x: Values, dt: float) -> Dict[str, Any]:
    """One classical Runge–Kutta step of size ``dt``:
    ``x + dt/6 (k1 + 2 k2 + 2 k3 + k4)`` with ``k1 = F(x)``, ``k2 = F(x + dt/2 k1)``,
    ``k3 = F(x + dt/2 k2)``, ``k4 = F(x + dt k3)`` (fourth order; a test measures it)."""
    half = 0.5 * dt
    k1 = rates(dict(x))
    k2 = rates(_axpy(x, half, k1))
    k3 = rates(_axpy(x, half, k2))
    k4 = rates(_axpy(x, dt, k3))
    sixth = dt / 6.0
    return {n: x[n] + sixth * (k1[n] + 2.0 * k2[n] + 2.0 * k3[n] + k4[n]) for n in x}


def rk4(rates: Rates, x: Values, dt: float, steps: int) -> Dict[str, Any]:
    """``steps`` RK4 steps of ``dt / steps`` each (one frame of ``dt``)."""
    h = dt / int(steps)
    out = dict(x)
    for _ in range(int(steps)):
        out = rk4_step(rates, out, h)
    return out


def rk4_substeps(rate: float, dt: float, minimum: int = 1, limit: float = RK4_REAL_LIMIT) -> int:
    """Sub-steps per ``dt`` that keep ``rate * dt / n`` inside RK4's stability region (``rate``:
    the largest ``|eigenvalue|`` of the right-hand side the model can meet)."""
    return max(int(minimum), 1, int(pymath.ceil(abs(rate) * dt / limit)))
