"""Differentiable P1 finite-element solve of ``-div(kappa grad u) + eta u = f``, ``u = 0`` on the boundary.

(Measured reasons for the choice: filled in from experiments/bench_elliptic.py.)
"""

from __future__ import annotations

from typing import Optional

import torch

from hyco.physics.elliptic.assembly import InteriorSystem, assemble
from hyco.physics.elliptic.interpolation import interpolate_bilinear
from hyco.physics.elliptic.mesh import Coefficient, StructuredTriangulation
from hyco.physics.elliptic.solvers import DENSE_MAX_INTERIOR, METHODS, solve_interior, with_boundary


def solve_elliptic(mesh: StructuredTriangulation, kappa: Coefficient, eta: Optional[Coefficient], f: Coefficient,
                   method: str = "auto", dtype: torch.dtype = torch.float64,
                   device: Optional[torch.device] = None) -> torch.Tensor:
    """Nodal P1 solution ``(*batch, N+1, N+1)`` (zero on the boundary) of ``-div(kappa grad u) + eta u = f``.

    ``kappa`` and ``eta`` are evaluated at element centroids (numbers, callables of ``(x, y)`` or
    tensors ``(*batch, 2, N, N)``), ``f`` at the nodes (vertex quadrature); see :func:`assemble`.
    Differentiable in every tensor that enters ``kappa``, ``eta`` and ``f``.
    """
    return with_boundary(solve_interior(assemble(mesh, kappa, eta, f, dtype, device), method))


__all__ = [
    "DENSE_MAX_INTERIOR",
    "METHODS",
    "Coefficient",
    "InteriorSystem",
    "StructuredTriangulation",
    "assemble",
    "interpolate_bilinear",
    "solve_elliptic",
    "solve_interior",
    "with_boundary",
]
