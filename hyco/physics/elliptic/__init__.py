"""Differentiable P1 finite-element solve of ``-div(kappa grad u) + eta u = f``, ``u = 0`` on the boundary.

The static problems of the papers (Helmholtz and Darcy on ``[-pi, pi]^2``) as the authors discretise
them (HYCO-Code ``StaticHYCO/src/tools/finite_element_method.py``): P1 elements on a structured
triangulation (each square cut along its SW-NE diagonal), ``kappa`` and ``eta`` at element centroids,
consistent mass, ``f`` by vertex quadrature, the interior system solved directly, the nodal solution
read at query points by bilinear interpolation. Pieces: :mod:`.mesh`, :mod:`.assembly` (stencils, no
element loop; equal to the authors' element loop to 1e-12), :mod:`.solvers`, :mod:`.interpolation`,
:mod:`.cases` (the papers' coefficient families and closed-form checks).

Usage::

    mesh = StructuredTriangulation(18)                     # 19^2 nodes, the papers' learner
    u = solve_elliptic(mesh, helmholtz_kappa(theta), helmholtz_eta(theta), helmholtz_forcing(theta_star))
    u_at_points = interpolate_bilinear(mesh, u, points)    # (P,), differentiable in theta

Why this and not PhiFlow's linear solve (measured)
--------------------------------------------------
``python experiments/bench_elliptic.py`` (one CPU thread, the shared 2-vCPU machine at a load
average of 5-7, fastest of up to 100 repeats; timings are the range of two runs) compares this solve
with a node-centred finite-volume discretisation of the same operator solved by phiml's
``math.solve_linear`` (``CG`` or ``scipy-direct``, inside ``math.jit_compile``, implicit gradients with
``grad_for_f``):

* Accuracy: both second order from 19^2 to 73^2 nodes (2.00-2.01). Relative L2 against
  ``sin x sin y`` at 19^2: FEM 2.2e-2 at the nodes and 9.9e-3 on the authors' 50 x 50 evaluation grid,
  finite volumes 6.4e-3 and 1.6e-2. Only the FEM is the authors' discretisation: their Darcy truth is
  this FEM at 101^2, and their published parameter errors are those of this learner.
* Gradients (float64, 19^2, every column of ``du/dtheta`` over all nodes against central
  differences, eps 1e-5): FEM 1.2e-9 (dense) and 9.4e-10 (banded). phiml's implicit gradient equals
  the exact derivative of its discretisation to 7e-8, but its CG cannot be tightened below
  ``rel_tol=1e-10`` (1e-11 stalls: ``NotConverged``), so its solves carry errors ~1e-7 and central
  differences of them disagree with any gradient by 5e-2: the 1e-4 check cannot even be made there.
* Time per physics epoch (theta -> solve -> 25 points -> MSE, then backward), float64: 19^2 nodes,
  FEM banded 2.0-2.4 ms, FEM dense 2.0-2.7 ms, PhiFlow CG 45-50 ms, PhiFlow ``scipy-direct`` fails
  under ``jit_compile`` (``RuntimeError: unordered_map::at``; 55-125 ms in float32); 101^2 nodes,
  FEM banded 47-79 ms, FEM dense 34-48 s, PhiFlow CG 5.8-8.8 s, ``scipy-direct`` 198-230 ms (CPU
  only). The authors' JAX script takes 5.2 ms per physics-alone epoch on one core of this machine.
* phiml traps met on the way: the adjoint solve runs at the precision active *during backward*
  (float32 unless ``backward()`` is wrapped in ``math.precision(64)``: ``NotConverged``); a
  ``jit_compile`` function first traced under ``torch.no_grad`` keeps that trace and its backward
  then fails (``derivative for aten::bincount is not implemented``); float32 CG with
  ``rel_tol=1e-5`` does not converge at 101^2 and, under jit, does not say so.

Solver: ``method='auto'`` is dense LU up to :data:`DENSE_MAX_INTERIOR` = 15 interior
nodes per side, where it is faster (1.2-1.3 vs 1.3-1.5 ms per epoch at 7^2 interior nodes), and
block-tridiagonal Cholesky with an adjoint backward above: at the papers' 17^2 interior the two are
within noise (1.9-2.2 vs 2.3 ms; 0.89-1.0 of dense in section 3), the banded one checks
definiteness and scales as m^4 instead of m^6 (3.0-3.2 vs 19-25 ms at 29^2, 47-79 ms vs 34-48 s at
99^2). float32 and float64 both work; the float32 solution is 3e-7 (19^2) to
4e-5 (101^2) from the float64 one, far below the discretisation error. (The timings above were taken
with the dense solve differentiated by torch's autograd; both methods now share the adjoint backward
of :mod:`.solvers`, which gives the dense solve the same gradient bit for bit at a fraction of the
cost, and a :class:`FactorCache` lets a training epoch factorise once: ``experiments/bench_static.py``.)
"""

from __future__ import annotations

from typing import Optional

import torch

from hyco.physics.elliptic.assembly import InteriorSystem, assemble
from hyco.physics.elliptic.interpolation import interpolate_bilinear
from hyco.physics.elliptic.mesh import Coefficient, StructuredTriangulation
from hyco.physics.elliptic.solvers import DENSE_MAX_INTERIOR, METHODS, FactorCache, solve_interior, with_boundary


def solve_elliptic(mesh: StructuredTriangulation, kappa: Coefficient, eta: Optional[Coefficient], f: Coefficient,
                   method: str = "auto", dtype: torch.dtype = torch.float64,
                   device: Optional[torch.device] = None, cache: Optional[FactorCache] = None) -> torch.Tensor:
    """Nodal P1 solution ``(*batch, N+1, N+1)`` (zero on the boundary) of ``-div(kappa grad u) + eta u = f``.

    ``kappa`` and ``eta`` are evaluated at element centroids (numbers, callables of ``(x, y)`` or
    tensors ``(*batch, 2, N, N)``), ``f`` at the nodes (vertex quadrature); see :func:`assemble`.
    Differentiable in every tensor that enters ``kappa``, ``eta`` and ``f``. ``cache`` (a
    :class:`FactorCache`) reuses the last factorisation when the system is the same, bit for bit.
    """
    return with_boundary(solve_interior(assemble(mesh, kappa, eta, f, dtype, device), method, cache))


__all__ = [
    "DENSE_MAX_INTERIOR",
    "METHODS",
    "Coefficient",
    "FactorCache",
    "InteriorSystem",
    "StructuredTriangulation",
    "assemble",
    "interpolate_bilinear",
    "solve_elliptic",
    "solve_interior",
    "with_boundary",
]
