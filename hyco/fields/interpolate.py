"""Multilinear interpolation of grid values at arbitrary points, differentiable in both.

The one interpolation the platform uses between a grid and scattered points: a physical model's
grid read at sensor or ghost points, a fine truth resampled onto a coarse learner grid. Values
live at sample positions ``first + i * spacing`` per axis (cell centres, or nodes); between two
samples the value is linear per axis (bilinear in 2D), so a function that is multilinear is
reproduced exactly. Outside the samples, per axis: a periodic axis wraps around, a walled axis
either holds the outermost value (``edge``) or falls linearly to zero one spacing beyond the last
sample (``zero``: the node-grid Dirichlet wall, where the boundary node's value is 0), and is 0
beyond that.
"""

from __future__ import annotations

from typing import Sequence

import torch

OUTSIDE = ("zero", "edge")


def interpolate(values: torch.Tensor, first: Sequence[float], spacing: Sequence[float], points: torch.Tensor,
                periodic: Sequence[bool], outside: str = "edge") -> torch.Tensor:
    """Values ``[..., *grid]`` read at ``points [..., P, dim]`` (leading dims broadcast): ``[..., P]``.

    Parameters
    ----------
    values
        Grid samples; the last ``dim`` axes are the grid (``x`` first, ``ij`` order).
    first, spacing
        Position of sample 0 and the distance between samples, per axis.
    points
        Query coordinates, last axis ``(x[, y])``.
    periodic
        Per axis: wrap around (period ``n * spacing``).
    outside
        Walled axes beyond the samples: ``edge`` (hold the outermost value) or ``zero``.
    """
    dim = len(first)
    if points.shape[-1] != dim or values.ndim < dim:
        raise ValueError(f"interpolate: points [..., P, {dim}] on a {dim}-D grid, got points {tuple(points.shape)} "
                         f"and values {tuple(values.shape)}")
    if outside not in OUTSIDE:
        raise ValueError(f"interpolate: outside must be one of {OUTSIDE}, got {outside!r}")
    grid = values.shape[values.ndim - dim:]
    lead = values.shape[:values.ndim - dim]
    flat = values.reshape(*lead, -1)  # [..., N]
    batch = torch.broadcast_shapes(tuple(lead), tuple(points.shape[:-2]))
    flat = flat.expand(*batch, flat.shape[-1])
    total = 0
    for index, weight in _corners(points.to(values.dtype), first, spacing, grid, periodic, outside):
        total = total + weight * torch.gather(flat, -1, index.expand(*batch, index.shape[-1]))
    return total


def interpolate_frames(values: torch.Tensor, frames: torch.Tensor, first: Sequence[float], spacing: Sequence[float],
                       points: torch.Tensor, periodic: Sequence[bool], outside: str = "edge") -> torch.Tensor:
    """Frames ``values [F, C, *grid]`` read each at its own point: point ``n`` (``points [N, dim]``)
    in frame ``frames[n]``; ``[N, C]``. :func:`interpolate` for a trajectory read at scattered
    space-time points, without copying a frame per point."""
    return FrameReader(values.shape, values.dtype, frames, first, spacing, points, periodic, outside)(values)


class FrameReader:
    """:func:`interpolate_frames` at fixed points, with their corners and weights computed once.

    Reading the same points again (observed sensors, a reference grid, this epoch's ghost points
    read from two trajectories) then costs the gathers and the weighted sum only; the result is
    :func:`interpolate_frames`'s, bit for bit (the same weights, summed in the same order).

    Parameters
    ----------
    shape, dtype
        Of the frames ``[F, C, *grid]`` it will read (any ``F`` and ``C``: only the grid counts).
    frames, first, spacing, points, periodic, outside
        As :func:`interpolate_frames`.
    """

    def __init__(self, shape: Sequence[int], dtype: torch.dtype, frames: torch.Tensor, first: Sequence[float],
                 spacing: Sequence[float], points: torch.Tensor, periodic: Sequence[bool],
                 outside: str = "edge") -> None:
        dim = len(first)
        if points.ndim != 2 or points.shape[-1] != dim or len(shape) != dim + 2 or frames.shape != points.shape[:1]:
            raise ValueError(f"interpolate_frames: values [F, C, *grid] ({dim}-D), points [N, {dim}] and frames [N], "
                             f"got {tuple(shape)}, {tuple(points.shape)}, {tuple(frames.shape)}")
        if outside not in OUTSIDE:
            raise ValueError(f"interpolate: outside must be one of {OUTSIDE}, got {outside!r}")
        self.grid = tuple(int(n) for n in shape[2:])
        self.dtype = dtype
        size = 1
        for n in self.grid:
            size *= n
        offset = frames.to(points.device).long() * size
        self.corners = [(index + offset, weight[:, None])
                        for index, weight in _corners(points.to(dtype), first, spacing, self.grid, periodic, outside)]

    def __call__(self, values: torch.Tensor) -> torch.Tensor:
        """``values [F, C, *grid]`` at the points: ``[N, C]`` (differentiable in ``values``)."""
        if tuple(values.shape[2:]) != self.grid or values.dtype != self.dtype:
            raise ValueError(f"FrameReader: built for grids {self.grid} in {self.dtype}, got {tuple(values.shape)} "
                             f"in {values.dtype}")
        flat = values.transpose(0, 1).reshape(values.shape[1], -1)  # [C, F * P]
        total = 0
        for index, weight in self.corners:
            total = total + weight * flat[:, index.to(values.device)].T
        return total


def _corners(points: torch.Tensor, first: Sequence[float], spacing: Sequence[float], grid: Sequence[int],
             periodic: Sequence[bool], outside: str):
    """The ``2^dim`` corners of every point: ``[(flat sample index, weight)]``, shapes ``points[..., 0]``."""
    dim = len(first)
    index_parts = []
    for d in range(dim):
        n = grid[d]
        s = (points[..., d] - float(first[d])) / float(spacing[d])  # continuous index
        low = torch.floor(s)
        frac = s - low
        low = low.long()
        corners = []
        for offset, weight in ((0, 1.0 - frac), (1, frac)):
            i = low + offset
            if periodic[d]:
                i = torch.remainder(i, n)
                valid = torch.ones_like(weight, dtype=torch.bool)
            elif outside == "edge":
                i = i.clamp(0, n - 1)
                valid = torch.ones_like(weight, dtype=torch.bool)
            else:  # zero beyond the samples: the value falls to 0 at the ghost position
                valid = (i >= 0) & (i <= n - 1)
                i = i.clamp(0, n - 1)
            corners.append((i, weight * valid.to(weight.dtype)))
        index_parts.append(corners)
    stride = [1] * dim
    for d in range(dim - 2, -1, -1):
        stride[d] = stride[d + 1] * grid[d + 1]
    out = []
    for corner in range(2 ** dim):
        index, weight = 0, 1
        for d in range(dim):
            i, w = index_parts[d][(corner >> d) & 1]
            index = index + i * stride[d]
            weight = weight * w
        out.append((index, weight))
    return out


def grid_points(first: Sequence[float], spacing: Sequence[float], shape: Sequence[int]) -> torch.Tensor:
    """The sample positions of a grid, ``[*shape, dim]`` (``ij`` order), float64."""
    axes = [float(a) + float(h) * torch.arange(n, dtype=torch.float64) for a, h, n in zip(first, spacing, shape)]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)
