"""Benchmark: memory of the lazy WindowDataset must not grow with the number of simulations.

Writes a synthetic cache entry (the real ``CacheWriter``/``CacheReader``, contract format v1) of
``max(--sims)`` simulations of ``--frames`` frames x 2 channels x ``--res``^2 into a temporary
directory, then for each N in ``--sims`` starts a FRESH Python process that iterates a shuffled
DataLoader (batch 8, K=4, max_cached_sims=5, num_workers=0) over the first N simulations for
``--batches`` batches and reports the peak RSS growth above its post-import baseline and the
throughput; then the same with ``make_loader(block_sims=max_cached_sims)`` (SimBlockSampler),
unless ``--no-block``. Goal: growth(N_max) / growth(N_min) <= 1.3 (holding every simulation would be about
N_max / N_min times larger).

    python experiments/bench_data.py                 # defaults: N = 5, 50; 400 batches; 100 x 128^2
    python experiments/bench_data.py --batches 100 --frames 40 --res 64
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

logger = logging.getLogger("bench_data")

GOAL_RATIO = 1.3
CHANNELS = 2


# ------------------------------------------------------------------------------------------------
# synthetic data
# ------------------------------------------------------------------------------------------------
def synthetic_sim(seed: int, frames: int, res: int) -> Dict[str, np.ndarray]:
    """One simulation in the cache layout: a few travelling Fourier modes per channel, noisy
    observations on even frames in full and on odd frames inside the lower-left quarter."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames, dtype=np.float32)[:, None, None]
    x = (np.arange(res, dtype=np.float32) / res)[None, :, None]
    y = (np.arange(res, dtype=np.float32) / res)[None, None, :]
    truth = np.zeros((frames, CHANNELS, res, res), np.float32)
    for c in range(CHANNELS):
        for _ in range(3):
            kx, ky = rng.integers(1, 5, size=2)
            phase, omega, amp = rng.uniform(0, 2 * np.pi), rng.uniform(-0.2, 0.2), rng.uniform(0.2, 1.0)
            truth[:, c] += amp * np.sin(2 * np.pi * (kx * x + ky * y) + phase + omega * t, dtype=np.float32)
    mask = np.zeros((frames, 1, res, res), np.uint8)
    mask[0::2] = 1
    mask[1::2, :, : res // 2, : res // 2] = 1
    noise = rng.standard_normal(truth.shape, dtype=np.float32) * np.float32(0.01)
    obs = (truth + noise) * mask
    obs[0] = truth[0]  # the initial condition is known exactly
    nu = np.full((1, res, res), 0.01, np.float32)
    return {"truth_velocity": truth, "obs_velocity": obs, "mask": mask, "static_nu": nu, "seed": np.int64(seed)}


def write_cache(root: Path, sims: int, frames: int, res: int) -> Path:
    """A complete cache entry (metadata written last) with ``sims`` training simulations."""
    from tqdm import tqdm

    from hyco.data.cache import CacheWriter

    path = root / "bench0000000000000"
    writer = CacheWriter(path, key=path.name)
    for i in tqdm(range(sims), desc="writing synthetic cache", unit="sim"):
        writer.write_sim("train", i, synthetic_sim(i, frames, res))
    writer.finalize(
        {
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "config": {"bench": True, "frames": frames, "res": res},
            "splits": {"train": {"count": sims, "seeds": list(range(sims))}},
            "num_frames": frames,
            "spatial_shape": [res, res],
            "fields": {"velocity": {"channels": CHANNELS, "kind": "dynamic", "grid": "centered"}},
            "static_fields": ["nu"],
        }
    )
    return path


class FirstSims:
    """A reader restricted to the first ``n`` simulations of every split (same files)."""

    def __init__(self, reader: Any, n: int) -> None:
        self.reader = reader
        self.n = n
        self.path = reader.path
        self.num_frames = reader.num_frames
        self.spatial_shape = reader.spatial_shape

    def num_sims(self, split: str) -> int:
        return min(self.n, self.reader.num_sims(split))

    def load(self, split: str, index: int) -> Dict[str, np.ndarray]:
        return self.reader.load(split, index)


# ------------------------------------------------------------------------------------------------
# one measurement (child process)
# ------------------------------------------------------------------------------------------------
def measure(path: Path, sims: int, batches: int, batch_size: int, rollout_steps: int, max_cached: int,
            block: bool) -> Dict[str, Any]:
    """Iterate the loader in this process; called in a fresh interpreter per N."""
    import torch

    from hyco.core.memory import MemoryMonitor
    from hyco.data.cache import CacheReader
    from hyco.data.dataset import WindowDataset, make_loader

    torch.set_num_threads(1)
    monitor = MemoryMonitor()
    baseline = monitor.rss_mb()
    t0 = time.perf_counter()
    reader = FirstSims(CacheReader(path), sims)
    dataset = WindowDataset(reader, "train", rollout_steps, max_cached_sims=max_cached)
    index_s = time.perf_counter() - t0
    loader = make_loader(dataset, batch_size=batch_size, shuffle=True, seed=0,
                         block_sims=max_cached if block else None)
    seen = samples = 0
    t0 = time.perf_counter()
    while seen < batches:  # as many epochs as the batch budget needs
        for initial, targets, masks in loader:
            samples += initial.shape[0]
            seen += 1
            monitor.rss_mb()  # track the peak between kernel high-water reads too
            if seen >= batches:
                break
    elapsed = time.perf_counter() - t0
    peak = monitor.peak_rss_mb()
    return {
        "shuffle": "block" if block else "uniform",
        "sims": sims,
        "windows": len(dataset),
        "batches": seen,
        "samples": samples,
        "index_s": index_s,
        "seconds": elapsed,
        "samples_per_s": samples / elapsed,
        "baseline_mb": baseline,
        "peak_mb": peak,
        "growth_mb": peak - baseline,
        **dataset.cache_info(),
    }


def run_child(path: Path, sims: int, block: bool, args: argparse.Namespace) -> Dict[str, Any]:
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--child", str(path), "--child-sims", str(sims),
        "--batches", str(args.batches), "--batch-size", str(args.batch_size),
        "--rollout-steps", str(args.rollout_steps), "--max-cached-sims", str(args.max_cached_sims),
    ] + (["--child-block"] if block else [])
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: Sequence[Dict[str, Any]]) -> str:
    cols: List[Tuple[str, str, str]] = [
        ("shuffle", "shuffle", "{}"), ("sims", "N", "{:d}"), ("windows", "windows", "{:d}"),
        ("samples", "samples", "{:d}"),
        ("samples_per_s", "samples/s", "{:.0f}"), ("index_s", "index s", "{:.2f}"),
        ("hits", "hits", "{:d}"), ("misses", "misses", "{:d}"), ("baseline_mb", "base MB", "{:.0f}"),
        ("peak_mb", "peak MB", "{:.0f}"), ("growth_mb", "growth MB", "{:.0f}"),
    ]
    cells = [[c[1] for c in cols]] + [[fmt.format(r[key]) for key, _, fmt in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sims", type=int, nargs="+", default=[5, 50], help="simulation counts to compare")
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--res", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rollout-steps", type=int, default=4)
    parser.add_argument("--max-cached-sims", type=int, default=5)
    parser.add_argument("--no-block", action="store_true",
                        help="skip the rows with SimBlockSampler (make_loader(block_sims=max_cached_sims))")
    parser.add_argument("--keep", action="store_true", help="keep the temporary cache directory")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-sims", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-block", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child is not None:  # inside the fresh process: one JSON line on stdout
        result = measure(args.child, args.child_sims, args.batches, args.batch_size,
                         args.rollout_steps, args.max_cached_sims, args.child_block)
        print(json.dumps(result))
        return 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    root = Path(tempfile.mkdtemp(prefix="hyco-bench-data-"))
    try:
        t0 = time.perf_counter()
        path = write_cache(root, max(args.sims), args.frames, args.res)
        size_mb = sum(f.stat().st_size for f in path.glob("*.npz")) / 2**20
        logger.info("wrote %d sims (%.0f MB, %.1f MB/sim) in %.1f s to %s", max(args.sims), size_mb,
                    size_mb / max(args.sims), time.perf_counter() - t0, path)
        rows = []
        for block in (False,) if args.no_block else (False, True):
            for n in args.sims:
                logger.info("measuring N=%d (%s shuffle) in a fresh process", n, "block" if block else "uniform")
                rows.append(run_child(path, n, block, args))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print(f"WindowDataset memory: batch {args.batch_size}, K={args.rollout_steps}, "
          f"max_cached_sims={args.max_cached_sims}, {args.batches} batches, "
          f"{args.frames} frames x {CHANNELS} ch x {args.res}^2, shuffle, num_workers=0")
    print(table(rows))
    ok = True
    for mode in ("uniform", "block"):
        sel = [r for r in rows if r["shuffle"] == mode]
        if len(sel) < 2:
            continue
        small, large = sel[0], sel[-1]
        ratio = large["growth_mb"] / max(small["growth_mb"], 1e-9)
        ok = ok and ratio <= GOAL_RATIO
        print(f"{mode} shuffle: growth ratio N={large['sims']} / N={small['sims']}: {ratio:.2f} "
              f"(goal <= {GOAL_RATIO}) {'OK' if ratio <= GOAL_RATIO else 'ABOVE GOAL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
