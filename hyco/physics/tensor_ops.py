"""Stencils on plain torch tensors ``[B, C, *spatial]``, for right-hand sides evaluated many times
per step (:class:`~hyco.physics.continuous.ContinuousModel`).

The same discretisation as :mod:`hyco.physics.operators` (same walls, same arithmetic in the same
order, so the values agree), without phiml's per-operation overhead: measured on the
FitzHugh–Nagumo right-hand side at 32² × 4 (CPU, one thread, a loaded 2-core machine), 15 ms per
evaluation through the converter and a ``jit_compile``d phiml function against 0.6 ms here; its
backward 6 ms against 1 ms. APHYNITY's continuous form evaluates the right-hand side four times per
RK4 step, 116 times per 29-frame window, so this decides what the benchmarks cost.
"""

from __future__ import annotations

from typing import Sequence

import torch

WALLS = ("periodic", "neumann", "dirichlet")


def neighbours(x: torch.Tensor, axis: int, boundary: str) -> tuple:
    """``(x[i - 1], x[i + 1])`` along tensor axis ``axis``: a roll when periodic; with walls one
    ghost layer, ``x_0`` (zero gradient) or ``−x_0`` (zero value on the outer face), as
    :func:`hyco.physics.operators.ghost_extrapolation`."""
    if boundary == "periodic":
        return torch.roll(x, 1, axis), torch.roll(x, -1, axis)
    if boundary not in WALLS:
        raise ValueError(f"boundary: {boundary!r}; choose from {WALLS}")
    n = x.shape[axis]
    first, last = x.narrow(axis, 0, 1), x.narrow(axis, n - 1, 1)
    if boundary == "dirichlet":
        first, last = -first, -last
    return torch.cat([first, x.narrow(axis, 0, n - 1)], axis), torch.cat([x.narrow(axis, 1, n - 1), last], axis)


def laplace(x: torch.Tensor, dx: Sequence[float], boundary: Sequence[str]) -> torch.Tensor:
    """Second-order 5-point (3-point in 1D) Laplacian of ``x [B, C, *s]``, one boundary per axis."""
    total = 0
    for d, (h, wall) in enumerate(zip(dx, boundary)):
        lo, hi = neighbours(x, 2 + d, wall)
        total = total + (hi - 2 * x + lo) * (1.0 / h ** 2)
    return total
