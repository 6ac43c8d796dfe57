"""Lazy windowed dataset over the on-disk simulation cache.

A sample is one rollout window of ``K`` steps taken from one simulation of one split::

    initial_state  float32 [C_dyn + C_static, *spatial]   frame t (dynamic fields) + static inputs
    targets        float32 [K, C_dyn, *spatial]           frames t+1 .. t+K
    masks          float32 [K, C_dyn, *spatial]           1 where the target is observed (each
                                                          field's mask on its channels)

Memory stays bounded by ``max_cached_sims`` simulations per process: whole simulations are loaded
on demand through the reader and kept in a small LRU cache, never all at once. Under a
``DataLoader`` with workers every worker process holds its own LRU (and its own counters).
"""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from pathlib import Path
from typing import (
    Any,
    Dict,
    List,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    runtime_checkable,
)

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

log = logging.getLogger(__name__)

SOURCES = ("observed", "truth")


@runtime_checkable
class SimulationReader(Protocol):
    """What the dataset needs from a cache reader (``hyco.data.cache.CacheReader`` satisfies it).

    Implementations must be picklable (they travel to ``DataLoader`` workers) and cheap to
    pickle: paths and metadata only, no arrays.
    """

    @property
    def num_frames(self) -> int: ...

    @property
    def spatial_shape(self) -> Sequence[int]: ...

    def num_sims(self, split: str) -> int: ...

    def load(self, split: str, index: int) -> Dict[str, np.ndarray]: ...


def _frame_observed_from_mask(mask: np.ndarray) -> np.ndarray:
    """``[T, 1, *spatial]`` mask -> ``[T]`` bool: is the whole frame observed, i.e. observed
    wherever frame 0 (the initial condition, known in full) is — so the zero padding of a field
    smaller than the state's layout never counts as unobserved."""
    flat = np.asarray(mask).reshape(mask.shape[0], -1) != 0
    return (flat >= flat[:1]).all(axis=1)


