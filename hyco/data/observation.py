"""Observation operator: what of the simulated truth a researcher gets to see.

The truth of one simulation is, per field, a trajectory ``[T, C, *spatial]``. The operator hides
part of it behind a spatial mask (full domain, a sub-box, random sensor points inside a box, fixed
or moving from frame to frame) and a temporal mask (all frames, every k-th frame, the first or
last share of frames) and adds relative Gaussian noise to what remains. ``observation.fields``
names the observed fields (empty: all dynamic fields); the others are not observed at all.
Frame 0 is always observed in full and without noise: the initial conditions are known, which is
what lets both models be rolled out from them.

Everything is deterministic: the sensor set depends only on ``observation.seed`` (the same
sensors for every simulation, as for a fixed measurement network; moving sensors draw one set
per frame from the same seed), and the noise of a simulation only on ``observation.seed``, that
simulation's IC seed and the field's index, so it does not depend on which generation batch the
simulation happened to be in.
"""

from __future__ import annotations

import math as pymath
from typing import Any, Sequence, Tuple

import numpy as np

from hyco.config.schema import SCATTERED_KINDS
from hyco.errors import ObservationError

#: spatial kinds whose observations are scattered points, not grid cells (hyco.data.points)
POINT_KINDS = SCATTERED_KINDS

# tags that separate the random streams drawn from the same observation seed
_SENSOR_STREAM = 0x5E4504
_NOISE_STREAM = 0x4015E


def _enum_value(x: Any) -> Any:
    """Enums arrive as Enum members (structured configs) or plain strings (dicts)."""
    return getattr(x, "value", x)


def _seed_entropy(x: int) -> int:
    """SeedSequence wants non-negative entropy; fold negative seeds into the upper range."""
    return int(x) % (1 << 63)


