"""The structured triangulation of a square that the P1 elements live on.

``N`` cells per side, nodes ``(N+1)^2`` indexed ``[i, j]`` with ``i`` along x (``indexing='ij'``, as
the authors' ``generate_mesh`` and its ``reshape(N+1, N+1)``). Each cell ``(i, j)`` is split along
its south-west to north-east diagonal into two right triangles:

* triangle 0 (below the diagonal): nodes ``(i, j), (i+1, j), (i+1, j+1)``, centroid
  ``(x_i + 2h/3, y_j + h/3)``;
* triangle 1 (above the diagonal): nodes ``(i, j), (i+1, j+1), (i, j+1)``, centroid
  ``(x_i + h/3, y_j + 2h/3)``.

Element-wise coefficients are tensors of shape ``(*batch, 2, N, N)``: ``[..., t, i, j]`` is the value
on triangle ``t`` of cell ``(i, j)``.
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Tuple, Union

import torch

Coefficient = Union[float, torch.Tensor, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]


class StructuredTriangulation:
    """A square ``[lower, upper]^2`` with ``cells`` cells per side, each cut into two triangles.

    Parameters
    ----------
    cells : int
        Cells per side ``N`` (``N+1`` nodes per side, ``(N-1)^2`` interior unknowns); at least 2.
    lower, upper : float
        The square's bounds on both axes (the papers' ``[-pi, pi]`` by default).
    """

    def __init__(self, cells: int, lower: float = -math.pi, upper: float = math.pi) -> None:
        if int(cells) != cells or cells < 2:
            raise ValueError(f"StructuredTriangulation: cells must be an integer >= 2, got {cells!r}")
        if not upper > lower:
            raise ValueError(f"StructuredTriangulation: upper ({upper}) must exceed lower ({lower})")
        self.cells = int(cells)
        self.lower = float(lower)
        self.upper = float(upper)
        self.h = (self.upper - self.lower) / self.cells

    @property
    def nodes_per_side(self) -> int:
        return self.cells + 1

    @property
    def interior_per_side(self) -> int:
        return self.cells - 1

    def axis(self, dtype: torch.dtype = torch.float64, device: Optional[torch.device] = None) -> torch.Tensor:
        """Node coordinates along one axis, ``(N+1,)``; exact end points."""
        return torch.linspace(self.lower, self.upper, self.cells + 1, dtype=dtype, device=device)

    def nodes(self, dtype: torch.dtype = torch.float64,
              device: Optional[torch.device] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Node coordinates ``(x, y)``, each ``(N+1, N+1)`` with ``indexing='ij'``."""
        a = self.axis(dtype, device)
        return torch.meshgrid(a, a, indexing="ij")

    def centroids(self, dtype: torch.dtype = torch.float64,
                  device: Optional[torch.device] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Element centroids ``(x, y)``, each ``(2, N, N)`` (triangle, cell i, cell j)."""
        corner = self.axis(dtype, device)[:-1]
        xc, yc = torch.meshgrid(corner, corner, indexing="ij")
        third, two_thirds = self.h / 3.0, 2.0 * self.h / 3.0
        x = torch.stack([xc + two_thirds, xc + third])
        y = torch.stack([yc + third, yc + two_thirds])
        return x, y

    def at_centroids(self, coefficient: Coefficient, dtype: torch.dtype = torch.float64,
                     device: Optional[torch.device] = None) -> torch.Tensor:
        """A coefficient as element values ``(*batch, 2, N, N)``.

        ``coefficient`` is a number, a callable of the centroid coordinates ``(x, y)`` (each
        ``(2, N, N)``; it may return extra leading batch dimensions), or a tensor already of shape
        ``(*batch, 2, N, N)``. The result is in ``dtype`` on ``device``.
        """
        shape = (2, self.cells, self.cells)
        if callable(coefficient):
            values = coefficient(*self.centroids(dtype, device)).to(dtype)
        else:
            values = torch.as_tensor(coefficient, dtype=dtype, device=device)
        if values.dim() == 0:
            return values.expand(shape)
        if tuple(values.shape[-3:]) != shape:
            raise ValueError(f"element coefficient: expected trailing shape {shape} (triangle, i, j) "
                             f"for {self.cells} cells per side, got {tuple(values.shape)}")
        return values

    def at_nodes(self, function: Coefficient, dtype: torch.dtype = torch.float64,
                 device: Optional[torch.device] = None) -> torch.Tensor:
        """A function as nodal values ``(*batch, N+1, N+1)`` in ``dtype``.

        ``function`` is a number, a callable of the node coordinates ``(x, y)`` or a tensor.
        """
        shape = (self.cells + 1, self.cells + 1)
        if callable(function):
            values = function(*self.nodes(dtype, device)).to(dtype)
        else:
            values = torch.as_tensor(function, dtype=dtype, device=device)
        if values.dim() == 0:
            return values.expand(shape)
        if tuple(values.shape[-2:]) != shape:
            raise ValueError(f"nodal values: expected trailing shape {shape} for {self.cells} cells per side, "
                             f"got {tuple(values.shape)}")
        return values
