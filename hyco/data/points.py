"""Scattered, off-grid observations: Lagrangian sensors and random space-time tuples.

The papers observe one trajectory at scattered points rather than on grid cells:

* ``observation.spatial=lattice``: a ``lattice x lattice`` set of sensors spread over the box
  ``box_lower..box_upper`` (fractions of the domain, ends included), fixed or moving along the
  linear ODE ``dX/dt = M (X - c)`` (``motion_matrix``, ``motion_centre``; closed form
  ``X(t) = c + expm(M t) (X0 - c)``); ``num_sensors`` of them kept at random (seeded by
  ``observation.seed``) or the explicit ``sensor_indices``. Every kept sensor reads every frame.
* ``observation.spatial=tuples``: ``num_sensors`` random ``(cell, frame)`` pairs over the whole
  grid and trajectory, frame 0 included (Gray–Scott's 5000 of 51 x 4096).
* ``observation.spatial=uniform``: ``num_sensors`` fixed points drawn uniformly (off the grid) in
  the box ``box_lower..box_upper``, reading every frame (the static papers' 25 points in
  ``(0, pi)^2`` and 50 points on the whole square).

A sensor's value is the truth at its position, read by multilinear interpolation of the truth's own
grid (a finer truth grid than the learner's is read directly, never through the learner's), or
exactly where the truth is known in closed form (``PhysicalModel.exact_values``: the Helmholtz
paper's ``sin x sin y``); outside the domain a walled field falls to its wall value 0. Noise, when
asked for, is Gaussian with ``noise`` times the RMS (or the maximum, ``noise_scale=max``, the
static papers' ``sigma = level * max |u_obs|``) of the clean values. Points carry their time as a
last coordinate, except on a static problem (no time axis): ``[P, dim]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from hyco.errors import ObservationError
from hyco.fields.interpolate import interpolate

_SENSOR_STREAM, _NOISE_STREAM = 0x1A771CE, 0x2015E


@dataclass(frozen=True)
class Extent:
    """A grid's domain and samples: ``first`` sample position and ``spacing`` per axis, the
    sample ``shape``, the physical box (``lower``, ``size``) and which axes are periodic."""

    first: Tuple[float, ...]
    spacing: Tuple[float, ...]
    shape: Tuple[int, ...]
    lower: Tuple[float, ...]
    size: float
    periodic: Tuple[bool, ...]


def extent_of(model: Any, field: str) -> Extent:
    """The sample grid of ``field`` of a physical model (its cell centres; a node layout's nodes)."""
    spec = model.spec(field)
    box_lower, box_size = getattr(model, "node_box", (model.domain_origin, model.domain_size))
    first = tuple(model.domain_origin + 0.5 * h for h in model.dx)
    return Extent(first, tuple(model.dx), tuple(model.resolution), (box_lower,) * model.dim, box_size,
                  tuple(b == "periodic" for b in spec.boundary))


def read(values: np.ndarray, extent: Extent, points: np.ndarray) -> np.ndarray:
    """Grid values ``[C, *shape]`` read at ``points [P, dim]``: ``[P, C]`` (float64)."""
    out = interpolate(torch.as_tensor(values, dtype=torch.float64), extent.first, extent.spacing,
                      torch.as_tensor(points, dtype=torch.float64), extent.periodic, outside="zero")
    return out.T.numpy()


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed) % (1 << 63), stream]))


def lattice_positions(cfg: Any, extent: Extent, times: np.ndarray) -> np.ndarray:
    """The kept sensors' positions at ``times``: ``[T, S, dim]``."""
    from scipy.linalg import expm

    dim = len(extent.shape)
    lower = list(cfg.box_lower) or [0.0] * dim
    upper = list(cfg.box_upper) or [1.0] * dim
    n = int(cfg.lattice)
    if n < 1 or len(lower) != dim or len(upper) != dim:
        raise ObservationError(f"observation.lattice/box_lower/box_upper: a lattice of >= 1 sensor per axis in a "
                               f"box of {dim} fractions, got {n}, {lower}, {upper}")
    axes = [np.linspace(extent.lower[d] + lo * extent.size, extent.lower[d] + hi * extent.size, n)
            for d, (lo, hi) in enumerate(zip(lower, upper))]
    start = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, dim)
    if list(cfg.sensor_indices):
        keep = np.asarray(list(cfg.sensor_indices), dtype=int)
        if keep.min() < 0 or keep.max() >= len(start) or len(set(keep.tolist())) != len(keep):
            raise ObservationError(f"observation.sensor_indices: distinct indices in [0, {len(start)}), got "
                                   f"{list(keep)}")
    else:
        count = min(int(cfg.num_sensors), len(start))
        keep = np.sort(_rng(cfg.seed, _SENSOR_STREAM).permutation(len(start))[:count])
    start = start[keep]
    matrix = np.asarray(cfg.motion_matrix, dtype=np.float64)
    if matrix.size == 0:
        return np.broadcast_to(start, (len(times), *start.shape)).copy()
    centre = np.asarray(list(cfg.motion_centre) or [0.0] * dim, dtype=np.float64)
    if matrix.shape != (dim, dim) or centre.shape != (dim,):
        raise ObservationError(f"observation.motion_matrix/motion_centre: a {dim}x{dim} matrix and {dim} "
                               f"coordinates, got {matrix.tolist()} and {centre.tolist()}")
    return np.stack([centre + (start - centre) @ expm(matrix * float(t)).T for t in times])


