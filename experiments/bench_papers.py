"""Seconds per epoch of the papers' presets (heat, Gray–Scott), physics alone and HYCO, and where
the time goes, on one CPU thread.

    python experiments/bench_papers.py                  # heat and Gray–Scott, a few epochs of each phase
    python experiments/bench_papers.py --skip-gray-scott --repeats 20

For each preset and arm the trainer is built as a run builds it (no tracking) and timed over
``--repeats`` epochs of each phase after two warm-up epochs (the first calls compile the solver's
trace); the heat HYCO run has two phases (20 ghost points per frame, then 800 from epoch 1500),
Gray–Scott's the network's warm start and the exchange, then one function evaluation of its
L-BFGS post-training. Per phase the table splits an epoch into its parts, each timed on its own:

* ``S step``: the network's pass over its data (and ghost points);
* ``P rollout``: the physics' differentiable rollout of the whole horizon, forward only;
* ``P step``: one optimiser step of the physics (forward, backward) plus the no-grad rollout that
  leaves the trajectory for the next epoch's targets;
* ``S at ghosts``: the network read at the epoch's ghost points (the physics' targets);
* ``S score``: the network's reconstruction error on the truth's grid (every
  ``evaluation.reconstruction_every`` epochs, so its share per epoch is divided by that).

A full run's projected time is the sum over phases of epochs x seconds per epoch (Gray–Scott's
L-BFGS phase apart: steps x at most 20 evaluations x seconds per evaluation). Baseline measured
in the same run: the physics-alone heat epoch with one compiled trace per step
(``physics.jit_frames=1``) against the preset's one trace per horizon. References (the authors'
code on one core of this machine, measured once, not rerun here): heat HYCO 4.1 s per epoch (4.0 s
of it their per-epoch scoring of the network on ~990k points), 1.8 s per epoch with 800 ghost
points, physics alone 0.022 s; Gray–Scott main epoch 8.1 s.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Callable, Dict, List, Sequence, Tuple

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import torch

AUTHORS = {"heat HYCO, 20 ghosts": 4.1, "heat HYCO, 800 ghosts": 1.8, "heat physics alone": 0.022,
           "Gray–Scott HYCO exchange": 8.1}


class _Nowhere:
    """A metric logger that keeps nothing (the bench times training, not tracking)."""

    def log_metrics(self, metrics, step):
        pass

    def log_history(self, points):
        pass

    def log_artifact(self, path, artifact_path=None):
        pass

    def last_step(self, key):
        return None


def build(preset: str, arm: str, overrides: Sequence[str] = ()):
    """The preset's trainer for ``arm`` as a run builds it, its data generated (or read) first."""
    import tempfile

    from hyco.arms import build_trainer
    from hyco.compose import compose_config
    from hyco.data.cache import CacheReader
    from hyco.data.generate import generate_dataset
    from hyco.data.training_data import TrainingData
    from hyco.physics.registry import build_physics
    from hyco.training.context import RunContext

    cfg = compose_config([f"experiment={preset}", f"trainer={arm}", "torch_threads=1", "tracking.enabled=false",
                          *overrides])
    data = TrainingData.open(cfg, CacheReader(generate_dataset(cfg).path))
    model = build_physics(cfg.physics, cfg.data.ic)
    context = RunContext(_Nowhere(), tempfile.mkdtemp(prefix="bench_papers_"), log_memory=False)
    return cfg, build_trainer(cfg, data, context, model=model)


