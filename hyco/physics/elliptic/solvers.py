"""Direct solves of the symmetric positive-definite interior system, differentiable in the stencil.

Two factorisations, both plain torch (any device, float32 or float64, leading batch dimensions):

* ``dense``: the ``m^2 x m^2`` matrix (:meth:`InteriorSystem.dense`) and ``torch.linalg.solve`` (LU),
  with torch's own autograd: the authors' ``jax.scipy.linalg.solve``. ``O(m^6)`` flops and ``O(m^4)``
  memory: fine up to ``m ~ 15``, 48 s per solve and backward at ``m = 99`` (a 9801^2 matrix, 3.4 GB
  peak). LU does not see definiteness; it refuses only a singular matrix.
* ``banded``: block-tridiagonal Cholesky, one ``m x m`` block per grid line along x (the matrix's
  bandwidth is ``m + 1``): ``m`` Cholesky factorisations, triangular solves and products of
  ``m x m`` blocks, ``O(m^4)`` flops, ``O(m^3)`` memory. Its backward is the adjoint solve with the
  same factors (``lambda = A^{-1} g``, since ``A`` is symmetric) and the stencil gradient
  ``dL/dA_pq = -lambda_p u_q`` read off on the seven diagonals, never backpropagation through the
  factorisation. A block that is not positive definite (``kappa <= 0`` somewhere) raises
  :class:`~hyco.errors.PhysicsSolveError`.

``auto`` picks ``dense`` up to :data:`DENSE_MAX_INTERIOR` unknowns per side and ``banded`` above
(the crossover measured by ``experiments/bench_elliptic.py``; see the package docstring).
"""

from __future__ import annotations

from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from hyco.errors import PhysicsSolveError
from hyco.physics.elliptic.assembly import InteriorSystem

METHODS = ("auto", "dense", "banded")
#: ``auto`` solves densely up to this many interior unknowns per side (measured crossover, 1 CPU thread)
DENSE_MAX_INTERIOR = 15


def _solve_error(method: str, problem: str, info: torch.Tensor) -> PhysicsSolveError:
    return PhysicsSolveError(
        f"elliptic solve ({method}): the interior matrix is {problem} (info {info.flatten().tolist()[:4]}); "
        f"kappa must be > 0 and eta >= 0 everywhere")


def solve_dense(system: InteriorSystem) -> torch.Tensor:
    """``u = A^{-1} F`` by a dense LU solve with autograd, ``(*batch, m, m)``."""
    m = system.m
    matrix = system.dense()
    rhs = system.rhs.expand(*matrix.shape[:-2], m, m).reshape(*matrix.shape[:-1], 1)
    solution, info = torch.linalg.solve_ex(matrix, rhs)
    if bool((info != 0).any()):
        raise _solve_error("dense", "singular", info)
    return solution.reshape(*matrix.shape[:-2], m, m)


