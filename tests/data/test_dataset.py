"""WindowDataset: index, content, start policy, LRU bound, DataLoader workers (real .npz I/O)."""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pytest
import torch

from hyco.data.dataset import SimBlockSampler, SimulationReader, WindowDataset, make_loader

RES = (4, 5)
C = 2


class FakeReader:
    """Writes and reads ``{split}_{index:05d}.npz`` with the contract's array names.

    ``masks`` maps a frame to its ``[1, *spatial]`` mask (frames not listed: fully observed).
    Counts full loads so tests can see what the dataset reads. Picklable: paths and ints only.
    """

    def __init__(self, root: Path, sims: int, frames: int, masks: Optional[Dict[int, np.ndarray]] = None,
                 statics: Sequence[tuple] = (), split: str = "train") -> None:
        self.path = Path(root)
        self.dynamic_fields = ["velocity"]
        self.static_fields = [name for name, _ in statics]
        self.num_frames = frames
        self.spatial_shape = RES
        self._counts = {split: sims}
        self.loads = 0
        rng = np.random.default_rng(0)
        for i in range(sims):
            # sim*1000 + frame*10 + channel, plus a spatial ramp: every window is distinguishable
            base = (i * 1000 + np.arange(frames)[:, None] * 10 + np.arange(C)[None, :]).astype(np.float32)
            ramp = np.arange(np.prod(RES), dtype=np.float32).reshape(RES) / 100.0
            truth = base[:, :, None, None] + ramp
            mask = np.ones((frames, 1, *RES), np.uint8)
            for frame, m in (masks or {}).items():
                mask[frame] = m
            obs = ((truth + rng.normal(0, 0.01, truth.shape)) * mask).astype(np.float32)
            obs[0] = truth[0]
            arrays = {"truth_velocity": truth, "obs_velocity": obs, "mask_velocity": mask, "seed": np.int64(i)}
            for name, ch in statics:
                arrays[f"static_{name}"] = np.full((ch, *RES), 100 * i + ch, np.float32)
            np.savez(self.path / f"{split}_{i:05d}.npz", **arrays)

    def num_sims(self, split: str) -> int:
        return self._counts.get(split, 0)

    def load(self, split: str, index: int) -> Dict[str, np.ndarray]:
        self.loads += 1
        with np.load(self.path / f"{split}_{index:05d}.npz", allow_pickle=False) as z:
            return {k: z[k] for k in z.files}


class NoPathReader:
    """The same files behind a reader without ``path``: the dataset must fall back to ``load``."""

    def __init__(self, inner: FakeReader) -> None:
        self._inner = inner
        self.dynamic_fields = inner.dynamic_fields
        self.static_fields = inner.static_fields
        self.num_frames = inner.num_frames
        self.spatial_shape = inner.spatial_shape
        self.loads = 0

    def num_sims(self, split: str) -> int:
        return self._inner.num_sims(split)

    def load(self, split: str, index: int) -> Dict[str, np.ndarray]:
        self.loads += 1
        return self._inner.load(split, index)


