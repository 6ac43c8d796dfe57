"""The integrators of APHYNITY's three benchmarks, measured (float64, one CPU thread).

    python experiments/aphynity_reference.py rd        # FitzHugh-Nagumo: reference accuracy, learner step error
    python experiments/aphynity_reference.py wave      # damped wave: Euler / symplectic Euler / RK4 at the frame step
    python experiments/aphynity_reference.py pendulum  # damped pendulum: reference accuracy, learner step error

For each benchmark's preset (``conf/experiment/aphynity_*.yaml``): how far the data's reference
integrator (the truth, ``data.truth``) is from the same integrator at half its step (its own error),
and how far the learner's step (one RK4 step per frame, complete physics, true parameters) is from
the reference over the scored horizon, as APHYNITY's log MSE (natural log of the MSE): the floor
the complete physics can reach. For the wave, the integrators a step could use at the frame step
``dt = 1e-3``, against RK4 at ``1e-5``. The numbers are in the models' docstrings and docs/aphynity.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Callable, Dict

import numpy as np
import torch

from hyco.compose import compose_config
from hyco.physics import build_physics
from hyco.physics.integrators import rk4

SPLIT_SEEDS = range(16)


def preset_model(experiment: str, complete: Dict[str, object]):
    """The preset's learner with every term (the truth's equation), float64-ready."""
    cfg = compose_config([f"experiment={experiment}", "torch_threads=1"])
    physics = {**dict(cfg.physics), **complete}
    return cfg, build_physics(physics, cfg.data.ic, jit=False)


def values64(model, seeds) -> Dict[str, torch.Tensor]:
    """The preset's initial states as float64 tensors ``[B, C, *s]`` per field."""
    arrays = model.converter.to_numpy(model.initial_state(len(seeds), list(seeds)))
    return {name: torch.tensor(arr, dtype=torch.float64) for name, arr in arrays.items()}


def params64(model, cfg) -> Dict[str, torch.Tensor]:
    return {n: torch.tensor(float(s.true_value), dtype=torch.float64) for n, s in cfg.physics.params.items()}


def integrate(model, x, params, frame_dt: float, frames: int, steps_per_frame: int,
              method: Callable = rk4) -> np.ndarray:
    """``frames`` frames of ``frame_dt`` by ``method`` with ``steps_per_frame`` steps each:
    ``[frames + 1, B, C, *s]`` float64."""
    def rates(v):
        return model.rates(v, params)

    out = [stack(model, x)]
    for _ in range(frames):
        x = method(rates, x, frame_dt, steps_per_frame)
        out.append(stack(model, x))
    return np.stack(out)


def stack(model, x) -> np.ndarray:
    return torch.cat([x[n] for n in model.dynamic_fields], dim=1).numpy()


def euler(rates, x, dt, steps):
    h = dt / steps
    for _ in range(steps):
        k = rates(dict(x))
        x = {n: x[n] + h * k[n] for n in x}
    return x


def symplectic_euler(rates, x, dt, steps):
    """Kick the velocity with the current state, then drift the position with the new velocity."""
    h = dt / steps
    for _ in range(steps):
        k = rates(dict(x))
        v = x["w_t"] + h * k["w_t"]
        x = {"w": x["w"] + h * v, "w_t": v}
    return x


def log_mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.log(np.mean((a - b) ** 2)))


def reference(experiment: str, complete: Dict[str, object], horizon: int) -> None:
    cfg, model = preset_model(experiment, complete)
    frames = int(cfg.data.num_frames) - 1
    truth_dt = float(cfg.data.truth.dt)
    every = int(round(model.dt / truth_dt))
    params = params64(model, cfg)
    x = values64(model, SPLIT_SEEDS)
    start = time.perf_counter()
    ref = integrate(model, x, params, model.dt, frames, every)
    fine = integrate(model, x, params, model.dt, frames, 2 * every)
    learner = integrate(model, x, params, model.dt, frames, model.inner_steps)
    seconds = time.perf_counter() - start
    print(f"{experiment}: {len(SPLIT_SEEDS)} trajectories, {frames} frames of {model.dt:g} ({seconds:.1f} s)")
    print(f"  reference RK4 at {truth_dt:g} vs {truth_dt / 2:g}: max |diff| {np.abs(ref - fine).max():.3g}, "
          f"RMS {np.sqrt(np.mean((ref - fine) ** 2)):.3g}")
    print(f"  learner ({model.inner_steps} RK4 step(s) per frame) vs reference over {horizon} steps: RMS "
          f"{np.sqrt(np.mean((learner[1:horizon + 1] - ref[1:horizon + 1]) ** 2)):.3g}, "
          f"log MSE {log_mse(learner[1:horizon + 1], ref[1:horizon + 1]):.2f}")


def wave_integrators() -> None:
    cfg, model = preset_model("aphynity_wave", {"terms": ["propagation", "damping"]})
    frames, seeds = 224, range(4)
    params = params64(model, cfg)
    x = values64(model, seeds)
    ref = integrate(model, x, params, model.dt, frames, 100)
    scale = np.sqrt(np.mean(ref[1:] ** 2, axis=tuple(i for i in range(ref.ndim) if i != 2)))
    grid = "x".join(str(n) for n in cfg.physics.resolution)
    print(f"damped wave, {grid} cells of {model.dx[0]:g}, c = 330, k = 50, {frames} frames of {model.dt:g}; "
          f"reference RK4 at 1e-5; "
          f"RMS of (w, w_t) over the run: {scale[0]:.3g}, {scale[1]:.3g}")
    for name, method in (("explicit Euler", euler), ("symplectic Euler", symplectic_euler), ("RK4", rk4)):
        for steps in (1, 2):
            out = integrate(model, x, params, model.dt, frames, steps, method)
            err = np.sqrt(np.mean((out - ref) ** 2, axis=tuple(i for i in range(ref.ndim) if i != 2)))
            finite = np.isfinite(out).all()
            print(f"  {name:16s} {steps} step(s)/frame: RMS error (w, w_t) ({err[0]:.3g}, {err[1]:.3g})"
                  f"{'' if finite else ' — blew up'}; relative to the RMS ({err[0] / scale[0]:.2e}, "
                  f"{err[1] / scale[1]:.2e})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", choices=("rd", "wave", "pendulum"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.benchmark == "rd":
        reference("aphynity_rd", {"terms": ["diffusion", "reaction"]}, 25)
    elif args.benchmark == "wave":
        reference("aphynity_wave", {"terms": ["propagation", "damping"]}, 25)
        wave_integrators()
    else:
        reference("aphynity_pendulum", {"terms": ["gravity", "friction"]}, 40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