class WindowDataset(Dataset):
    """Sliding rollout windows over the simulations of one split, loaded lazily.

    Parameters
    ----------
    reader
        A :class:`SimulationReader` (normally ``hyco.data.cache.CacheReader``).
    split
        ``"train"``, ``"val"`` or ``"test"``.
    rollout_steps
        ``K``, the number of target frames per window (``1 <= K <= num_frames - 1``).
    dynamic_fields
        Dynamic fields stacked along the channel axis, read from ``obs_<name>`` or
        ``truth_<name>``; default: the reader's ``dynamic_fields``.
    static_fields
        Static inputs appended to the input channels: a static field of the model
        (``static_<name>``, ``[C, *spatial]``) or a known parameter (``param_<name>``, its true
        value ``[1, *spatial]``).
    source
        ``"observed"``: inputs/targets from ``obs_*`` and masks from ``mask_<field>``;
        ``"truth"``: clean ``truth_*`` arrays and masks of ones.
    window_stride
        Candidate starts are ``0, stride, 2*stride, ... <= T-1-K``.
    max_cached_sims
        Size of this process's LRU cache of loaded simulations.

    Notes
    -----
    Start policy: a window may start at frame ``t`` only if frame ``t`` is fully observed (its
    mask is all ones), because an incomplete state cannot seed a rollout. Frame 0 (the known
    initial condition) always qualifies; with ``source="truth"`` every candidate does.

    The index ``i -> (sim, start)`` is built at construction from the masks alone: per
    simulation only the ``mask`` member of its ``.npz`` file is read (uint8, about 1/16 of the
    sim's bytes) and reduced to one bool per frame, so all sims are never resident together.
    Readers without a ``path`` fall back to ``reader.load`` one simulation at a time (each
    dropped right away). ``source="truth"`` needs no I/O at all. The stored index is two int64
    arrays.
    """

    def __init__(
        self,
        reader: SimulationReader,
        split: str,
        rollout_steps: int,
        dynamic_fields: Optional[Sequence[str]] = None,
        static_fields: Optional[Sequence[str]] = None,
        source: str = "observed",
        window_stride: int = 1,
        max_cached_sims: int = 8,
    ) -> None:
        if source not in SOURCES:
            raise ValueError(f"source: must be one of {SOURCES}, got {source!r}")
        num_frames = int(reader.num_frames)
        if not 1 <= rollout_steps <= num_frames - 1:
            raise ValueError(
                f"rollout_steps: must be in [1, num_frames-1={num_frames - 1}], got {rollout_steps}"
            )
        if window_stride < 1:
            raise ValueError(f"window_stride: must be >= 1, got {window_stride}")
        if max_cached_sims < 1:
            raise ValueError(f"max_cached_sims: must be >= 1, got {max_cached_sims}")
        self.reader = reader
        self.split = split
        self.rollout_steps = int(rollout_steps)
        self.dynamic_fields: List[str] = list(dynamic_fields or getattr(reader, "dynamic_fields", None) or [])
        if not self.dynamic_fields:
            raise ValueError("dynamic_fields: none given and the reader names none")
        self.static_fields: List[str] = list(static_fields) if static_fields else []
        self.source = source
        self.window_stride = int(window_stride)
        self.max_cached_sims = int(max_cached_sims)
        self.num_frames = num_frames
        self.spatial_shape: Tuple[int, ...] = tuple(int(n) for n in reader.spatial_shape)
        prefix = "obs_" if source == "observed" else "truth_"
        self._dynamic_keys = [prefix + name for name in self.dynamic_fields]
        known_static = set(getattr(reader, "static_fields", []) or [])
        self._static_keys = [("static_" if name in known_static else "param_") + name for name in self.static_fields]
        self._mask_keys = ["mask_" + name for name in self.dynamic_fields]
        # Only what __getitem__ reads is kept resident: truth arrays are dropped for observed
        # data (and vice versa), which halves the cache's footprint.
        self._keep_keys = set(self._dynamic_keys) | set(self._static_keys)
        if source == "observed":
            self._keep_keys |= set(self._mask_keys)
        self._cache: "OrderedDict[int, Dict[str, np.ndarray]]" = OrderedDict()
        self.hits = 0
        self.misses = 0
        self._sims, self._starts = self._build_index()

    # ---------------------------------------------------------------------------------- index
    @property
    def sim_count(self) -> int:
        """Number of simulations in the split."""
        return int(self.reader.num_sims(self.split))

    def _candidate_starts(self) -> np.ndarray:
        return np.arange(0, self.num_frames - self.rollout_steps, self.window_stride, dtype=np.int64)

    def _frame_observed(self, index: int) -> np.ndarray:
        """``[T]`` bool for one simulation, reading as little as the reader allows."""
        root = getattr(self.reader, "path", None)
        if root is not None:
            file = Path(root) / f"{self.split}_{index:05d}.npz"
            if file.is_file():
                # An npz is a zip archive: indexing one member reads (and unzips) that member only.
                with np.load(file, allow_pickle=False) as archive:
                    if all(k in archive.files for k in self._mask_keys):
                        return np.all([_frame_observed_from_mask(archive[k]) for k in self._mask_keys], axis=0)
        arrays = self.reader.load(self.split, index)
        missing = [k for k in self._mask_keys if k not in arrays]
        if missing:
            raise KeyError(f"{self.split} simulation {index}: no {missing} array; keys {sorted(arrays)}")
        return np.all([_frame_observed_from_mask(arrays[k]) for k in self._mask_keys], axis=0)

    def _build_index(self) -> Tuple[np.ndarray, np.ndarray]:
        candidates = self._candidate_starts()
        sims: List[np.ndarray] = []
        starts: List[np.ndarray] = []
        for sim in range(self.sim_count):
            if self.source == "truth":
                valid = candidates
            else:
                observed = self._frame_observed(sim)
                if observed.shape[0] != self.num_frames:
                    raise ValueError(
                        f"{self.split} simulation {sim}: mask has {observed.shape[0]} frames, "
                        f"the reader says {self.num_frames}"
                    )
                if not observed[0]:
                    # The contract makes frame 0 the full initial condition; say so if it is not.
                    log.warning("%s simulation %d: frame 0 is not fully observed", self.split, sim)
                valid = candidates[observed[candidates]]
            sims.append(np.full(valid.shape, sim, dtype=np.int64))
            starts.append(valid)
        if not sims:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(sims), np.concatenate(starts)

    def __len__(self) -> int:
        return int(self._sims.shape[0])

    @property
    def window_sims(self) -> np.ndarray:
        """Simulation index of every window (read-only view, ascending)."""
        view = self._sims.view()
        view.flags.writeable = False
        return view

    def window_index(self, i: int) -> Tuple[int, int]:
        """``(simulation index, start frame)`` of window ``i``."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"window {i} out of range for {n} windows")
        return int(self._sims[i]), int(self._starts[i])

    # ---------------------------------------------------------------------------------- cache
    @property
    def resident(self) -> int:
        """Number of simulations currently held by this process's LRU cache."""
        return len(self._cache)

    def cache_info(self) -> Dict[str, int]:
        """Counters of this process (each DataLoader worker keeps its own)."""
        return {
            "hits": self.hits,
            "misses": self.misses,
            "resident": self.resident,
            "max_cached_sims": self.max_cached_sims,
        }

    def clear_cache(self) -> None:
        """Drop every resident simulation (counters are kept)."""
        self._cache.clear()

    def _load_sim(self, sim: int) -> Dict[str, np.ndarray]:
        arrays = self.reader.load(self.split, sim)
        missing = sorted(self._keep_keys - set(arrays))
        if missing:
            raise KeyError(
                f"{self.split} simulation {sim}: missing arrays {missing}; available {sorted(arrays)}"
            )
        kept = {k: arrays[k] for k in self._keep_keys}
        for key in self._dynamic_keys + [k for k in self._mask_keys if k in kept]:
            if kept[key].shape[0] != self.num_frames or tuple(kept[key].shape[2:]) != self.spatial_shape:
                raise ValueError(
                    f"{self.split} simulation {sim}: {key} has shape {kept[key].shape}, expected "
                    f"[{self.num_frames}, C, {', '.join(map(str, self.spatial_shape))}]"
                )
        return kept

    def _get_sim(self, sim: int) -> Dict[str, np.ndarray]:
        arrays = self._cache.get(sim)
        if arrays is not None:
            self.hits += 1
            self._cache.move_to_end(sim)
            return arrays
        self.misses += 1
        # Evict before loading so at most max_cached_sims are held plus the one in flight.
        while len(self._cache) >= self.max_cached_sims:
            self._cache.popitem(last=False)
        arrays = self._load_sim(sim)
        self._cache[sim] = arrays
        return arrays

    # ---------------------------------------------------------------------------------- items
    def __getitem__(self, i: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        sim, t = self.window_index(int(i))
        arrays = self._get_sim(sim)
        k = self.rollout_steps
        inputs = [arrays[key][t] for key in self._dynamic_keys] + [arrays[key] for key in self._static_keys]
        # np.concatenate and the slices below copy: returned tensors never alias the cache, so
        # in-place edits by a caller cannot corrupt later samples.
        initial = np.concatenate(inputs, axis=0).astype(np.float32, copy=False)
        targets = np.concatenate([arrays[key][t + 1 : t + 1 + k] for key in self._dynamic_keys], axis=1)
        targets = targets.astype(np.float32, copy=False)
        if self.source == "observed":
            # each field's mask on each of its channels: a field may be observed where another is not
            masks = np.concatenate([np.repeat(arrays[m][t + 1 : t + 1 + k], arrays[d].shape[1], axis=1)
                                    for m, d in zip(self._mask_keys, self._dynamic_keys)], axis=1)
            masks = masks.astype(np.float32)
        else:
            masks = np.ones(targets.shape, dtype=np.float32)
        return torch.from_numpy(initial), torch.from_numpy(targets), torch.from_numpy(masks)

    def __repr__(self) -> str:
        return (
            f"WindowDataset(split={self.split!r}, sims={self.sim_count}, windows={len(self)}, "
            f"K={self.rollout_steps}, source={self.source!r}, stride={self.window_stride}, "
            f"max_cached_sims={self.max_cached_sims})"
        )

    def __getstate__(self) -> Dict[str, Any]:
        # Workers started by pickling (spawn) begin with an empty cache and zero counters rather
        # than a copy of whatever the parent had loaded.
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()
        state["hits"] = 0
        state["misses"] = 0
        return state


class SimBlockSampler(Sampler[int]):
    """A shuffle that keeps a small LRU cache useful.

    Each epoch the simulations are put in random order and cut into blocks of ``block_sims``;
    the windows of one block are shuffled together and the blocks follow each other. With
    ``block_sims <= max_cached_sims`` every simulation is loaded about once per epoch (per
    worker) instead of on almost every sample, at the price of batches drawn from
    ``block_sims`` simulations at a time instead of from all.

    Parameters
    ----------
    window_sims
        Simulation index of every window (``WindowDataset.window_sims``).
    block_sims
        Simulations per block.
    generator
        Source of randomness (seeded by the caller).
    """

    def __init__(self, window_sims: np.ndarray, block_sims: int, generator: Optional[torch.Generator] = None) -> None:
        if block_sims < 1:
            raise ValueError(f"block_sims: must be >= 1, got {block_sims}")
        sims = np.asarray(window_sims, dtype=np.int64)
        order = np.argsort(sims, kind="stable")
        self._ids, first = np.unique(sims[order], return_index=True)
        self._groups = np.split(order, first[1:]) if len(sims) else []
        self.block_sims = int(block_sims)
        self.generator = generator
        self._len = int(len(sims))

    def __len__(self) -> int:
        return self._len

    def __iter__(self):
        sim_order = torch.randperm(len(self._groups), generator=self.generator).tolist()
        for b in range(0, len(sim_order), self.block_sims):
            block = np.concatenate([self._groups[j] for j in sim_order[b : b + self.block_sims]])
            perm = torch.randperm(len(block), generator=self.generator).numpy()
            yield from block[perm].tolist()


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed numpy and ``random`` from the worker's torch seed.

    Torch already gives each worker ``base_seed + worker_id`` (base seed drawn from the
    loader's generator), so worker streams are distinct and reproducible for a given seed.
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int,
    num_workers: int = 0,
    persistent_workers: Optional[bool] = None,
    drop_last: bool = False,
    block_sims: Optional[int] = None,
) -> DataLoader:
    """A reproducible ``DataLoader``: the shuffle order and worker seeds come from ``seed``.

    ``persistent_workers`` defaults to ``num_workers > 0`` so each worker keeps its LRU cache of
    simulations across epochs; memory is pinned only when CUDA is present. With ``shuffle`` and
    ``block_sims`` (typically ``max_cached_sims``) the order comes from :class:`SimBlockSampler`
    instead of a uniform permutation: far fewer loads when the split has many more simulations
    than the cache holds (see ``experiments/bench_data.py``).
    """
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    if persistent_workers is None:
        persistent_workers = num_workers > 0
    sampler = None
    if shuffle and block_sims is not None:
        sampler = SimBlockSampler(dataset.window_sims, block_sims, generator)  # type: ignore[attr-defined]
        shuffle = False  # the sampler shuffles
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        sampler=sampler,
        num_workers=num_workers,
        persistent_workers=bool(persistent_workers) and num_workers > 0,
        pin_memory=torch.cuda.is_available(),
        drop_last=drop_last,
        generator=generator,
        worker_init_fn=seed_worker,
    )
