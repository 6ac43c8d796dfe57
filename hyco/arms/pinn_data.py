"""The PINN's view of the training data: trajectories as point sets, and seeded point samplers.

Every sampler takes a ``numpy.random.Generator`` from the trainer (seeded by ``(seed, epoch)``),
so a resumed run draws exactly the points an uninterrupted one draws.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Tuple

import numpy as np
import torch

_CHUNK = 65536  # points per forward pass when reconstructing whole trajectories


class PINNData:
    """Observations, masks and clean truth of one split as ``[S, T, P, C]`` arrays (``P`` cells,
    ``C`` dynamic channels in the model's order) with their coordinates.

    Parameters
    ----------
    reader
        The data cache (``obs_<field>``, ``mask_<field>``, ``truth_<field>`` per simulation).
    model
        The physical model: fields, channels, box, ``dt`` and the boundaries.
    """

    def __init__(self, reader, model, split: str = "train") -> None:
        names = list(model.channels)
        self.slices: Dict[str, slice] = {}
        start = 0
        for name in names:
            self.slices[name] = slice(start, start + model.channels[name])
            start += model.channels[name]
        self.channels = start
        self.num_sims = reader.num_sims(split)
        if self.num_sims == 0:
            raise ValueError(f"the PINN needs training simulations; split '{split}' has none")
        sims = [reader.load(split, i) for i in range(self.num_sims)]

        def stack(prefix: str, repeat: bool = False) -> np.ndarray:
            arr = np.stack([np.concatenate([np.repeat(s[f"{prefix}_{n}"], model.channels[n], 1) if repeat
                                            else s[f"{prefix}_{n}"] for n in names], axis=1) for s in sims])
            s_, t_, c_ = arr.shape[:3]
            return np.ascontiguousarray(arr.reshape(s_, t_, c_, -1).transpose(0, 1, 3, 2)).astype(np.float32)

        self.obs, self.mask, self.truth = stack("obs"), stack("mask", repeat=True), stack("truth")
        self.num_frames = self.obs.shape[1]
        self.centres = np.stack([c.ravel() for c in model.cell_centres()], axis=1).astype(np.float32)
        self.times = (np.arange(self.num_frames) * model.dt).astype(np.float32)
        self.duration = float(self.times[-1])
        self.dim = model.dim
        # the box the walls bound: a node layout's first and last nodes lie on them
        lower, size = getattr(model, "node_box", (model.domain_origin, model.domain_size))
        self.lower, self.size = float(lower), float(size)
        dynamic = [s for s in model.field_specs if s.role == "dynamic"]
        self.periodic = [all(s.boundary[d] == "periodic" for s in dynamic) for d in range(self.dim)]
        # (channels, axis, kind) of every non-periodic wall condition
        self.walls: List[Tuple[slice, int, str]] = [(self.slices[s.name], d, s.boundary[d])
                                                    for s in dynamic for d in range(self.dim)
                                                    if s.boundary[d] != "periodic"]
        observed = self.mask.any(axis=3)
        observed[:, 0] = False  # the initial frame has its own term
        self.observed_index = np.flatnonzero(observed)
        if self.observed_index.size == 0:
            raise ValueError("the PINN has no observed point after the initial frame to fit")
        self.device = torch.device("cpu")
        self._tensors: Dict[str, torch.Tensor] = {}

    def to(self, device: torch.device) -> "PINNData":
        self.device = torch.device(device)
        self._tensors = {}
        return self

    def _t(self, name: str) -> torch.Tensor:
        if name not in self._tensors:
            self._tensors[name] = torch.from_numpy(getattr(self, name)).to(self.device)
        return self._tensors[name]

    def _coords(self, p: np.ndarray, t: np.ndarray) -> torch.Tensor:
        xyz = np.concatenate([self.centres[p], self.times[t][:, None]], axis=1)
        return torch.from_numpy(xyz).to(self.device)

    def _sims(self, s: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(s, dtype=np.int64)).to(self.device)

    # ------------------------------------------------------------------ samplers
    def observed_batch(self, rng: np.random.Generator, count: int) -> Tuple[torch.Tensor, ...]:
        """``count`` observed points (with replacement; ``count = 0``: every one, once): coords, sims,
        observations, masks ``[n, C]``."""
        flat = (self.observed_index if count == 0
                else self.observed_index[rng.integers(0, self.observed_index.size, size=count)])
        s, t, p = np.unravel_index(flat, self.obs.shape[:3])
        index = torch.from_numpy(flat).to(self.device)
        obs = self._t("obs").reshape(-1, self.channels)[index]
        mask = self._t("mask").reshape(-1, self.channels)[index]
        return self._coords(p, t), self._sims(s), obs, mask

    def initial_batch(self, rng: np.random.Generator, count: int) -> Tuple[torch.Tensor, ...]:
        """``count`` points of the initial frame: coords, sims, values ``[n, C]``."""
        s = rng.integers(0, self.num_sims, size=count)
        p = rng.integers(0, self.centres.shape[0], size=count)
        values = self._t("obs")[self._sims(s), 0, torch.from_numpy(p).to(self.device)]
        return self._coords(p, np.zeros(count, dtype=np.int64)), self._sims(s), values

    def collocation(self, rng: np.random.Generator, count: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """``count`` points uniform over the box, ``[0, duration]`` and the simulations."""
        x = self.lower + self.size * rng.random((count, self.dim))
        t = self.duration * rng.random((count, 1))
        coords = torch.from_numpy(np.concatenate([x, t], axis=1).astype(np.float32)).to(self.device)
        return coords, self._sims(rng.integers(0, self.num_sims, size=count))

    def wall_points(self, rng: np.random.Generator, count: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``count`` points on the walls of :attr:`walls` (uniform over conditions and sides):
        coords, sims and the index of the condition each point tests."""
        which = rng.integers(0, len(self.walls), size=count)
        side = rng.integers(0, 2, size=count)
        x = self.lower + self.size * rng.random((count, self.dim))
        axes = np.array([self.walls[k][1] for k in which])
        x[np.arange(count), axes] = self.lower + self.size * side
        t = self.duration * rng.random((count, 1))
        coords = torch.from_numpy(np.concatenate([x, t], axis=1).astype(np.float32)).to(self.device)
        return coords, self._sims(rng.integers(0, self.num_sims, size=count)), torch.from_numpy(which).to(self.device)

    def reconstruction_chunks(self) -> Iterator[Tuple[torch.Tensor, ...]]:
        """All points of frames ``t >= 1`` in chunks: coords, sims, truth ``[n, C]`` and the weight
        of each entry (1 where unobserved; everywhere 1 when nothing was left unobserved)."""
        shape = self.obs.shape[:3]
        flat = np.arange(int(np.prod(shape)))
        s, t, p = np.unravel_index(flat, shape)
        keep = t >= 1
        s, t, p, flat = s[keep], t[keep], p[keep], flat[keep]
        truth = self.truth.reshape(-1, self.channels)[flat]
        unobserved = 1.0 - self.mask.reshape(-1, self.channels)[flat]
        if unobserved.sum() == 0:
            unobserved = np.ones_like(unobserved)
        for lo in range(0, flat.size, _CHUNK):
            sl = slice(lo, lo + _CHUNK)
            yield (self._coords(p[sl], t[sl]), self._sims(s[sl]), torch.from_numpy(truth[sl]).to(self.device),
                   torch.from_numpy(unobserved[sl]).to(self.device))


class ScatteredPINNData(PINNData):
    """The PINN's view of scattered observations (a reconstruction problem): the observed points
    and their values, the known initial frame on the learner's grid, and the clean truth on that
    grid to score the reconstruction (every point of frames ``t >= 1``). On a static problem
    (``timed`` False): points without time, every observed point fitted (no initial frame), and the
    reconstruction scored on the reference grid as the other players are."""

    def __init__(self, data, model) -> None:
        self.data = data
        self.timed = bool(data.timed)
        names = list(model.channels)
        self.slices = {n: data.channels[n] for n in names}
        self.channels = sum(model.channels.values())
        self.num_sims = int(data.x0.shape[0])
        self.num_frames = data.num_frames
        # [S, T, P, C] like the grid case: the truth on the learner's grid, the IC from it
        truth = data.truth.numpy()
        s_, t_, c_ = truth.shape[:3]
        self.truth = np.ascontiguousarray(truth.reshape(s_, t_, c_, -1).transpose(0, 1, 3, 2)).astype(np.float32)
        self.obs = self.truth  # the initial frame (known) is read from here; later frames never are
        self.mask = np.ones_like(self.truth)  # nothing held out: every grid point scores the reconstruction
        self.centres = np.stack([c.ravel() for c in model.cell_centres()], axis=1).astype(np.float32)
        self.times = data.times.numpy().astype(np.float32)
        self.duration = float(self.times[-1])
        self.dim = model.dim
        lower, size = getattr(model, "node_box", (model.domain_origin, model.domain_size))
        self.lower, self.size = float(lower), float(size)
        dynamic = [s for s in model.field_specs if s.role == "dynamic"]
        self.periodic = [all(s.boundary[d] == "periodic" for s in dynamic) for d in range(self.dim)]
        self.walls = [(self.slices[s.name], d, s.boundary[d]) for s in dynamic for d in range(self.dim)
                      if s.boundary[d] != "periodic"]
        coords, sims, values, masks = [], [], [], []
        for obs in data.observed.values():
            keep = (obs.frames >= data.first).numpy()  # the initial frame has its own term
            value = np.zeros((int(keep.sum()), self.channels), dtype=np.float32)
            mask = np.zeros_like(value)
            value[:, obs.channels] = obs.values.numpy()[keep]
            mask[:, obs.channels] = 1.0
            coords.append(obs.points.numpy()[keep].astype(np.float32))
            sims.append(obs.sims.numpy()[keep])
            values.append(value)
            masks.append(mask)
        self.point_coords = np.concatenate(coords)
        self.point_sims = np.concatenate(sims).astype(np.int64)
        self.point_values = np.concatenate(values)
        self.point_masks = np.concatenate(masks)
        if len(self.point_coords) == 0:
            raise ValueError("the PINN has no observed point after the initial frame to fit")
        self.observed_index = np.arange(len(self.point_coords))
        self.device = torch.device("cpu")
        self._tensors = {}

    def observed_batch(self, rng: np.random.Generator, count: int) -> Tuple[torch.Tensor, ...]:
        """``count`` observed points (with replacement; ``count = 0``: every one, once): coords,
        sims, values, masks ``[n, C]``."""
        pick = np.arange(len(self.point_coords)) if count == 0 else rng.integers(0, len(self.point_coords), size=count)
        return (torch.from_numpy(self.point_coords[pick]).to(self.device), self._sims(self.point_sims[pick]),
                torch.from_numpy(self.point_values[pick]).to(self.device),
                torch.from_numpy(self.point_masks[pick]).to(self.device))

    # ------------------------------------------------------------------ without time (static problems)
    def _space_time(self, x: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        if self.timed:
            x = np.concatenate([x, self.duration * rng.random((len(x), 1))], axis=1)
        return torch.from_numpy(x.astype(np.float32)).to(self.device)

    def collocation(self, rng: np.random.Generator, count: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """``count`` points uniform over the box (and ``[0, duration]`` unless static)."""
        x = self.lower + self.size * rng.random((count, self.dim))
        return self._space_time(x, rng), self._sims(rng.integers(0, self.num_sims, size=count))

    def wall_points(self, rng: np.random.Generator, count: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``count`` points on the walls of :attr:`walls` (uniform over conditions and sides)."""
        which = rng.integers(0, len(self.walls), size=count)
        side = rng.integers(0, 2, size=count)
        x = self.lower + self.size * rng.random((count, self.dim))
        axes = np.array([self.walls[k][1] for k in which])
        x[np.arange(count), axes] = self.lower + self.size * side
        coords = self._space_time(x, rng)
        return coords, self._sims(rng.integers(0, self.num_sims, size=count)), torch.from_numpy(which).to(self.device)

    def reconstruction_chunks(self) -> Iterator[Tuple[torch.Tensor, ...]]:
        """Time-dependent: as :class:`PINNData` on the learner's grid. Static: every point of the
        reference grid the other players are scored on (weights 1)."""
        if self.timed:
            yield from super().reconstruction_chunks()
            return
        for coords, values in self.data.reference_points(_CHUNK):
            values = values.to(self.device)
            yield (coords.to(self.device), torch.zeros(len(coords), dtype=torch.long, device=self.device), values,
                   torch.ones_like(values))