class ObservationOperator:
    """Spatial + temporal mask and relative noise applied to one simulated trajectory.

    Parameters
    ----------
    cfg
        An ``ObservationConfig`` (dataclass, DictConfig or anything with the same attributes).
    spatial_shape
        The spatial shape of the stored arrays, e.g. ``(64,)`` or ``(32, 32)``.
    num_frames
        Number of frames ``T`` of every trajectory, including frame 0.

    Attributes
    ----------
    spatial_mask : np.ndarray
        bool ``[*spatial]``, True where a point is observed (in frames that are observed); with
        moving sensors ``[T, *spatial]``, one set per frame.
    temporal_mask : np.ndarray
        bool ``[T]``, True for observed frames; ``temporal_mask[0]`` is always True.
    mask : np.ndarray
        uint8 ``[T, 1, *spatial]``: 1 where observed; frame 0 is all ones.
    """

    def __init__(self, cfg: Any, spatial_shape: Sequence[int], num_frames: int) -> None:
        self.spatial_shape: Tuple[int, ...] = tuple(int(n) for n in spatial_shape)
        self.num_frames = int(num_frames)
        if self.num_frames < 1:
            raise ObservationError(f"num_frames must be >= 1, got {num_frames}")
        self.spatial_kind: str = str(_enum_value(cfg.spatial))
        self.temporal_kind: str = str(_enum_value(cfg.temporal))
        self.noise = float(cfg.noise)
        self.seed = int(cfg.seed)
        if self.noise < 0:
            raise ObservationError(f"observation.noise: must be >= 0, got {self.noise}")
        self.moving = self.spatial_kind == "sensors" and bool(getattr(cfg, "moving_sensors", False))
        self.spatial_mask = self._build_spatial_mask(cfg)
        self.temporal_mask = self._build_temporal_mask(cfg)
        spatial_mask = self.spatial_mask if self.moving else self.spatial_mask[None]
        mask = self.temporal_mask[(slice(None),) + (None,) * len(self.spatial_shape)] & spatial_mask
        mask[0] = True  # initial conditions are known in full
        self.mask: np.ndarray = mask[:, None].astype(np.uint8)

    # ---------------------------------------------------------------------------------------
    # masks
    # ---------------------------------------------------------------------------------------
    def _build_spatial_mask(self, cfg: Any) -> np.ndarray:
        shape = self.spatial_shape
        kind = self.spatial_kind
        if kind == "full":
            return np.ones(shape, dtype=bool)
        if kind in POINT_KINDS:  # off-grid points (hyco.data.points): nothing is seen on the grid
            return np.zeros(shape, dtype=bool)
        if kind in ("box", "sensors"):
            region = self._box(cfg)
            if kind == "box":
                return region
            return self._sensors(cfg, region)
        raise ObservationError(f"observation.spatial: unknown kind '{kind}' (full | box | sensors | lattice | tuples | "
                               "uniform)")

    def _box(self, cfg: Any) -> np.ndarray:
        """The cells of the box ``box_lower..box_upper`` (fractions of the domain per axis)."""
        shape = self.spatial_shape
        if not list(cfg.box_lower) and not list(cfg.box_upper):
            return np.ones(shape, dtype=bool)  # no box given: the whole domain
        lower, upper = list(cfg.box_lower), list(cfg.box_upper)
        if len(lower) != len(shape) or len(upper) != len(shape):
            raise ObservationError(
                f"observation.box_lower/box_upper: need {len(shape)} fractions for a "
                f"{len(shape)}D grid, got {lower} / {upper}"
            )
        index = []
        for n, lo, hi in zip(shape, lower, upper):
            if not 0.0 <= lo < hi <= 1.0:
                raise ObservationError(
                    f"observation.box_lower/box_upper: need 0 <= lower < upper <= 1, got {lo} / {hi}"
                )
            # cells whose index range [i, i+1) overlaps [lo*n, hi*n); the epsilon keeps exact
            # fractions (0.5 of 16 cells) from gaining a cell through rounding error
            start = int(pymath.floor(lo * n + 1e-9))
            stop = max(start + 1, int(pymath.ceil(hi * n - 1e-9)))
            index.append(slice(start, min(stop, n)))
        mask = np.zeros(shape, dtype=bool)
        mask[tuple(index)] = True
        return mask

    def _sensors(self, cfg: Any, region: np.ndarray) -> np.ndarray:
        """``num_sensors`` random cells inside ``region``: one set, or one per frame if moving."""
        cells = np.flatnonzero(region)
        count = int(cfg.num_sensors)
        if not 1 <= count <= cells.size:
            raise ObservationError(
                f"observation.num_sensors: must be in [1, {cells.size}] (cells of the sensor region "
                f"box_lower/box_upper on the grid {list(self.spatial_shape)}), got {count}"
            )
        rng = np.random.default_rng(np.random.SeedSequence([_seed_entropy(self.seed), _SENSOR_STREAM]))
        sets = self.num_frames if self.moving else 1
        masks = np.zeros((sets, region.size), dtype=bool)
        for t in range(sets):
            masks[t, rng.choice(cells, size=count, replace=False)] = True
        masks = masks.reshape((sets, *self.spatial_shape))
        return masks if self.moving else masks[0]

    def _build_temporal_mask(self, cfg: Any) -> np.ndarray:
        t = self.num_frames
        kind = self.temporal_kind
        mask = np.zeros(t, dtype=bool)
        if kind == "all":
            mask[:] = True
        elif kind == "every_k":
            k = int(cfg.every_k)
            if k < 1:
                raise ObservationError(f"observation.every_k: must be >= 1, got {k}")
            mask[::k] = True
        elif kind in ("first", "last"):
            fraction = float(cfg.fraction)
            if not 0.0 < fraction <= 1.0:
                raise ObservationError(f"observation.fraction: must be in (0, 1], got {fraction}")
            count = max(1, int(pymath.ceil(fraction * t - 1e-9)))
            if kind == "first":
                mask[:count] = True
            else:
                mask[t - count:] = True
        else:
            raise ObservationError(f"observation.temporal: unknown kind '{kind}' (all | every_k | first | last)")
        mask[0] = True
        return mask

    @property
    def observed_fraction(self) -> float:
        """Share of (frame, point) pairs observed, frame 0 included."""
        return float(self.mask.mean())

    def describe(self) -> dict:
        """A small summary for metadata and logs."""
        return {
            "spatial": self.spatial_kind,
            "temporal": self.temporal_kind,
            "noise": self.noise,
            "observed_points": int(self.spatial_mask.sum()) // (self.num_frames if self.moving else 1),
            "moving_sensors": self.moving,
            "observed_frames": int(self.temporal_mask.sum()),
            "observed_fraction": self.observed_fraction,
        }

    # ---------------------------------------------------------------------------------------
    # application
    # ---------------------------------------------------------------------------------------
    def noise_rng(self, sim_seed: int, stream: int = 0) -> np.random.Generator:
        """The noise stream of one simulation (and field): a function of the seeds only."""
        entropy = [_seed_entropy(self.seed), _NOISE_STREAM, _seed_entropy(sim_seed), int(stream)]
        return np.random.default_rng(np.random.SeedSequence(entropy))

    def apply(self, truth: np.ndarray, sim_seed: int, stream: int = 0) -> Tuple[np.ndarray, np.ndarray]:
        """Observe one clean trajectory.

        Parameters
        ----------
        truth
            ``[T, C, *spatial]`` clean trajectory of one simulation.
        sim_seed
            The simulation's IC seed; it seeds the noise together with ``observation.seed``.
        stream
            Distinguishes the noise of several fields of the same simulation (field index).

        Returns
        -------
        obs, mask
            ``obs`` float32 ``[T, C, *spatial]``: truth plus noise of std ``noise * RMS(truth)``
            where observed, 0 elsewhere, frame 0 clean; ``mask`` uint8 ``[T, 1, *spatial]``.
        """
        truth = np.asarray(truth)
        expected = (self.num_frames,) + self.spatial_shape
        if truth.ndim != len(expected) + 1 or truth.shape[0] != expected[0] or truth.shape[2:] != expected[1:]:
            raise ObservationError(
                f"truth has shape {truth.shape}, expected [T={self.num_frames}, C, *{list(self.spatial_shape)}]"
            )
        obs = truth.astype(np.float64, copy=True)
        if self.noise > 0:
            rms = float(np.sqrt(np.mean(np.square(obs))))
            noise = self.noise_rng(sim_seed, stream).standard_normal(obs.shape)
            obs[1:] += (self.noise * rms) * noise[1:]  # frame 0 stays clean
        obs *= self.mask  # broadcasts over channels
        return obs.astype(np.float32), self.mask.copy()

