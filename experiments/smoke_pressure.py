"""Which pressure solve makes the smoke step converge every time? Measures the configurations.

Each configuration runs the smoke step of ``hyco.physics.models.smoke`` (MacCormack smoke,
semi-Lagrangian velocity, buoyancy with the true ``b``) from the same ``--batch`` random blob ICs
for ``--steps`` steps, with the projection done by PhiFlow's ``fluid.make_incompressible`` and a
given ``Solve`` (eager or ``jit_compile``), or by the platform's direct spectral solve. Reported
per configuration: steps that raised (``NotConverged``, ``Diverged``, other errors; a raising
step ends that configuration's rollout), the worst relative divergence after the projection
(``max|div u| dx / max|u|``; jit does not raise on non-convergence, so this is what tells), and
the median ms per step.

    python experiments/smoke_pressure.py                  # 64^2 x 4, 20 steps, one thread
    python experiments/smoke_pressure.py --resolution 32 --steps 10
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from phi.physics import advect, fluid
from phiml import math
from phiml.math import Solve

from hyco.physics import build_physics

PHYSICS = {"name": "smoke", "dim": 2, "dt": 0.04, "grid": "staggered",
           "params": {"b": {"kind": "field", "true_value": 1.0, "true_profile": "sine_x", "profile_scale": "relative",
                            "profile_amplitude": 0.4, "initial_guess": 0.5, "lower": 0.0, "upper": 3.0}}}
IC = {"name": "blobs", "num_spots": 3, "spot_size": 0.08}


def phiflow_step(model: Any, solve_factory: Callable[[Any], Solve]) -> Callable:
    """The smoke step with ``fluid.make_incompressible`` and ``solve_factory(previous_pressure)``."""

    def step(velocity, smoke, b, pressure):
        smoke = advect.mac_cormack(smoke, velocity, model.dt)
        velocity = advect.semi_lagrangian(velocity, velocity, model.dt)
        force = (smoke * b * (0, 1)) @ velocity
        velocity = velocity + model.dt * force
        velocity, pressure = fluid.make_incompressible(velocity, (), solve_factory(pressure))
        return velocity, smoke, pressure

    return step


def relative_divergence(model: Any, velocity: Any) -> float:
    div = np.abs(model.divergence({"velocity": velocity}).numpy(["b", "x", "y"])).max(axis=(1, 2))
    speed = np.abs(model.converter.to_numpy(velocity)).reshape(div.shape[0], -1).max(axis=1)
    return float((div * min(model.dx) / np.maximum(speed, 1e-30)).max())


def measure(model: Any, label: str, step: Callable, state: Dict[str, Any], b: Any, steps: int,
            precision: int = 32) -> Dict[str, Any]:
    velocity, smoke, pressure = state["velocity"], state["smoke"], None
    times: List[float] = []
    worst, error = 0.0, ""
    with math.precision(precision):
        for k in range(steps):
            start = time.perf_counter()
            try:
                velocity, smoke, pressure = step(velocity, smoke, b, pressure)
            except Exception as err:
                error = f"step {k + 1}: {type(err).__name__}: {str(err).splitlines()[0][:90]}"
                break
            times.append(time.perf_counter() - start)
            worst = max(worst, relative_divergence(model, velocity))
    ms = 1e3 * statistics.median(times[1:] or times) if times else float("nan")
    return {"label": label, "steps_ok": len(times), "error": error, "worst": worst, "ms": ms}


def configurations(model: Any) -> List[Tuple[str, Callable, int]]:
    def cg(abs_tol: float, rel_tol: float, iters: int, rank: Optional[int] = None, warm: bool = False):
        def factory(previous):
            kw: Dict[str, Any] = {"max_iterations": iters}
            if rank is not None:
                kw["rank_deficiency"] = rank
            if warm and previous is not None:
                kw["x0"] = previous
            return Solve("CG", rel_tol, abs_tol, **kw)
        return factory

    eager = lambda f: phiflow_step(model, f)  # noqa: E731
    jitted = lambda f: math.jit_compile(phiflow_step(model, f))  # noqa: E731

    def spectral(velocity, smoke, b, pressure):
        out = model.step({"velocity": velocity, "smoke": smoke}, {"b": b})
        return out["velocity"], out["smoke"], None

    return [
        ("CG abs 1e-3, 200 it (eager)", eager(cg(1e-3, 1e-3, 200)), 32),
        ("CG abs 1e-3, 1000 it (eager)", eager(cg(1e-3, 1e-3, 1000)), 32),
        ("CG rel 1e-5, abs 0, rank_deficiency=1, 1000 it (eager)", eager(cg(0.0, 1e-5, 1000, rank=1)), 32),
        ("  + warm start from the previous pressure (eager)", eager(cg(0.0, 1e-5, 1000, rank=1, warm=True)), 32),
        ("  + float64 (eager)", eager(cg(0.0, 1e-5, 1000, rank=1)), 64),
        ("CG rel 1e-5, rank_deficiency=1, 1000 it (jit)", jitted(cg(0.0, 1e-5, 1000, rank=1)), 32),
        ("Solve('auto') (jit)", jitted(lambda previous: Solve("auto", 1e-5, 0.0, rank_deficiency=1)), 32),
        ("direct spectral solve (platform, jit)", spectral, 32),
    ]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = build_physics({**PHYSICS, "resolution": [args.resolution] * 2}, IC, device="cpu")
    state = model.initial_state(args.batch, 0)
    b = model.true_params()["b"]
    print(f"| {args.resolution}^2 x {args.batch}, {args.steps} steps | steps done | first failure | "
          f"worst max|div u| dx/max|u| | ms/step |")
    print("|---|---|---|---|---|")
    for label, step, precision in configurations(model):
        r = measure(model, label, step, state, b, args.steps, precision)
        print(f"| {r['label']} | {r['steps_ok']} | {r['error'] or '—'} | {r['worst']:.1e} | {r['ms']:.0f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
