"""Benchmark of the smoke model's step (part of ``bench_physics.py``; runs on its own too).

Per case (grid ``n^2``, batch ``b``; physics of ``conf/physics/smoke.yaml``, true buoyancy field,
blob ICs advanced ``--spinup`` steps first so that the flow is moving):

* forward: median ms per step over ``--repeats`` chains of 5 steps, no autograd;
* a 5-step rollout with autograd on ``b`` (forward with graph) and its ``backward()`` of a
  weighted sum of the final state; reported as ms and as backward / forward (goal <= 3).

    python experiments/bench_smoke.py                       # 32, 64, 128 x batch 1, 4; CPU, 1 thread
    python experiments/bench_physics.py --skip-burgers --models --smoke   # the same, from bench_physics
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch
import yaml

CONFIG = Path(__file__).resolve().parents[1] / "conf" / "physics" / "smoke.yaml"
IC = {"name": "blobs", "num_spots": 3, "spot_size": 0.08}
GOAL_BACKWARD_RATIO = 3.0
ROLLOUT = 5


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_case(n: int, batch: int, repeats: int, spinup: int, device: torch.device) -> Dict[str, Any]:
    from hyco.physics import build_physics

    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["resolution"] = [n, n]
    model = build_physics(cfg, IC)
    truth = model.true_params()
    state = model.rollout(model.initial_state(batch, 0), truth, spinup)[-1]
    b_native = truth["b"].native(["x", "y"]).detach()
    weights = torch.randn(model.converter.state_to_tensor(state).shape, generator=torch.Generator().manual_seed(0)
                          ).to(b_native.device)

    def forward(grad: bool):
        b = b_native.clone().requires_grad_(grad)
        params = model.params_from_values({"b": b})
        x = state
        for _ in range(ROLLOUT):
            x = model.step(x, params)
        return b, (model.converter.state_to_tensor(x) * weights).sum()

    fwd, fwd_graph, bwd = [], [], []
    for r in range(repeats + 1):  # the first round traces and warms up
        _sync(device)
        t0 = time.perf_counter()
        with torch.no_grad():
            forward(False)
        _sync(device)
        t1 = time.perf_counter()
        b, loss = forward(True)
        _sync(device)
        t2 = time.perf_counter()
        loss.backward()
        _sync(device)
        t3 = time.perf_counter()
        if r:
            fwd.append((t1 - t0) / ROLLOUT)
            fwd_graph.append(t2 - t1)
            bwd.append(t3 - t2)
    assert b.grad is not None and bool(torch.isfinite(b.grad).all()) and float(b.grad.abs().max()) > 0
    med = statistics.median
    return {"n": n, "batch": batch, "fwd_ms": 1e3 * med(fwd), "fwd5_ms": 1e3 * med(fwd_graph),
            "bwd5_ms": 1e3 * med(bwd), "ratio": med(bwd) / med(fwd_graph), "traces": model.trace_count,
            "residual": model.worst_residual}


def report(sizes: Sequence[int], batches: Sequence[int], repeats: int, spinup: int, device: torch.device) -> bool:
    rows: List[Dict[str, Any]] = []
    for n in sizes:
        for b in batches:
            rows.append(run_case(n, b, repeats, spinup, device))
    print()
    print(f"| smoke | forward ms/step | 5-step rollout with graph ms | its backward ms | backward / forward "
          f"(goal <= {GOAL_BACKWARD_RATIO:g}) | traces | worst residual |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']}², b{r['batch']} | {r['fwd_ms']:.1f} | {r['fwd5_ms']:.0f} | {r['bwd5_ms']:.0f} | "
              f"{r['ratio']:.2f} | {r['traces']} | {r['residual']:.1e} |")
    return all(r["ratio"] <= GOAL_BACKWARD_RATIO for r in rows)


def add_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    parser.add_argument(f"--{prefix}sizes", type=int, nargs="+", default=[32, 64, 128], help="smoke grid sizes")
    parser.add_argument(f"--{prefix}batches", type=int, nargs="+", default=[1, 4], help="smoke batch sizes")
    parser.add_argument(f"--{prefix}repeats", type=int, default=5, help="timed rounds per smoke case (median)")
    parser.add_argument(f"--{prefix}spinup", type=int, default=10, help="steps from rest before timing")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    add_arguments(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                          else "cpu")
    if device.type == "cuda":
        from phi.torch import TORCH

        TORCH.set_default_device("GPU")
    return 0 if report(args.sizes, args.batches, args.repeats, args.spinup, device) else 1


if __name__ == "__main__":
    raise SystemExit(main())
