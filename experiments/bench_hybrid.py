"""Overhead of HYCO orchestration: one exchange round versus the players' own work.

For the same data (same windows, same ghost ICs, same starting state) the benchmark times

* a full ``HYCOTrainer.exchange_round`` and
* the sum of its parts, each timed on its own: generating the synthetic and physical
  predictions, the physical fit, and the synthetic epochs,

restoring both players' state before every measurement, and prints the ratio
``round / sum of parts`` (goal <= 1.10). Run with ``python experiments/bench_hybrid.py``.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from torch.utils.data import TensorDataset

from hyco.arms import build_trainer
from hyco.compose import compose_config
from hyco.data.cache import CacheReader
from hyco.data.generate import generate_dataset
from hyco.data.training_data import TrainingData
from hyco.tracking.run_logger import MemoryRunLogger
from hyco.training.context import RunContext


def build(args, workdir: str):
    overrides = [f"experiment={args.experiment}", f"trainer={args.variant}", "trainer.hyco.warmstart_epochs=0",
                 f"trainer.hyco.ghost_ics={args.ghosts}", f"data.cache_dir={workdir}/cache", "tracking.enabled=false",
                 *args.overrides]
    cfg = compose_config(overrides)
    data = TrainingData.open(cfg, CacheReader(generate_dataset(cfg, progress=False).path))
    context = RunContext(MemoryRunLogger(), f"{workdir}/ckpt", log_memory=False)
    return cfg, build_trainer(cfg, data, context)


def snapshot(trainer):
    z = {n: t.detach().clone() for n, t in trainer.physical.z.items()}
    return copy.deepcopy(trainer.synthetic.state_dict()), z, trainer.physical.step


def restore(trainer, snap):
    trainer.synthetic.load_state_dict(copy.deepcopy(snap[0]))
    for name, value in snap[1].items():
        trainer.physical._assign(name, value)
    trainer.physical.step = snap[2]


def parts(trainer, round_index: int) -> dict:
    """The players' own work of one round, timed separately (targets prepared outside the timers)."""
    tr, k = trainer.cfg.trainer, trainer.cfg.trainer.hyco
    rng = np.random.default_rng(int(trainer.cfg.seed) * 7919 + round_index)
    fit_idx = np.sort(rng.choice(len(trainer.data), size=min(int(tr.physical_sims_per_fit), len(trainer.data)),
                                 replace=False))
    x0_all = trainer.initial_states_all()
    x0_fit = x0_all[fit_idx]
    ghosts = trainer.ghost_initial_states(round_index, int(k.ghost_ics), x0_fit, str(k.ghost_kind.value),
                                          float(k.ghost_perturbation))
    times = {}
    t = time.perf_counter()
    s_pred = trainer.synthetic_predictions(torch.cat([x0_fit, ghosts]), trainer.steps)
    times["synthetic_predictions"] = time.perf_counter() - t
    p_targets = trainer._with_ghosts(
        trainer._targets(x0_fit, s_pred[: len(fit_idx)], fit_idx, trainer.alpha(round_index), k.lambda_p_data,
                         k.lambda_p_int), ghosts, lambda x, _: s_pred[len(fit_idx):], k.lambda_p_data, k.lambda_p_int)
    t = time.perf_counter()
    trainer.physical.fit(*p_targets.as_tuple()[:3], iterations=int(tr.physical_iterations_per_epoch),
                         weights=p_targets.weights)
    times["physical_fit"] = time.perf_counter() - t
    t = time.perf_counter()
    p_pred = trainer.physical_predictions(torch.cat([x0_all, ghosts]), trainer.steps)
    times["physical_predictions"] = time.perf_counter() - t
    n = len(x0_all)
    s_targets = trainer._with_ghosts(
        trainer._targets(x0_all, p_pred[:n], np.arange(n), trainer.alpha(round_index), k.lambda_s_data,
                         k.lambda_s_int), ghosts, lambda x, _: p_pred[n:], k.lambda_s_data, k.lambda_s_int)
    dataset = TensorDataset(*s_targets.as_tuple())
    t = time.perf_counter()
    for _ in range(int(k.synthetic_epochs_per_round)):
        trainer.synthetic.train_epoch(dataset)
    times["synthetic_epochs"] = time.perf_counter() - t
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="burgers_2d_quick")
    parser.add_argument("--variant", default="cooperative", choices=["full", "warmstart", "mixed", "cooperative"])
    parser.add_argument("--ghosts", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    with tempfile.TemporaryDirectory() as workdir:
        cfg, trainer = build(args, workdir)
        trainer.exchange_round(0)  # warm-up: jit traces, caches, allocator
        snap = snapshot(trainer)
        rounds, sums, breakdown = [], [], []
        for _ in range(args.repeats):
            restore(trainer, snap)
            t = time.perf_counter()
            trainer.exchange_round(1)
            rounds.append(time.perf_counter() - t)
            restore(trainer, snap)
            times = parts(trainer, 1)
            sums.append(sum(times.values()))
            breakdown.append(times)
    round_s, parts_s = statistics.median(rounds), statistics.median(sums)
    print(f"HYCO exchange round, {args.experiment}, variant {args.variant}, {args.ghosts} ghost ICs, "
          f"{len(trainer.data)} windows, {args.threads} thread(s), median of {args.repeats}")
    print("| part | seconds |\n|---|---|")
    for key in breakdown[0]:
        print(f"| {key} | {statistics.median(b[key] for b in breakdown):.3f} |")
    print(f"| sum of parts | {parts_s:.3f} |\n| full round | {round_s:.3f} |")
    ratio = round_s / parts_s
    print(f"\nratio round / sum of parts = {ratio:.3f}  (goal <= 1.10: {'MET' if ratio <= 1.10 else 'NOT MET'})")


if __name__ == "__main__":
    from hyco.core.exits import run_guarded, wants_verbose

    sys.exit(run_guarded(main, verbose=wants_verbose(sys.argv[1:])))  # one line per failure (docs/reliability.md)
