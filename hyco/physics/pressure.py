"""Pressure projection on a closed box: an exact, direct Poisson solve by separable eigenvectors.

Why not PhiFlow's ``fluid.make_incompressible`` with an iterative solve
----------------------------------------------------------------------
Measured here (``experiments/smoke_pressure.py``; PhiFlow 3.4, torch CPU, one thread, smoke +
buoyancy at 64^2 x 4, closed box, 20 steps per configuration; the numbers are in the module
docstring of :mod:`hyco.physics.models.smoke`): CG with absolute tolerances stops on the wrong scale (a
hundred times the round-off divergence; the seed saw ``NotConverged``/``Diverged`` with it); a
relative tolerance with ``rank_deficiency=1`` does not converge in float32 at 64^2 and does in
float64 (eager only, slow); under ``jit_compile`` an unconverged solve does not raise at all (it
returns its last iterate) and ``Solve('auto')`` fails with ``unordered_map::at``. The iteration
count also varies with the state, so cost and accuracy follow the data.

What is used instead
--------------------
The pressure equation of a staggered velocity in a box with zero normal velocity on every wall
is ``L p = div u*`` with ``L`` the 5-point Laplacian with *Neumann* rows at the walls (the wall
faces carry no pressure gradient: the normal velocity there is prescribed). ``L`` is a Kronecker
sum ``L = L_x (+) L_y`` of 1D second-difference matrices, each symmetric with an orthonormal
eigenbasis (``L_d = Q_d diag(lam_d) Q_d^T``; for Neumann rows ``Q_d`` is the DCT-II basis). So

    p = Q_x [ (Q_x^T div Q_y) / (lam_x[i] + lam_y[j]) ] Q_y^T,

with the one zero eigenvalue (constants: the rank deficiency of a closed box) mapped to 0, i.e.
the minimum-norm (mean-free) pressure. That is a direct solve: four small dense matrix products
per state, no iteration, no tolerance, the same cost for every state, nothing that can fail to
converge. Its residual is round-off (the mean of ``div u*``, which is zero by the discrete
divergence theorem up to float rounding). The eigenvectors are computed once per grid in
float64 (``numpy.linalg.eigh``) and cast to the state's dtype, so float64 runs are exact in
float64.

Gradient: the solve is a fixed linear map ``L^+`` written as matrix products, so autograd's
backward pass applies ``(L^+)^T = L^+``: the backward of the solve is another solve with the
same operator (the implicit-function gradient of a linear solve), never backpropagation
through iterations. It runs inside ``math.jit_compile`` (plain torch ops, so on any torch
device; only the CPU was measured).
Cost per state ``8 N^3`` flops at ``N^2`` cells (17 MFlop at 128^2); beyond ~512^2 a fast
cosine transform would be the better way to apply ``Q``.
"""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from phiml import math
from phiml.math import Tensor


def neumann_second_difference(n: int, h: float) -> np.ndarray:
    """The 1D matrix of ``d^2/dx^2`` on ``n`` cells with zero-flux (Neumann) ends, float64."""
    a = np.zeros((n, n))
    idx = np.arange(n)
    a[idx, idx] = -2.0
    a[idx[:-1], idx[:-1] + 1] = 1.0
    a[idx[1:], idx[1:] - 1] = 1.0
    a[0, 0] = a[-1, -1] = -1.0  # the wall face has no gradient: one neighbour only
    return a / h ** 2


class SpectralPoissonSolver:
    """Exact solve of ``L p = f`` for the Neumann 5-point Laplacian on a ``resolution`` grid.

    Parameters
    ----------
    resolution : sequence of int
        Cells per axis (2D).
    dx : sequence of float
        Cell size per axis.
    """

    #: eigenvalues below this (relative to the largest) are the null space (constants)
    NULL_TOLERANCE = 1e-10

    def __init__(self, resolution: Sequence[int], dx: Sequence[float]) -> None:
        if len(resolution) != 2:
            raise ValueError(f"SpectralPoissonSolver: 2D only, got resolution {list(resolution)}")
        bases, lams = [], []
        for n, h in zip(resolution, dx):
            lam, q = np.linalg.eigh(neumann_second_difference(int(n), float(h)))
            bases.append(q)
            lams.append(lam)
        total = lams[0][:, None] + lams[1][None, :]
        null = np.abs(total) < self.NULL_TOLERANCE * np.abs(total).max()
        inverse = np.where(null, 0.0, 1.0 / np.where(null, 1.0, total))
        self.null_space_dim = int(null.sum())  # 1: constants
        self._host: Tuple[np.ndarray, np.ndarray, np.ndarray] = (bases[0], bases[1], inverse)
        self._cache: Dict[Tuple[torch.dtype, str], Tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def _factors(self, like: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        key = (like.dtype, str(like.device))
        if key not in self._cache:
            self._cache[key] = tuple(torch.as_tensor(a, dtype=like.dtype, device=like.device) for a in self._host)
        return self._cache[key]

    def solve_native(self, rhs: torch.Tensor) -> torch.Tensor:
        """``L^+ rhs`` for ``rhs [..., Nx, Ny]`` (minimum-norm: mean-free result)."""
        qx, qy, inverse = self._factors(rhs)
        spectrum = qx.transpose(0, 1) @ rhs @ qy
        return qx @ (spectrum * inverse) @ qy.transpose(0, 1)

    def solve(self, rhs: Tensor) -> Tensor:
        """``L^+ rhs`` for a phiml Tensor with spatial dims ``x, y`` (any batch dims)."""
        order = [*rhs.shape.non_spatial.names, "x", "y"]
        return math.tensor(self.solve_native(rhs.native(order)), rhs.shape.only(order))


def face_components(values: Tensor) -> Tuple[Tensor, Tensor]:
    """The interior-face components ``(u_x [N-1, N], u_y [N, N-1])`` of a walled staggered grid."""
    ux, uy = math.unstack(values, "~vector")
    return ux, uy


def divergence(ux: Tensor, uy: Tensor, dx: Sequence[float]) -> Tensor:
    """Cell-centre divergence of interior-face components, the wall faces being zero."""
    px = math.pad(ux, {"x": (1, 1)}, 0)
    py = math.pad(uy, {"y": (1, 1)}, 0)
    return ((px.x[1:] - px.x[:-1]) * (1.0 / dx[0])) + ((py.y[1:] - py.y[:-1]) * (1.0 / dx[1]))


def project(ux: Tensor, uy: Tensor, dx: Sequence[float],
            solver: SpectralPoissonSolver) -> Tuple[Tensor, Tensor, Tensor]:
    """Divergence-free interior-face components and the relative residual per batch entry.

    Returns ``(ux', uy', residual)`` with ``residual = max|div u'| / (max|div u| + max|u| / dx)``
    over the cells: relative to the divergence that was removed, plus the divergence scale of the
    velocity itself so that an (almost) divergence-free input does not divide round-off by
    round-off (0 for a zero velocity).
    """
    speed = math.maximum(math.max(abs(ux), "x,y"), math.max(abs(uy), "x,y")) * (1.0 / min(dx))
    div_before = divergence(ux, uy, dx)
    p = solver.solve(div_before)
    ux = ux - (p.x[1:] - p.x[:-1]) * (1.0 / dx[0])
    uy = uy - (p.y[1:] - p.y[:-1]) * (1.0 / dx[1])
    div_after = divergence(ux, uy, dx)
    scale = math.max(abs(div_before), "x,y") + speed
    residual = math.max(abs(div_after), "x,y") / math.maximum(scale, 1e-30)
    return ux, uy, residual
