"""Direct solves of the symmetric positive-definite interior system, differentiable in the stencil.

Two factorisations, both plain torch (any device, float32 or float64, leading batch dimensions),
both with the same adjoint backward (:class:`_FactoredSolve`): ``lambda = A^{-1} g`` with the saved
factors (``A`` is symmetric) and the stencil gradient ``dL/dA_pq = -lambda_p u_q`` read off on the
seven diagonals, never backpropagation through the factorisation or through a dense ``m^2 x m^2``
gradient:

* ``dense``: the ``m^2 x m^2`` matrix (:meth:`InteriorSystem.dense`) factorised by LU with partial
  pivoting (``torch.linalg.lu_factor_ex``, what ``torch.linalg.solve`` does inside): the authors'
  ``jax.scipy.linalg.solve``. ``O(m^6)`` flops and ``O(m^4)`` memory: fine up to ``m ~ 15``, 48 s per
  solve and backward at ``m = 99`` (a 9801^2 matrix, 3.4 GB peak). LU does not see definiteness; it
  refuses only a singular matrix.
* ``banded``: block-tridiagonal Cholesky, one ``m x m`` block per grid line along x (the matrix's
  bandwidth is ``m + 1``): ``m`` Cholesky factorisations, triangular solves and products of
  ``m x m`` blocks, ``O(m^4)`` flops, ``O(m^3)`` memory. A block that is not positive definite
  (``kappa <= 0`` somewhere) raises :class:`~hyco.errors.PhysicsSolveError`.

``auto`` picks ``dense`` up to :data:`DENSE_MAX_INTERIOR` unknowns per side and ``banded`` above
(the crossover measured by ``experiments/bench_elliptic.py``; see the package docstring).

A :class:`FactorCache` passed to :func:`solve_interior` keeps the last factorisation and solution:
a solve whose stencil and right-hand side equal the cached ones (``torch.equal``, every bit) reuses
them instead of factorising again. A training epoch solves twice with the same parameters: the
score after the update (no gradient) and the next epoch's forward solve; the second then costs one
comparison, and its result is the same tensor bit for bit.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from hyco.errors import PhysicsSolveError
from hyco.physics.elliptic.assembly import InteriorSystem, batch_shape

METHODS = ("auto", "dense", "banded")
#: ``auto`` solves densely up to this many interior unknowns per side (measured crossover, 1 CPU thread)
DENSE_MAX_INTERIOR = 15


def _solve_error(method: str, problem: str, info: torch.Tensor) -> PhysicsSolveError:
    return PhysicsSolveError(
        f"elliptic solve ({method}): the interior matrix is {problem} (info {info.flatten().tolist()[:4]}); "
        f"kappa must be > 0 and eta >= 0 everywhere")


def _lu_factor(matrix: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """LU with partial pivoting of the dense matrices ``(*b, n, n)``; a singular one raises."""
    lu, pivots, info = torch.linalg.lu_factor_ex(matrix)
    if bool((info != 0).any()):
        raise _solve_error("dense", "singular", info)
    return lu, pivots


def _lu_substitute(factor: Tuple[torch.Tensor, torch.Tensor], rhs: torch.Tensor, adjoint: bool = False) -> torch.Tensor:
    """Solve ``A x = rhs`` (``A^T x = rhs`` with ``adjoint``) for ``rhs (*b, m, m)`` with the LU factors of ``A``."""
    lu, pivots = factor
    m = rhs.shape[-1]
    flat = rhs.reshape(*rhs.shape[:-2], m * m, 1)
    return torch.linalg.lu_solve(lu, pivots, flat, adjoint=adjoint).reshape(rhs.shape)


def solve_dense(system: InteriorSystem, cache: Optional["FactorCache"] = None) -> torch.Tensor:
    """``u = A^{-1} F`` by a dense LU solve with the adjoint backward, ``(*batch, m, m)``."""
    return _FactoredSolve.apply("dense", cache, system.centre, system.east, system.north, system.diagonal,
                                system.rhs)


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


class FactorCache:
    """The last factorisation and solution of a solve, reused when the next system is the same
    (module docstring). One per model: a new system replaces the entry."""

    def __init__(self) -> None:
        self.key: Optional[Tuple[Any, ...]] = None
        self.factor: Any = None
        self.solution: Optional[torch.Tensor] = None
        self.hits = 0  # solves served from the cache (for tests and benchmarks)

    def lookup(self, method: str, inputs: Tuple[torch.Tensor, ...]) -> Optional[Tuple[Any, torch.Tensor]]:
        key = self.key
        if key is None or key[0] != method or len(key) != len(inputs) + 1:
            return None
        for old, new in zip(key[1:], inputs):
            same = old.shape == new.shape and old.dtype == new.dtype and old.device == new.device
            if not (same and torch.equal(old, new)):
                return None
        self.hits += 1
        return self.factor, self.solution

    def store(self, method: str, inputs: Tuple[torch.Tensor, ...], factor: Any, solution: torch.Tensor) -> None:
        self.key = (method, *(t.detach().clone() for t in inputs))
        self.factor, self.solution = factor, solution.detach()


def _factor_system(method: str, centre: torch.Tensor, east: torch.Tensor, north: torch.Tensor,
                   diagonal: torch.Tensor, batch: torch.Size) -> Any:
    m = centre.shape[-1]
    stencil = (centre.expand(*batch, m, m), east.expand(*batch, m - 1, m), north.expand(*batch, m, m - 1),
               diagonal.expand(*batch, m - 1, m - 1))
    if method == "dense":
        matrix = InteriorSystem(*stencil, rhs=centre).dense()
        return _lu_factor(matrix)
    return _factor(*_blocks(*stencil))


def _apply_inverse(method: str, factor: Any, rhs: torch.Tensor, adjoint: bool = False) -> torch.Tensor:
    """``A^{-1} rhs`` (``A^{-T} rhs``: the same for the symmetric ``A``; LU solves it as torch's own
    backward of ``linalg.solve`` does, so the gradient is the one autograd gave)."""
    return _lu_substitute(factor, rhs, adjoint) if method == "dense" else _substitute(*factor, rhs)


class _FactoredSolve(torch.autograd.Function):
    """``u = A(stencil)^{-1} rhs`` with the adjoint backward (one more substitution, no refactoring)."""

    @staticmethod
    def forward(ctx, method, cache, centre, east, north, diagonal, rhs):
        inputs = (centre, east, north, diagonal, rhs)
        batch = batch_shape(*inputs)
        m = centre.shape[-1]
        hit = cache.lookup(method, inputs) if cache is not None else None
        if hit is not None:
            factor, u = hit
        else:
            factor = _factor_system(method, centre, east, north, diagonal, batch)
            u = _apply_inverse(method, factor, rhs.expand(*batch, m, m))
            if cache is not None:
                cache.store(method, inputs, factor, u)
        ctx.method, ctx.factor = method, factor
        ctx.shapes = [t.shape for t in inputs]
        ctx.save_for_backward(u)
        return u.clone() if hit is not None else u  # the cached tensor stays the cache's own

    @staticmethod
    @once_differentiable  # the adjoint uses the saved factors, not a graph: no second derivatives
    def backward(ctx, grad_u):
        (u,) = ctx.saved_tensors
        lam = _apply_inverse(ctx.method, ctx.factor, grad_u, adjoint=True)  # A symmetric: A^T = A
        grads = (*stencil_gradients(lam, u), lam)
        return (None, None, *(_reduce_to(g, s) if need else None
                              for g, s, need in zip(grads, ctx.shapes, ctx.needs_input_grad[2:])))


def solve_banded(system: InteriorSystem, cache: Optional[FactorCache] = None) -> torch.Tensor:
    """``u = A^{-1} F`` by block-tridiagonal Cholesky with the adjoint backward, ``(*batch, m, m)``."""
    return _FactoredSolve.apply("banded", cache, system.centre, system.east, system.north, system.diagonal,
                                system.rhs)


def solve_interior(system: InteriorSystem, method: str = "auto", cache: Optional[FactorCache] = None) -> torch.Tensor:
    """Solve the interior system with ``method`` (``auto``, ``dense`` or ``banded``); ``cache``
    reuses the last factorisation for an identical system (module docstring)."""
    if method not in METHODS:
        raise ValueError(f"elliptic solve: unknown method {method!r}; one of {METHODS}")
    if method == "auto":
        method = "dense" if system.m <= DENSE_MAX_INTERIOR else "banded"
    return solve_dense(system, cache) if method == "dense" else solve_banded(system, cache)


def with_boundary(interior: torch.Tensor) -> torch.Tensor:
    """Interior values ``(*b, m, m)`` to nodal values ``(*b, m+2, m+2)`` with ``u = 0`` on the boundary."""
    return F.pad(interior, (1, 1, 1, 1))