def clock(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``fn`` over ``repeats`` calls."""
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def phase(trainer, start_epoch: int, repeats: int) -> Dict[str, float]:
    """Seconds per epoch of ``trainer`` from ``start_epoch`` on, whole and by part."""
    for epoch in (start_epoch, start_epoch + 1):  # warm-up: traces, allocator
        trainer.run_epoch(epoch)
    epochs = iter(range(start_epoch + 2, start_epoch + 2 + 10 * repeats))
    out = {"epoch": clock(lambda: trainer.run_epoch(next(epochs)), repeats)}
    s, p = trainer.synthetic, trainer.physical
    warm = trainer.warming(start_epoch)
    points, frames = (trainer.ghosts.draw(start_epoch, int(trainer.knob("ghost_points", start_epoch)))
                      if trainer.ghosts is not None and not warm else (torch.zeros(0, 3), torch.zeros(0).long()))
    if p is not None and not warm:
        with torch.no_grad():
            out["P rollout"] = clock(lambda: p.trajectory(), repeats)
        ghosts = None
        if len(points) and s is not None:
            targets = s.predict(points)
            ghosts = (points, frames, targets)
            out["S at ghosts"] = clock(lambda: s.predict(points), repeats)
        lam = (float(trainer.knob("lambda_p_data", start_epoch)), float(trainer.knob("lambda_p_int", start_epoch))) \
            if trainer.knobs is not None else (1.0, 0.0)
        out["P step"] = clock(lambda: p.update(ghosts, *lam), repeats)
    if s is not None:
        out["S step"] = clock(lambda: s.train_epoch(trainer.data), repeats) if warm or p is None else clock(
            lambda: s.train_epoch(trainer.data, (points, trainer.physical.predict_points(points, frames)),
                                  1.0, 1.0, int(trainer.knob("ghost_batch", start_epoch))), repeats)
        every = max(1, int(trainer.cfg.evaluation.reconstruction_every))
        out["S score"] = clock(lambda: trainer.synthetic_error(), 1) / every
    return out


def lbfgs_evaluation(trainer, repeats: int) -> float:
    """Seconds of one function evaluation of the network's L-BFGS post-training (its data term and
    the interaction at every node of every frame, forward and backward): one L-BFGS step of one
    iteration evaluates it once."""
    s = trainer.synthetic
    last = trainer.epochs - 1
    lam_int = float(trainer.knob("lambda_s_int", last))
    ghosts = trainer.post_training_ghosts() if lam_int > 0 else None
    lam_data = float(trainer.knob("lambda_s_data", last))
    s.lbfgs(trainer.data, 1, ghosts, lam_data, lam_int, max_iter=1)  # warm-up
    return clock(lambda: s.lbfgs(trainer.data, 1, ghosts, lam_data, lam_int, max_iter=1), repeats)


def fmt(values: Dict[str, float]) -> str:
    parts = ["S step", "P rollout", "P step", "S at ghosts", "S score"]
    return " | ".join(f"{values[k]:.3f}" if k in values else "—" for k in ["epoch", *parts])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per phase (median)")
    parser.add_argument("--skip-gray-scott", action="store_true")
    parser.add_argument("--skip-heat", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)

    rows: List[Tuple[str, Dict[str, float], int]] = []  # (label, seconds by part, epochs of the phase)
    post = None  # seconds of one L-BFGS function evaluation of Gray–Scott's post-training
    if not args.skip_heat:
        cfg, hyco = build("paper_heat_quarter", "cooperative")
        rows.append(("heat HYCO, 20 ghosts", phase(hyco, 0, args.repeats), 1500))
        rows.append(("heat HYCO, 800 ghosts", phase(hyco, 1500, args.repeats), 1500))
        _, alone = build("paper_heat_quarter", "physical_only")
        rows.append(("heat physics alone", phase(alone, 0, args.repeats), 3000))
        _, stepwise = build("paper_heat_quarter", "physical_only", ["physics.jit_frames=1"])
        rows.append(("heat physics alone, a trace per step (baseline)", phase(stepwise, 0, args.repeats), 3000))
    if not args.skip_gray_scott:
        cfg, gs = build("paper_gray_scott", "cooperative")
        warm = int(cfg.trainer.hyco.warmstart_epochs)
        rows.append(("Gray–Scott HYCO warm start", phase(gs, 0, args.repeats), warm))
        rows.append(("Gray–Scott HYCO exchange", phase(gs, warm, max(2, args.repeats // 2)),
                     int(cfg.trainer.epochs) - warm))
        post = lbfgs_evaluation(gs, max(2, args.repeats // 2))
        _, gs_alone = build("paper_gray_scott_fair", "physical_only")
        rows.append(("Gray–Scott physics alone (fair preset)", phase(gs_alone, 0, max(2, args.repeats // 2)),
                     int(cfg.trainer.epochs)))

    print(f"seconds per epoch on 1 CPU thread (median of {args.repeats}); parts timed on their own\n")
    print("| phase | epoch | S step | P rollout | P step | S at ghosts | S score | authors |")
    print("|---|---|---|---|---|---|---|---|")
    for label, values, _ in rows:
        ref = AUTHORS.get(label)
        theirs = "—" if ref is None else f"{ref:g} ({ref / values['epoch']:.1f}x ours)"
        print(f"| {label} | {fmt(values)} | {theirs} |")
    print()
    runs: Dict[str, float] = {}
    for label, values, epochs in rows:
        key = label.split(",")[0].replace(" warm start", "").replace(" exchange", "")
        if "baseline" in label:
            continue
        runs[key] = runs.get(key, 0.0) + values["epoch"] * epochs
    for key, seconds in runs.items():
        print(f"projected full run, {key}: {seconds / 60:.1f} min (epochs x seconds per epoch)")
    if post is not None:
        steps = int(cfg.trainer.hyco.synthetic_lbfgs_iterations)
        print(f"Gray–Scott L-BFGS post-training: {post:.2f} s per function evaluation (every node of every frame "
              f"and the data); {steps} steps of at most 20 evaluations: up to {steps * 20 * post / 60:.0f} min more")
    base = {label: values["epoch"] for label, values, _ in rows}
    if "heat physics alone" in base and "heat physics alone, a trace per step (baseline)" in base:
        ratio = base["heat physics alone, a trace per step (baseline)"] / base["heat physics alone"]
        print(f"\nphysics alone: one trace per horizon is {ratio:.1f}x faster than one trace per step (same run)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