def _raw(reader: FakeReader, sim: int) -> Dict[str, np.ndarray]:
    with np.load(reader.path / f"train_{sim:05d}.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def test_fake_reader_satisfies_protocol(tmp_path: Path) -> None:
    assert isinstance(FakeReader(tmp_path, 1, 3), SimulationReader)


def test_lru_never_exceeds_bound_and_counters_add_up(tmp_path: Path) -> None:
    reader = FakeReader(tmp_path, sims=20, frames=5)
    ds = WindowDataset(reader, "train", rollout_steps=2, max_cached_sims=3)
    assert reader.loads == 0  # index from the mask members only
    assert len(ds) == 20 * 3 and ds.sim_count == 20
    order = np.random.default_rng(1).permutation(len(ds))
    for i in order:
        ds[int(i)]
        assert ds.resident <= 3
    info = ds.cache_info()
    assert info["hits"] + info["misses"] == len(ds)
    assert info["misses"] == reader.loads >= 20  # every sim loaded at least once
    assert info["resident"] == 3 and info["max_cached_sims"] == 3


def test_lru_order(tmp_path: Path) -> None:
    reader = FakeReader(tmp_path, sims=4, frames=3)
    ds = WindowDataset(reader, "train", rollout_steps=2, max_cached_sims=3)
    assert len(ds) == 4  # one window per sim: start 0
    for sim in (0, 1, 2, 0, 3, 1):  # 3 evicts 1 (least recent), then 1 evicts 2
        ds[sim]
    assert (ds.hits, ds.misses, ds.resident) == (1, 5, 3)
    assert list(ds._cache) == [0, 3, 1]
    # spawn-started workers receive a pickled copy: empty cache, fresh counters, same index
    clone = pickle.loads(pickle.dumps(ds))
    assert clone.cache_info()["resident"] == clone.hits == clone.misses == 0 and len(clone) == len(ds)
    ds.clear_cache()
    assert ds.resident == 0


@pytest.mark.parametrize("stride, starts", [(1, [0, 1, 2, 3]), (2, [0, 2]), (3, [0, 3])])
def test_window_count_and_content(tmp_path: Path, stride: int, starts: List[int]) -> None:
    reader = FakeReader(tmp_path, sims=3, frames=7, statics=[("nu", 1), ("b", 2)])
    ds = WindowDataset(reader, "train", rollout_steps=3, static_fields=["nu", "b"], window_stride=stride)
    assert len(ds) == 3 * len(starts)
    assert [ds.window_index(i) for i in range(len(ds))] == [(s, t) for s in range(3) for t in starts]
    for i in range(len(ds)):
        sim, t = ds.window_index(i)
        raw = _raw(reader, sim)
        x, y, m = ds[i]
        assert x.dtype == y.dtype == m.dtype == torch.float32
        assert x.shape == (C + 1 + 2, *RES) and y.shape == (3, C, *RES) and m.shape == (3, C, *RES)
        np.testing.assert_array_equal(x[:C].numpy(), raw["obs_velocity"][t])
        np.testing.assert_array_equal(x[C:C + 1].numpy(), raw["static_nu"])
        np.testing.assert_array_equal(x[C + 1:].numpy(), raw["static_b"])
        np.testing.assert_array_equal(y.numpy(), raw["obs_velocity"][t + 1:t + 4])
        np.testing.assert_array_equal(m.numpy(), np.ones((3, C, *RES)))
    with pytest.raises(IndexError):
        ds.window_index(len(ds))


def test_returned_tensors_do_not_alias_cache(tmp_path: Path) -> None:
    reader = FakeReader(tmp_path, sims=1, frames=4)
    ds = WindowDataset(reader, "train", rollout_steps=2)
    x, y, m = ds[0]
    x.zero_(), y.zero_(), m.zero_()
    x2, y2, _ = ds[0]
    assert ds.hits == 1 and float(y2.abs().sum()) > 0 and float(x2[1].abs().sum()) > 0


def _policy_reader(tmp_path: Path) -> FakeReader:
    partial = np.ones((1, *RES), np.uint8)
    partial[0, :2, :] = 0
    masks = {2: partial, 4: np.zeros((1, *RES), np.uint8)}
    return FakeReader(tmp_path, sims=2, frames=8, masks=masks)


def test_start_policy_skips_incompletely_observed_frames(tmp_path: Path) -> None:
    reader = _policy_reader(tmp_path)
    ds = WindowDataset(reader, "train", rollout_steps=2)
    # candidates 0..5; frame 2 is partial and frame 4 unobserved: they cannot seed a rollout
    assert [ds.window_index(i) for i in range(len(ds))] == [(s, t) for s in range(2) for t in (0, 1, 3, 5)]
    assert reader.loads == 0
    x, y, m = ds[1]  # sim 0, start 1: targets are frames 2 (partial) and 3
    raw = _raw(reader, 0)
    np.testing.assert_array_equal(m.numpy(), np.repeat(raw["mask_velocity"][2:4], C, axis=1).astype(np.float32))
    assert float(m[0, 0].sum()) == np.prod(RES) - 2 * RES[1] and float(m[1].min()) == 1.0
    np.testing.assert_array_equal(y.numpy(), raw["obs_velocity"][2:4])
    assert float(y[0, :, :2].abs().sum()) == 0.0  # obs is 0 where unobserved
    # the same index from a reader without a path (fallback: one full load per sim, dropped)
    fallback = NoPathReader(reader)
    ds2 = WindowDataset(fallback, "train", rollout_steps=2, max_cached_sims=1)
    assert fallback.loads == 2 and ds2.resident == 0
    np.testing.assert_array_equal(ds2._starts, ds._starts)


def test_source_truth_uses_every_start_and_unit_masks(tmp_path: Path) -> None:
    reader = _policy_reader(tmp_path)
    ds = WindowDataset(reader, "train", rollout_steps=2, source="truth")
    assert len(ds) == 2 * 6
    sim, t = ds.window_index(9)
    assert (sim, t) == (1, 3)
    x, y, m = ds[9]
    raw = _raw(reader, 1)
    np.testing.assert_array_equal(x.numpy(), raw["truth_velocity"][3])
    np.testing.assert_array_equal(y.numpy(), raw["truth_velocity"][4:6])
    assert m.shape == (2, C, *RES) and float(m.min()) == 1.0
    assert set(ds._cache[1]) == {"truth_velocity"}  # only what is read stays resident


def test_invalid_arguments(tmp_path: Path) -> None:
    reader = FakeReader(tmp_path, sims=1, frames=4)
    for kwargs in ({"rollout_steps": 0}, {"rollout_steps": 4}, {"rollout_steps": 1, "source": "noisy"},
                   {"rollout_steps": 1, "window_stride": 0}, {"rollout_steps": 1, "max_cached_sims": 0}):
        with pytest.raises(ValueError):
            WindowDataset(reader, "train", **kwargs)
    ds = WindowDataset(reader, "train", rollout_steps=1, static_fields=["nu"])
    with pytest.raises(KeyError, match="param_nu"):  # not a static field of the reader: a parameter
        ds[0]
    assert len(WindowDataset(reader, "val", rollout_steps=1)) == 0


def _key(sample) -> bytes:
    return b"".join(t.numpy().tobytes() for t in sample)


def _samples(loader) -> List[bytes]:
    out = []
    for x, y, m in loader:
        out.extend(_key((x[i], y[i], m[i])) for i in range(x.shape[0]))
    return out


def test_loader_with_persistent_workers_yields_same_samples(tmp_path: Path) -> None:
    reader = _policy_reader(tmp_path)
    ds = WindowDataset(reader, "train", rollout_steps=2, max_cached_sims=1)
    reference = Counter(_samples(make_loader(ds, batch_size=3, shuffle=False, seed=0)))
    assert sum(reference.values()) == len(ds) == 8
    assert reference == Counter(_key(ds[i]) for i in range(len(ds)))
    parent_info = ds.cache_info()
    loader = make_loader(ds, batch_size=3, shuffle=True, seed=0, num_workers=2, persistent_workers=True)
    assert loader.persistent_workers and loader.num_workers == 2
    for _ in range(2):  # the second epoch reuses the workers and their caches
        assert Counter(_samples(loader)) == reference
    assert ds.cache_info() == parent_info  # workers load into their own LRU, not the parent's


def test_make_loader_is_reproducible(tmp_path: Path) -> None:
    reader = FakeReader(tmp_path, sims=4, frames=6)
    ds = WindowDataset(reader, "train", rollout_steps=1)
    first = _samples(make_loader(ds, batch_size=4, shuffle=True, seed=3))
    assert first == _samples(make_loader(ds, batch_size=4, shuffle=True, seed=3))
    assert first != _samples(make_loader(ds, batch_size=4, shuffle=True, seed=4))
    loader = make_loader(ds, batch_size=4, shuffle=False, seed=0, drop_last=True)
    assert len(loader) == len(ds) // 4 and loader.pin_memory == torch.cuda.is_available()
    assert loader.persistent_workers is False


class _NumpyRandomDataset(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> float:
        return float(np.random.rand())


def test_workers_seed_numpy_from_loader_seed() -> None:
    def draw(seed: int) -> List[float]:
        loader = make_loader(_NumpyRandomDataset(), batch_size=1, shuffle=False, seed=seed, num_workers=2)
        return [float(v) for batch in loader for v in batch]

    a = draw(7)
    assert a == draw(7) and a != draw(8)
    assert len(set(a)) == 4  # workers do not share a numpy stream


def test_block_sampler_loads_each_sim_once_per_epoch(tmp_path: Path) -> None:
    reader = FakeReader(tmp_path, sims=20, frames=5)
    ds = WindowDataset(reader, "train", rollout_steps=2, max_cached_sims=3)
    gen = torch.Generator().manual_seed(0)
    sampler = SimBlockSampler(ds.window_sims, block_sims=3, generator=gen)
    epochs = [list(sampler) for _ in range(2)]
    assert epochs[0] != epochs[1]  # a new order each epoch
    for order in epochs:
        assert sorted(order) == list(range(len(ds))) and len(sampler) == len(ds)
        sims = ds.window_sims[order]
        blocks = [set(sims[b:b + 9].tolist()) for b in range(0, 54, 9)]
        assert all(len(block) == 3 for block in blocks)  # windows of 3 sims at a time
        assert len(set().union(*blocks)) == 18
    ds.hits = ds.misses = 0
    ds.clear_cache()
    for i in epochs[0]:
        ds[i]
    assert ds.misses == 20 and ds.hits == len(ds) - 20
    loader = make_loader(ds, batch_size=4, shuffle=True, seed=5, block_sims=3)
    assert isinstance(loader.sampler, SimBlockSampler)
    again = make_loader(ds, batch_size=4, shuffle=True, seed=5, block_sims=3)
    assert _samples(loader) == _samples(again)
    assert Counter(_samples(loader)) == Counter(_key(ds[i]) for i in range(len(ds)))


def test_with_real_cache_reader(tmp_path: Path) -> None:
    cache = pytest.importorskip("hyco.data.cache")
    src = tmp_path / "src"
    src.mkdir()
    source = FakeReader(src, sims=3, frames=6, statics=[("nu", 1)], masks={3: np.zeros((1, *RES), np.uint8)})
    writer = cache.CacheWriter(tmp_path / "entry", key="entry")
    for i in range(3):
        writer.write_sim("train", i, _raw(source, i))
    writer.finalize({"splits": {"train": {"count": 3, "seeds": [0, 1, 2]}}, "num_frames": 6,
                     "spatial_shape": list(RES),
                     "fields": {"velocity": {"channels": C, "kind": "vector", "grid": "centered", "role": "dynamic"},
                                "nu": {"channels": 1, "kind": "scalar", "grid": "centered", "role": "static"}}})
    reader = cache.CacheReader(tmp_path / "entry")
    assert isinstance(reader, SimulationReader)
    ds = WindowDataset(reader, "train", rollout_steps=2, static_fields=["nu"], max_cached_sims=2)
    assert [ds.window_index(i)[1] for i in range(len(ds))] == [0, 1, 2] * 3  # frame 3 unobserved
    for i in range(len(ds)):
        sim, t = ds.window_index(i)
        raw = _raw(source, sim)
        x, y, m = ds[i]
        np.testing.assert_array_equal(x.numpy(), np.concatenate([raw["obs_velocity"][t], raw["static_nu"]]))
        np.testing.assert_array_equal(y.numpy(), raw["obs_velocity"][t + 1:t + 3])
        np.testing.assert_array_equal(m.numpy(), np.repeat(raw["mask_velocity"][t + 1:t + 3], C, axis=1))
    loader = make_loader(ds, batch_size=2, shuffle=True, seed=0, num_workers=2)
    assert Counter(_samples(loader)) == Counter(_key(ds[i]) for i in range(len(ds)))