def box_bounds(cfg: Any, extent: Extent) -> Tuple[np.ndarray, np.ndarray]:
    """The physical corners of the observation box ``box_lower..box_upper`` (fractions of the domain)."""
    dim = len(extent.shape)
    lower = list(cfg.box_lower) or [0.0] * dim
    upper = list(cfg.box_upper) or [1.0] * dim
    if len(lower) != dim or len(upper) != dim or not all(0.0 <= a < b <= 1.0 for a, b in zip(lower, upper)):
        raise ObservationError(f"observation.box_lower/box_upper: {dim} fractions each with 0 <= lower < upper <= 1, "
                               f"got {lower} / {upper}")
    low = np.asarray(extent.lower, dtype=np.float64) + np.asarray(lower) * extent.size
    high = np.asarray(extent.lower, dtype=np.float64) + np.asarray(upper) * extent.size
    return low, high


def uniform_positions(cfg: Any, extent: Extent) -> np.ndarray:
    """``num_sensors`` points drawn uniformly in the observation box: ``[S, dim]``."""
    count = int(cfg.num_sensors)
    if count < 1:
        raise ObservationError(f"observation.num_sensors: at least 1 point, got {count}")
    low, high = box_bounds(cfg, extent)
    return low + (high - low) * _rng(cfg.seed, _SENSOR_STREAM).random((count, len(low)))


def tuple_positions(cfg: Any, extent: Extent, num_frames: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(frames [P], cells [P, dim] as indices)`` of ``num_sensors`` distinct random pairs."""
    total = num_frames * int(np.prod(extent.shape))
    count = int(cfg.num_sensors)
    if not 1 <= count <= total:
        raise ObservationError(f"observation.num_sensors: between 1 and {total} (frames x cells), got {count}")
    flat = np.sort(_rng(cfg.seed, _SENSOR_STREAM).choice(total, size=count, replace=False))
    frames, cells = np.divmod(flat, int(np.prod(extent.shape)))
    return frames, np.stack(np.unravel_index(cells, extent.shape), -1)


#: ``reader(frame, points [P, dim]) -> [P, C]``: the truth of one frame read at points
Reader = Callable[[int, np.ndarray], np.ndarray]


def observe_points(cfg: Any, truth: np.ndarray, extent: Extent, times: np.ndarray, sim_seed: int,
                   stream: int, reader: Optional[Reader] = None, timed: bool = True) -> Dict[str, np.ndarray]:
    """The scattered observations of one field's trajectory ``truth [T, C, *shape]`` (on the grid
    ``extent``): ``points [P, dim + 1]`` (coordinates, then time; ``[P, dim]`` when not ``timed``),
    ``frames [P]``, ``values`` ``[P, C]`` (noisy) and ``clean`` ``[P, C]``, float32. ``reader``
    reads a frame at off-grid points (default: multilinear interpolation of ``truth``)."""
    kind = str(getattr(cfg.spatial, "value", cfg.spatial))
    if reader is None:
        def reader(k: int, points: np.ndarray) -> np.ndarray:
            return read(truth[k], extent, points)
    if kind in ("lattice", "uniform"):
        if kind == "lattice":
            positions = lattice_positions(cfg, extent, times)  # [T, S, dim]
        else:  # fixed points, read at every frame
            positions = np.repeat(uniform_positions(cfg, extent)[None], len(times), axis=0)
        frames = np.repeat(np.arange(len(times)), positions.shape[1])
        coords = positions.reshape(-1, positions.shape[-1])
        clean = np.concatenate([reader(k, positions[k]) for k in range(len(times))])
    elif kind == "tuples":
        frames, cells = tuple_positions(cfg, extent, len(times))
        coords = np.asarray(extent.first) + cells * np.asarray(extent.spacing)
        clean = truth[(frames, slice(None), *cells.T)]
    else:
        raise ObservationError(f"observation.spatial: '{kind}' is not a kind of scattered observation")
    values = clean.astype(np.float64).copy()
    if float(cfg.noise) > 0:
        scale_kind = str(getattr(cfg.noise_scale, "value", cfg.noise_scale))
        scale = float(np.abs(clean).max()) if scale_kind == "max" else float(np.sqrt(np.mean(np.square(clean))))
        values += float(cfg.noise) * scale * _rng(cfg.seed * 1_000_003 + sim_seed,
                                                  _NOISE_STREAM + stream).standard_normal(values.shape)
    points = np.concatenate([coords, np.asarray(times)[frames][:, None]], axis=1) if timed else coords
    return {"points": points.astype(np.float32), "frames": frames.astype(np.int32),
            "values": values.astype(np.float32), "clean": clean.astype(np.float32)}


def resample(values: np.ndarray, source: Extent, target_points: Sequence[np.ndarray]) -> np.ndarray:
    """Frames ``[T, C, *source.shape]`` read at the positions of another grid (``target_points``:
    one ``[*shape, dim]`` array, as ``PhysicalModel.sample_points``): ``[T, C, *shape]``."""
    points = np.asarray(target_points)
    flat = points.reshape(-1, points.shape[-1])
    out = interpolate(torch.as_tensor(values, dtype=torch.float64), source.first, source.spacing,
                      torch.as_tensor(flat, dtype=torch.float64), source.periodic, outside="zero")
    return out.reshape(*values.shape[:-len(source.shape)], *points.shape[:-1]).numpy().astype(np.float32)
