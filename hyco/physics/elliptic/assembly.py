"""P1 assembly of ``-div(kappa grad u) + eta u = f`` with ``u = 0`` on the boundary, as stencils.

On the structured triangulation (:mod:`.mesh`) the P1 matrices need no element loop: every
triangle is a right isosceles triangle of area ``h^2/2``, so the local matrices are fixed numbers
times the element's coefficient (evaluated at its centroid, as the authors do):

* stiffness, triangle 0 with nodes (A, B, C) = ``(i,j), (i+1,j), (i+1,j+1)``:
  ``kappa/2 * [[1,-1,0],[-1,2,-1],[0,-1,1]]``; triangle 1 with (A, C, D) = ``(i,j), (i+1,j+1), (i,j+1)``:
  ``kappa/2 * [[1,0,-1],[0,1,-1],[-1,-1,2]]``. The diagonal edge couples nothing, so the stiffness
  matrix is a 5-point stencil whose edge weights are ``-(kappa of the two triangles on the edge)/2``
  and whose rows sum to zero;
* consistent mass: ``eta * h^2/24 * [[2,1,1],[1,2,1],[1,1,2]]`` (the authors' ``area/12`` form), which
  also couples the diagonal neighbours ``(i,j)-(i+1,j+1)``;
* load, vertex quadrature (``area/3 * f(vertex)`` per element and vertex, the authors'
  ``assemble_load_vector_2d``): six triangles meet at an interior node, so ``F = h^2 f(node)``.

The interior system (``m = N-1`` unknowns per side, lexicographic ``p = a*m + b`` for node
``(a+1, b+1)``) is symmetric with seven diagonals, kept as four arrays (:class:`InteriorSystem`).
Everything is plain torch, so gradients flow from the stencil back to the coefficients.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from hyco.physics.elliptic.mesh import Coefficient, StructuredTriangulation


@dataclasses.dataclass(frozen=True)
class InteriorSystem:
    """The symmetric interior system ``A u = F`` on ``m x m`` unknowns, ``A`` as a 7-point stencil.

    Attributes
    ----------
    centre : Tensor ``(*batch, m, m)``
        ``A[p, p]``.
    east : Tensor ``(*batch, m-1, m)``
        ``A[(a,b), (a+1,b)]`` (the x-neighbour).
    north : Tensor ``(*batch, m, m-1)``
        ``A[(a,b), (a,b+1)]`` (the y-neighbour).
    diagonal : Tensor ``(*batch, m-1, m-1)``
        ``A[(a,b), (a+1,b+1)]`` (non-zero only with a mass term).
    rhs : Tensor ``(*batch, m, m)``
        ``F`` at the interior nodes.
    """

    centre: torch.Tensor
    east: torch.Tensor
    north: torch.Tensor
    diagonal: torch.Tensor
    rhs: torch.Tensor

    @property
    def m(self) -> int:
        return self.centre.shape[-1]

    @property
    def batch_shape(self) -> torch.Size:
        return batch_shape(self.centre, self.east, self.north, self.diagonal, self.rhs)

    def matvec(self, u: torch.Tensor) -> torch.Tensor:
        """``A u`` for interior values ``u`` of shape ``(*batch, m, m)``."""
        out = self.centre * u
        out = out + F.pad(self.east * u[..., 1:, :], (0, 0, 0, 1)) + F.pad(self.east * u[..., :-1, :], (0, 0, 1, 0))
        out = out + F.pad(self.north * u[..., :, 1:], (0, 1)) + F.pad(self.north * u[..., :, :-1], (1, 0))
        out = out + F.pad(self.diagonal * u[..., 1:, 1:], (0, 1, 0, 1))
        return out + F.pad(self.diagonal * u[..., :-1, :-1], (1, 0, 1, 0))

    def dense(self) -> torch.Tensor:
        """``A`` as a dense ``(*batch, m^2, m^2)`` matrix (differentiable; for small ``m`` only)."""
        m = self.m
        batch = self.batch_shape
        rows, cols = _dense_pattern(m, self.centre.device)
        values = [self.centre.expand(*batch, m, m).flatten(-2)]
        for stencil, shape in ((self.east, (m - 1, m)), (self.north, (m, m - 1)), (self.diagonal, (m - 1, m - 1))):
            flat = stencil.expand(*batch, *shape).flatten(-2)
            values += [flat, flat]
        # one matrix written in place (index_put keeps the graph): a single m^4 allocation
        matrix = self.centre.new_zeros(*batch, m * m, m * m)
        matrix[..., rows, cols] = torch.cat(values, dim=-1)
        return matrix


def batch_shape(*tensors: torch.Tensor) -> torch.Size:
    """The broadcast of the tensors' leading (batch) shapes, all but the last two axes.

    ``torch.broadcast_shapes`` would do, but it reads torch's configuration on every call (0.1-0.4 ms,
    more than a whole 17^2 solve), and a solve needs this twice."""
    shapes = [tuple(t.shape[:-2]) for t in tensors]
    rank = max(len(s) for s in shapes)
    out = []
    for axis in range(rank):
        sizes = {s[axis - rank + len(s)] for s in shapes if axis - rank + len(s) >= 0} - {1}
        if len(sizes) > 1:
            raise ValueError(f"elliptic system: batch shapes {shapes} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return torch.Size(out)


@functools.lru_cache(maxsize=16)
def _dense_pattern(m: int, device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Row and column of every stencil entry in the dense matrix, in :meth:`InteriorSystem.dense`'s
    order (centre; east, its mirror; north, its mirror; diagonal, its mirror): built once per size."""
    index = torch.arange(m * m, device=device).reshape(m, m)
    rows, cols = [index.flatten()], [index.flatten()]
    for here, there in ((index[:-1, :], index[1:, :]), (index[:, :-1], index[:, 1:]), (index[:-1, :-1], index[1:, 1:])):
        rows += [here.flatten(), there.flatten()]
        cols += [there.flatten(), here.flatten()]
    return torch.cat(rows), torch.cat(cols)


