"""Per-epoch cost of every arm on the static Helmholtz preset, against a pure-torch dense solve.

The arms run their epochs as the engine runs them (``paper_helmholtz``: 25 points, 19^2 nodes, 200
ghost points, the papers' networks), built exactly as ``task=train`` builds them, without tracking:

* ``physical_only``: one Adam step of the physics on the data, then its solution scored on the
  50 x 50 grid (the engine's physics epoch: two solves and a backward);
* ``cooperative``: an exchange epoch (warm start off): the network's step on data and ghost points,
  the physics' step, the scores; the network is scored every ``evaluation.reconstruction_every``
  epochs, so the per-epoch mean carries a tenth of that pass;
* ``synthetic_only``: the network's step on the data;
* ``pinn``: one step on data, residual at 400 points and 400 wall points (first phase off), the
  network scored every ``reconstruction_every`` epochs.

The baseline, measured in the same process and interleaved with the arms: a pure-torch physics
epoch on the same system (theta -> kappa, eta -> P1 assembly -> dense ``torch.linalg.solve`` with
torch's autograd -> bilinear interpolation at the 25 points -> MSE -> backward -> Adam step), one
solve and its backward written the plain way, with no scoring; it does not go through the engine's
solver, so it stays the same yardstick when that solver changes. Every time is the fastest of ``--repeats``
blocks of ``--epochs`` epochs on one thread. The authors' JAX script (issue 19, measured on one
core of this machine) takes 15 ms per HYCO epoch, 5.2 ms per physics-alone epoch and 21 ms per PINN
epoch; they score both players on the 50 x 50 grid in every epoch.

    python experiments/bench_static.py                  # about a minute
    python experiments/bench_static.py --epochs 20 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Callable, Dict, List

import torch

AUTHORS_MS = {"physical_only": 5.2, "cooperative": 15.0, "pinn": 21.0}
ARMS = ("physical_only", "cooperative", "synthetic_only", "pinn")


def fastest(step: Callable[[], None], epochs: int, repeats: int) -> float:
    """ms per call: the fastest of ``repeats`` blocks of ``epochs`` calls (after one warm-up call)."""
    step()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(epochs):
            step()
        best = min(best, (time.perf_counter() - start) / epochs * 1e3)
    return best


def reference_epoch(points: torch.Tensor, values: torch.Tensor, method: str = "dense") -> Callable[[], None]:
    """The pure-torch physics epoch (module docstring), float64 as the engine's solve."""
    from hyco.physics.elliptic import (
        StructuredTriangulation,
        assemble,
        interpolate_bilinear,
        solve_elliptic,
        with_boundary,
    )
    from hyco.physics.elliptic.cases import HELMHOLTZ_TRUTH, helmholtz_eta, helmholtz_forcing, helmholtz_kappa

    mesh = StructuredTriangulation(18)
    forcing = helmholtz_forcing(torch.tensor(HELMHOLTZ_TRUTH, dtype=torch.float64))
    theta = torch.tensor([2.0, 0.5, 0.5, 2.0, 0.5, 0.5], dtype=torch.float64, requires_grad=True)
    adam = torch.optim.Adam([theta], lr=5e-3)
    points, values = points.double(), values.double()

    def epoch() -> None:
        if method == "dense":
            # torch.linalg.solve on the dense matrix with autograd, whatever the engine's solver is: one yardstick
            system = assemble(mesh, helmholtz_kappa(theta), helmholtz_eta(theta), forcing)
            m = system.m
            u = with_boundary(torch.linalg.solve(system.dense(), system.rhs.reshape(-1, 1)).reshape(m, m))
        else:
            u = solve_elliptic(mesh, helmholtz_kappa(theta), helmholtz_eta(theta), forcing, method=method)
        loss = ((interpolate_bilinear(mesh, u, points) - values) ** 2).mean()
        adam.zero_grad()
        loss.backward()
        adam.step()

    return epoch


def arm_epoch(arm: str, cache: str) -> Callable[[], None]:
    """One epoch of ``arm`` on the preset, as the engine trains it (no tracking)."""
    from hyco.arms import build_trainer
    from hyco.compose import compose_config
    from hyco.data.cache import CacheReader
    from hyco.data.generate import generate_dataset
    from hyco.data.training_data import TrainingData

    overrides = ["experiment=paper_helmholtz", f"trainer={arm}", f"data.cache_dir={cache}", "device=cpu"]
    if arm == "cooperative":
        overrides.append("trainer.hyco.warmstart_threshold=0")  # every epoch an exchange
    if arm == "pinn":
        overrides.append("trainer.pinn.pretrain_threshold=0")  # every epoch the full loss
    cfg = compose_config(overrides)
    data = TrainingData.open(cfg, CacheReader(generate_dataset(cfg, progress=False).path))
    trainer = build_trainer(cfg, data, None)
    if arm == "pinn":
        return trainer.train_epoch
    counter = [0]

    def epoch() -> None:
        trainer.run_epoch(counter[0])
        counter[0] += 1

    return epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=40, help="epochs per timed block")
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks; the fastest counts")
    parser.add_argument("--cache", default="data/cache", help="data cache folder")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from hyco.compose import compose_config
    from hyco.data.cache import CacheReader
    from hyco.data.generate import generate_dataset
    from hyco.data.scattered import ScatteredData

    cfg = compose_config(["experiment=paper_helmholtz", f"data.cache_dir={args.cache}"])
    observed = ScatteredData.open(cfg, CacheReader(generate_dataset(cfg, progress=False).path)).observed["u"]
    reference = {m: reference_epoch(observed.points, observed.values[:, 0], m) for m in ("dense", "banded")}
    rows: List[Dict[str, float]] = []
    for arm in ARMS:
        step = arm_epoch(arm, args.cache)
        # interleaved: the baseline right before and after the arm, the machine's load shared alike
        before = fastest(reference["dense"], args.epochs, args.repeats)
        ms = fastest(step, max(args.epochs // (5 if arm == "pinn" else 1), 5), args.repeats)
        after = fastest(reference["dense"], args.epochs, args.repeats)
        rows.append({"arm": arm, "ms": ms, "reference": min(before, after)})
    banded = fastest(reference["banded"], args.epochs, args.repeats)
    dense = min(r["reference"] for r in rows)
    print(f"pure-torch physics epoch (one solve + backward + Adam, float64): dense {dense:.2f} ms, "
          f"banded {banded:.2f} ms; load average {os.getloadavg()[0]:.1f}")
    print("| arm | ms per epoch | / pure-torch dense epoch | authors' JAX [ms] |")
    print("|---|---|---|---|")
    for r in rows:
        authors = AUTHORS_MS.get(r["arm"])
        print(f"| {r['arm']} | {r['ms']:.2f} | {r['ms'] / r['reference']:.2f} | "
              f"{'—' if authors is None else f'{authors:.1f}'} |")


if __name__ == "__main__":
    main()
