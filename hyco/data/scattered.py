"""The data of a reconstruction problem: trajectories observed at scattered points.

With ``observation.spatial=lattice|tuples|uniform`` (:mod:`hyco.data.points`) a run does not learn
from grid windows but from the observed points of its training trajectories, the papers' protocol:
both players reconstruct those trajectories, the physical one by rolling out from the known
initial state, the network as a field of space and time. :class:`ScatteredData` holds what the
players train on (initial states, the points and their values per observed field) and what the
reconstruction is scored against (the clean truth on the learner's grid and, where the truth was
simulated on a finer grid or ``data.reference_nodes`` asks for one, on that reference grid).

A static problem (:mod:`hyco.physics.static`) is the same with one frame and no time: its frame 0
is the solution, not a known initial state, so it is fitted and scored (:attr:`ScatteredData.first`
is 0 instead of 1), there is no initial state to give anyone (``x0`` is zeros), and points have no
time coordinate (``[N, dim]``: :attr:`ScatteredData.timed` is False).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

from hyco.data.cache import CacheReader
from hyco.data.training_data import static_inputs
from hyco.errors import ConfigError


@dataclass
class FieldPoints:
    """One field's observations: ``points [N, dim + 1]`` (coordinates, time), the ``frame`` and
    training simulation (``sim``) of each, and the observed ``values [N, C]``."""

    points: torch.Tensor
    frames: torch.Tensor
    sims: torch.Tensor
    values: torch.Tensor
    channels: slice


@dataclass
class ScatteredData:
    """The training trajectories of a reconstruction problem (module docstring)."""

    reader: CacheReader
    x0: torch.Tensor  # [S, C_in, *s] initial states (dynamic fields, then static inputs)
    observed: Dict[str, FieldPoints]
    truth: torch.Tensor  # [S, T, C, *s] clean, on the learner's grid
    times: torch.Tensor  # [T]
    fine: Optional[torch.Tensor] = None  # [S, T, C, *s_fine] the truth on its own grid, if finer
    fine_grid: Optional[Tuple[Tuple[float, ...], Tuple[float, ...]]] = None  # (first, spacing)
    channels: Dict[str, slice] = field(default_factory=dict)
    grid: Optional[Tuple[Tuple[float, ...], Tuple[float, ...]]] = None  # the learner's (first, spacing)
    static: bool = False  # one frame, the solution of a static model; points without time
    # a static problem's reference points and values, built once: they are scored every epoch
    _static_reference: Dict[int, List[Tuple[torch.Tensor, torch.Tensor]]] = field(default_factory=dict, repr=False,
                                                                                  compare=False)

    @property
    def timed(self) -> bool:
        """Whether points carry a time coordinate (``[N, dim + 1]``); not on a static problem."""
        return not self.static

    @property
    def first(self) -> int:
        """The first frame that is fitted and scored: 1 (frame 0 is the known initial state), or 0 on
        a static problem, whose one frame is the unknown solution."""
        return 0 if self.static else 1

    @classmethod
    def open(cls, cfg: Any, reader: CacheReader, split: str = "train") -> "ScatteredData":
        if not reader.metadata.get("scattered"):
            raise ConfigError("observation.spatial: this run's arm trains on scattered observations "
                              "(lattice or tuples); the data are observed on grid cells")
        count = reader.num_sims(split)
        if count == 0:
            raise ConfigError(f"data.num_{split}: a reconstruction problem needs at least one {split} trajectory")
        sims = [reader.load(split, i) for i in range(count)]
        names = reader.dynamic_fields
        sizes = [int(reader.fields[n]["channels"]) for n in names]
        offsets = np.cumsum([0, *sizes])
        channels = {n: slice(int(a), int(b)) for n, a, b in zip(names, offsets[:-1], offsets[1:])}
        inputs = static_inputs(cfg, reader.static_fields)
        keys = [("static_" if n in reader.static_fields else "param_") + n for n in inputs]
        static = bool(reader.metadata.get("static", False))
        x0 = [np.concatenate([s[f"truth_{n}"][0] for n in names] + [s[k] for k in keys]) for s in sims]
        if static:  # no initial state: frame 0 is what is to be found, never an input
            x0 = [np.zeros_like(x) for x in x0]
        truth = np.stack([np.concatenate([s[f"truth_{n}"] for n in names], axis=1) for s in sims])
        observed = {}
        for name in names:
            if f"points_{name}" not in sims[0]:
                continue  # a field that is not observed
            observed[name] = FieldPoints(
                torch.from_numpy(np.concatenate([s[f"points_{name}"] for s in sims])),
                torch.from_numpy(np.concatenate([s[f"frames_{name}"] for s in sims]).astype(np.int64)),
                torch.from_numpy(np.concatenate([np.full(len(s[f"frames_{name}"]), i) for i, s in enumerate(sims)])),
                torch.from_numpy(np.concatenate([s[f"values_{name}"] for s in sims])), channels[name])
        fine, fine_grid = None, None
        meta = reader.metadata.get("fine")
        if meta:
            fine = torch.from_numpy(np.stack([np.concatenate([s[f"fine_{n}"] for n in names], axis=1) for s in sims]))
            fine_grid = (tuple(meta["first"]), tuple(meta["spacing"]))
        times = torch.arange(reader.num_frames, dtype=torch.float32) * float(reader.metadata["dt"])
        from hyco.data.points import extent_of
        from hyco.physics.registry import build_physics

        extent = extent_of(build_physics(cfg.physics, cfg.data.ic), names[0])
        return cls(reader, torch.from_numpy(np.stack(x0)).float(), observed, torch.from_numpy(truth), times, fine,
                   fine_grid, channels, (extent.first, extent.spacing), static)

    @property
    def num_frames(self) -> int:
        return int(self.times.shape[0])

    def all_points(self) -> List[FieldPoints]:
        return list(self.observed.values())

    # ------------------------------------------------------------------ scoring a neural field
    def reference(self) -> Tuple[torch.Tensor, Tuple[Tuple[float, ...], Tuple[float, ...]]]:
        """The clean trajectory of training simulation 0 a reconstruction is scored against, on the
        truth's own grid when it was finer than the learner's: ``([T, C, *s], (first, spacing))``."""
        if self.fine is not None and self.fine_grid is not None:
            return self.fine[0], self.fine_grid
        assert self.grid is not None
        return self.truth[0], self.grid

    def with_time(self, space: torch.Tensor, t: int) -> torch.Tensor:
        """Spatial points ``[n, dim]`` as the players' inputs at frame ``t``: with the frame's time
        appended, or as they are on a static problem."""
        if not self.timed:
            return space
        return torch.cat([space, torch.full((len(space), 1), float(self.times[t]), dtype=space.dtype)], dim=1)

    def reference_points(self, chunk: int = 65536) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        """Every sample of :meth:`reference` at the scored frames (``first..T-1``) in chunks:
        ``(points [n, dim (+1)], values [n, C])`` (points in time-major order). A static problem's
        (one frame) are built once and the same tensors given every time, so that a reader can keep
        their interpolation weights."""
        if self.static:
            if chunk not in self._static_reference:
                self._static_reference[chunk] = list(self._reference_chunks(chunk))
            yield from self._static_reference[chunk]
            return
        yield from self._reference_chunks(chunk)

    def _reference_chunks(self, chunk: int) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        values, (first, spacing) = self.reference()
        shape = tuple(values.shape[2:])
        axes = [torch.as_tensor(f + s * np.arange(n), dtype=torch.float32) for f, s, n in zip(first, spacing, shape)]
        space = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(shape))
        flat = values.reshape(values.shape[0], values.shape[1], -1)  # [T, C, P]
        per_frame = max(1, chunk // max(1, len(space)))
        for lo in range(self.first, self.num_frames, per_frame):
            frames = range(lo, min(self.num_frames, lo + per_frame))
            points = torch.cat([self.with_time(space, t) for t in frames])
            yield points, torch.cat([flat[t].T for t in frames]).float()

    def field_error(self, predict: Callable[[torch.Tensor], torch.Tensor]) -> Dict[str, float]:
        """The reconstruction error of ``predict(points) -> [n, C]`` (a neural field, or a static
        solution read at points) over the scored frames of :meth:`reference`:
        :func:`reconstruction_scores`."""
        sq = None
        norm = None
        count = 0
        for points, values in self.reference_points():
            diff = (predict(points).detach().double().cpu() - values.double()).square().sum(0)
            sq = diff if sq is None else sq + diff
            norm = values.double().square().sum(0) if norm is None else norm + values.double().square().sum(0)
            count += len(points)
        return _scores(sq, norm, count)


def reconstruction_scores(pred: torch.Tensor, truth: torch.Tensor) -> Dict[str, float]:
    """``rel_l2`` (all channels together) and ``mse`` (the sum over channels of each one's mean
    squared error, the Gray–Scott paper's sum over u and v) of ``pred`` against ``truth``, both
    ``[..., C, *s]`` with the channel axis third from the left ([S, T, C, *s])."""
    diff = (pred.double() - truth.double()).square().transpose(0, 2).reshape(truth.shape[2], -1)
    norm = truth.double().square().transpose(0, 2).reshape(truth.shape[2], -1)
    return _scores(diff.sum(1), norm.sum(1), diff.shape[1])


def _scores(sq: Optional[torch.Tensor], norm: Optional[torch.Tensor], count: int) -> Dict[str, float]:
    if sq is None or norm is None or count == 0:
        return {"rel_l2": float("nan"), "mse": float("nan")}
    return {"rel_l2": float(np.sqrt(float(sq.sum()) / max(float(norm.sum()), 1e-300))),
            "mse": float((sq / count).sum())}