def element_coupling(mesh: StructuredTriangulation,
                     values: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per edge, the sum of an element coefficient over the triangles that share the edge.

    Returns ``(x_edges (*b, N, N+1), y_edges (*b, N+1, N), diagonal_edges (*b, N, N), node_sum (*b, N-1, N-1))``:
    ``x_edges[i, j]`` is the edge ``(i,j)-(i+1,j)``, ``y_edges[i, j]`` the edge ``(i,j)-(i,j+1)``,
    ``diagonal_edges[i, j]`` the edge ``(i,j)-(i+1,j+1)``, ``node_sum`` the sum over the six
    triangles around each interior node.
    """
    lower, upper = values[..., 0, :, :], values[..., 1, :, :]
    # edge (i,j)-(i+1,j): triangle 0 of cell (i,j) (j < N) and triangle 1 of cell (i,j-1) (j > 0)
    x_edges = F.pad(lower, (0, 1)) + F.pad(upper, (1, 0))
    # edge (i,j)-(i,j+1): triangle 1 of cell (i,j) (i < N) and triangle 0 of cell (i-1,j) (i > 0)
    y_edges = F.pad(upper, (0, 0, 0, 1)) + F.pad(lower, (0, 0, 1, 0))
    diagonal_edges = lower + upper
    # node (i,j): both triangles of cells (i,j) and (i-1,j-1), triangle 0 of (i-1,j), triangle 1 of (i,j-1)
    node_sum = (diagonal_edges[..., 1:, 1:] + diagonal_edges[..., :-1, :-1]
                + lower[..., :-1, 1:] + upper[..., 1:, :-1])
    return x_edges, y_edges, diagonal_edges, node_sum


def assemble(mesh: StructuredTriangulation, kappa: Coefficient, eta: Optional[Coefficient], f: Coefficient,
             dtype: torch.dtype = torch.float64, device: Optional[torch.device] = None) -> InteriorSystem:
    """Assemble the interior P1 system of ``-div(kappa grad u) + eta u = f``, ``u = 0`` on the boundary.

    Parameters
    ----------
    mesh : StructuredTriangulation
    kappa, eta : number, callable ``(x, y) -> values`` at element centroids, or tensor ``(*batch, 2, N, N)``
        Diffusivity (must be > 0) and reaction (>= 0; None for none), one value per triangle.
    f : number, callable ``(x, y) -> values`` at the nodes, or tensor ``(*batch, N+1, N+1)``
        The forcing, integrated by vertex quadrature.
    dtype, device
        Where everything is computed: callables are evaluated there and tensors are converted to it
        (gradients flow through the conversion).
    """
    kappa_e = mesh.at_centroids(kappa, dtype, device)
    x_k, y_k, _, _ = element_coupling(mesh, kappa_e)
    # stiffness edge weights -kappa/2 per triangle on the edge; rows of the full matrix sum to zero,
    # so the centre is minus the four edge weights around the node (boundary neighbours included)
    east_k = -0.5 * x_k[..., 1:-1, 1:-1]
    north_k = -0.5 * y_k[..., 1:-1, 1:-1]
    centre = 0.5 * (x_k[..., 1:, 1:-1] + x_k[..., :-1, 1:-1] + y_k[..., 1:-1, 1:] + y_k[..., 1:-1, :-1])
    east, north = east_k, north_k
    m = mesh.interior_per_side
    diagonal = torch.zeros((m - 1, m - 1), dtype=kappa_e.dtype, device=kappa_e.device)
    if eta is not None:
        eta_e = mesh.at_centroids(eta, dtype, device)
        x_m, y_m, d_m, node_m = element_coupling(mesh, eta_e)
        scale = mesh.h ** 2 / 24.0  # area/12 with area h^2/2; off-diagonal 1x, diagonal 2x
        east = east + scale * x_m[..., 1:-1, 1:-1]
        north = north + scale * y_m[..., 1:-1, 1:-1]
        diagonal = diagonal + scale * d_m[..., 1:-1, 1:-1]
        centre = centre + 2.0 * scale * node_m
    f_nodes = mesh.at_nodes(f, dtype, device)
    rhs = mesh.h ** 2 * f_nodes[..., 1:-1, 1:-1]
    return InteriorSystem(centre=centre, east=east, north=north, diagonal=diagonal, rhs=rhs)