# ------------------------------------------------------------------------------------------------
# block-tridiagonal Cholesky
# ------------------------------------------------------------------------------------------------
def _blocks(centre: torch.Tensor, east: torch.Tensor, north: torch.Tensor,
            diagonal: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Diagonal blocks ``(*b, m, m, m)`` (tridiagonal, one per x-line) and super-diagonal blocks
    ``(*b, m-1, m, m)``: block ``k`` couples x-line ``k`` (rows) to line ``k+1`` (columns)."""
    diag_blocks = torch.diag_embed(centre) + torch.diag_embed(north, 1) + torch.diag_embed(north, -1)
    super_blocks = torch.diag_embed(east) + torch.diag_embed(diagonal, 1)
    return diag_blocks, super_blocks


def _factor(diag_blocks: torch.Tensor, super_blocks: torch.Tensor) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
    """``A = L L^T`` with ``L`` block lower-bidiagonal: returns ``L_kk`` and ``W_k = L_kk^{-1} B_k``
    (so that ``L_{k+1,k} = W_k^T``)."""
    m = diag_blocks.shape[-3]
    factors, couplings, infos = [], [], []
    schur = diag_blocks[..., 0, :, :]
    for k in range(m):
        chol, info = torch.linalg.cholesky_ex(schur)
        factors.append(chol)
        infos.append(info)
        if k + 1 < m:
            w = torch.linalg.solve_triangular(chol, super_blocks[..., k, :, :], upper=False)
            couplings.append(w)
            schur = diag_blocks[..., k + 1, :, :] - w.transpose(-1, -2) @ w
    # one check at the end (a per-block check costs a host sync each); after a failed block the
    # remaining factors are garbage, and the error names the first failed block
    failed = torch.stack(infos, dim=-1) != 0
    if bool(failed.any()):
        first = int(failed.reshape(-1, m).any(0).nonzero()[0])
        raise _solve_error("banded", f"not positive definite (block {first} of {m})", infos[first])
    return factors, couplings


def _substitute(factors: List[torch.Tensor], couplings: List[torch.Tensor], rhs: torch.Tensor) -> torch.Tensor:
    """Solve ``L L^T x = rhs`` for ``rhs (*b, m, m)`` (x-line, y) with the block factors."""
    m = len(factors)
    forward = []
    for k in range(m):
        r = rhs[..., k, :, None]
        if k:
            r = r - couplings[k - 1].transpose(-1, -2) @ forward[-1]
        forward.append(torch.linalg.solve_triangular(factors[k], r, upper=False))
    backward = [None] * m
    for k in reversed(range(m)):
        r = forward[k]
        if k + 1 < m:
            r = r - couplings[k] @ backward[k + 1]
        backward[k] = torch.linalg.solve_triangular(factors[k].transpose(-1, -2), r, upper=True)
    return torch.cat(backward, dim=-1).transpose(-1, -2)


def stencil_gradients(lam: torch.Tensor,
                      u: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``dL/d(stencil)`` from the adjoint ``lam`` and the solution ``u``: ``-lam_p u_q`` summed over
    the two symmetric entries ``(p, q)`` and ``(q, p)`` of each off-diagonal."""
    centre = -lam * u
    east = -(lam[..., :-1, :] * u[..., 1:, :] + lam[..., 1:, :] * u[..., :-1, :])
    north = -(lam[..., :, :-1] * u[..., :, 1:] + lam[..., :, 1:] * u[..., :, :-1])
    diagonal = -(lam[..., :-1, :-1] * u[..., 1:, 1:] + lam[..., 1:, 1:] * u[..., :-1, :-1])
    return centre, east, north, diagonal


def _reduce_to(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum a broadcast gradient back to the input's shape."""
    while grad.dim() > len(shape):
        grad = grad.sum(0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis, keepdim=True)
    return grad


class _BandedSolve(torch.autograd.Function):
    """``u = A(stencil)^{-1} rhs`` with the adjoint backward (one more substitution, no refactoring)."""

    @staticmethod
    def forward(ctx, centre, east, north, diagonal, rhs):
        batch = torch.broadcast_shapes(centre.shape[:-2], east.shape[:-2], north.shape[:-2], diagonal.shape[:-2],
                                       rhs.shape[:-2])
        m = centre.shape[-1]
        diag_blocks, super_blocks = _blocks(centre.expand(*batch, m, m), east.expand(*batch, m - 1, m),
                                            north.expand(*batch, m, m - 1), diagonal.expand(*batch, m - 1, m - 1))
        factors, couplings = _factor(diag_blocks, super_blocks)
        u = _substitute(factors, couplings, rhs.expand(*batch, m, m))
        ctx.factors, ctx.couplings = factors, couplings
        ctx.shapes = [t.shape for t in (centre, east, north, diagonal, rhs)]
        ctx.save_for_backward(u)
        return u

    @staticmethod
    @once_differentiable  # the adjoint uses the saved factors, not a graph: no second derivatives
    def backward(ctx, grad_u):
        (u,) = ctx.saved_tensors
        lam = _substitute(ctx.factors, ctx.couplings, grad_u)  # A symmetric: the adjoint is A itself
        grads = (*stencil_gradients(lam, u), lam)
        return tuple(_reduce_to(g, s) if need else None
                     for g, s, need in zip(grads, ctx.shapes, ctx.needs_input_grad))


def solve_banded(system: InteriorSystem) -> torch.Tensor:
    """``u = A^{-1} F`` by block-tridiagonal Cholesky with the adjoint backward, ``(*batch, m, m)``."""
    return _BandedSolve.apply(system.centre, system.east, system.north, system.diagonal, system.rhs)


def solve_interior(system: InteriorSystem, method: str = "auto") -> torch.Tensor:
    """Solve the interior system with ``method`` (``auto``, ``dense`` or ``banded``)."""
    if method not in METHODS:
        raise ValueError(f"elliptic solve: unknown method {method!r}; one of {METHODS}")
    if method == "auto":
        method = "dense" if system.m <= DENSE_MAX_INTERIOR else "banded"
    return solve_dense(system) if method == "dense" else solve_banded(system)


def with_boundary(interior: torch.Tensor) -> torch.Tensor:
    """Interior values ``(*b, m, m)`` to nodal values ``(*b, m+2, m+2)`` with ``u = 0`` on the boundary."""
    return F.pad(interior, (1, 1, 1, 1))
