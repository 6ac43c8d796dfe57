"""Bilinear interpolation of nodal values to arbitrary points (the authors' ``RegularGridInterpolator``).

The authors read their P1 solution at query points with ``jax.scipy.interpolate.RegularGridInterpolator``
on the node grid (``method='linear'``, ``fill_value=None``): bilinear on the square cell that holds
the point, not the P1 interpolant on its triangle, and linear extrapolation from the edge cells
outside the square. This does the same, differentiably in the nodal values (and in the points).
"""

from __future__ import annotations

import torch

from hyco.physics.elliptic.mesh import StructuredTriangulation


def interpolate_bilinear(mesh: StructuredTriangulation, values: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Nodal ``values (*batch, N+1, N+1)`` at ``points (P, 2)`` (x, y): returns ``(*batch, P)``.

    Points outside the square extrapolate linearly from the nearest edge cell, as the authors'
    interpolator with ``fill_value=None`` does.
    """
    n = mesh.cells
    if tuple(values.shape[-2:]) != (n + 1, n + 1):
        raise ValueError(f"interpolate_bilinear: values must end in ({n + 1}, {n + 1}), got {tuple(values.shape)}")
    if points.dim() != 2 or points.shape[-1] != 2:
        raise ValueError(f"interpolate_bilinear: points must be (P, 2), got {tuple(points.shape)}")
    scaled = (points.to(values.dtype) - mesh.lower) / mesh.h
    cell = torch.clamp(torch.floor(scaled.detach()), 0, n - 1)
    local = scaled - cell  # in [0, 1] inside the square, beyond it outside (extrapolation)
    i, j = cell[:, 0].long(), cell[:, 1].long()
    tx, ty = local[:, 0], local[:, 1]
    v00, v10 = values[..., i, j], values[..., i + 1, j]
    v01, v11 = values[..., i, j + 1], values[..., i + 1, j + 1]
    return (v00 * (1 - tx) * (1 - ty) + v10 * tx * (1 - ty) + v01 * (1 - tx) * ty + v11 * tx * ty)
