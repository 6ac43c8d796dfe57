"""Why the undamped wave alone finds ``c``: its rollout misfit as a function of ``c``, per protocol.

    python experiments/aphynity_wave_misfit.py            # every setting below (one CPU thread, about 4 min)

APHYNITY's "incomplete physics alone" fits the undamped wave ``w_tt = c² Δw`` to damped data
(``c = 330``, ``k = 50``) by minimising the MSE of 24-step RK4 rollouts over its training windows
(both fields ``w`` and ``w_t``, as the paper's ``nn.MSELoss`` on the states and our
``physical_only``). The fitted ``c`` is where that misfit is least, so this script prints the
misfit over ``c`` and its minimiser for the windows of each setting, and beside it ``c°``, where
APHYNITY's objective puts ``c`` once the windows are fitted exactly (:func:`exact_fit_c`):

* ``ours``: the preset ``aphynity_wave`` (its grid, 32 cells of dx = 2 on the paper's 64-unit box,
  its Gaussian-bump prior, the truth as ``data.truth``: the 2nd-order 5-point Laplacian with
  zero-gradient walls, RK4 at 1e-4; the training trajectory of comparison seed k, 75 frames cut
  into 50 windows of 25 frames); ``previous preset``: the same on a 32-unit box of unit cells,
  the bump's spread scaled by 1/4 (the preset before 2026-12-03);
* ``theirs``: APHYNITY's code (github.com/yuan-yin/APHYNITY, ``datasets/wave.py``,
  ``datasets/__init__.py``, ``networks.py``): 64², the training trajectory's initial state from
  ``np.random.seed(2**31 - 1)``, the truth with the *4th-order* per-axis 5-point Laplacian
  (``order=5``) set to zero on the two outer cells of each axis, RK4 at the frame step 1e-3
  (torchdiffeq's fixed grid), 225 frames, 200 windows; the learner's Laplacian the 2nd-order
  5-point one (``conv2d`` without padding, then zero-padded: zero on the outer ring);
* mixtures of the two, one element changed at a time, to say which element moves the minimiser.

Float64, batched over the windows; ``c`` from a scan, then refined by a bounded scalar search.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from typing import Callable, List, Sequence, Tuple

import numpy as np
import torch
from scipy.optimize import minimize_scalar

from hyco.compose import compose_config
from hyco.physics import build_physics
from hyco.physics.integrators import rk4
from hyco.physics.tensor_ops import laplace

C_TRUE, K_TRUE, FRAME_DT, WINDOW = 330.0, 50.0, 1e-3, 25
SCAN = (250.0, 280.0, 300.0, 320.0, 330.0, 340.0, 360.0, 380.0, 420.0)
Laplacian = Callable[[torch.Tensor], torch.Tensor]


def lap2_neumann(w: torch.Tensor) -> torch.Tensor:
    """Ours (the model's own stencil, :func:`hyco.physics.tensor_ops.laplace`): 2nd-order 5-point
    Laplacian, unit cells, zero-gradient walls."""
    return laplace(w[:, None], (1.0, 1.0), ("neumann", "neumann"))[:, 0]


def lap2_zero_ring(w: torch.Tensor) -> torch.Tensor:
    """Their learner (``DampedWaveParamPDE``): 2nd-order stencil on the interior, 0 on the outer ring."""
    out = torch.zeros_like(w)
    out[..., 1:-1, 1:-1] = (w[..., 2:, 1:-1] + w[..., :-2, 1:-1] + w[..., 1:-1, 2:] + w[..., 1:-1, :-2]
                            - 4 * w[..., 1:-1, 1:-1])
    return out


def lap4_their_edges(w: torch.Tensor) -> torch.Tensor:
    """Their truth (``DampedWaveEquation._f``, ``order=5``): the 4th-order per-axis stencil
    ``(-1, 16, -30, 16, -1) / 12``, each axis' term zero on that axis' two outer cells."""
    zz, xx = torch.zeros_like(w), torch.zeros_like(w)
    zz[..., :, 2:-2] = (-w[..., :, 4:] + 16 * w[..., :, 3:-1] - 30 * w[..., :, 2:-2] + 16 * w[..., :, 1:-3]
                        - w[..., :, :-4]) / 12
    xx[..., 2:-2, :] = (-w[..., 4:, :] + 16 * w[..., 3:-1, :] - 30 * w[..., 2:-2, :] + 16 * w[..., 1:-3, :]
                        - w[..., :-4, :]) / 12
    return zz + xx


def rk4_frames(w: torch.Tensor, v: torch.Tensor, lap: Laplacian, c: float, k: float, steps_per_frame: int,
               frames: int) -> torch.Tensor:
    """``frames`` frames of ``FRAME_DT`` of ``w_tt = c² Δw − k w_t`` by the models' RK4
    (:func:`hyco.physics.integrators.rk4`): ``[frames + 1, B, 2, n, n]``."""

    def rates(x):
        return {"w": x["v"], "v": c * c * lap(x["w"]) - k * x["v"]}

    state = {"w": w, "v": v}
    out = [torch.stack([w, v], 1)]
    for _ in range(frames):
        state = rk4(rates, state, FRAME_DT, steps_per_frame)
        out.append(torch.stack([state["w"], state["v"]], 1))
    return torch.stack(out)


def their_initial_state(n: int, dx: float) -> torch.Tensor:
    """``DampedWaveEquation._get_initial_condition`` of the training split (seed ``2**31 - 1``:
    spread 45.4, centre (32, 28)) on the nodes ``0, dx, …``; with ``n · dx < 64`` (a smaller box)
    the centre and spread are scaled with the box."""
    np.random.seed(np.iinfo(np.int32).max)
    box = n * dx / 64
    spread = np.random.uniform(10, 100) * box ** 2
    mean = np.random.randint(low=20, high=40, size=(2,)) * box
    x, y = np.meshgrid(np.arange(n) * dx, np.arange(n) * dx)
    return torch.tensor(np.exp(-((x - mean[0]) ** 2 + (y - mean[1]) ** 2) / spread))[None]


def our_initial_state(seed: int, overrides: Sequence[str] = ()) -> Tuple[torch.Tensor, Tuple[float, ...]]:
    """The preset's prior (``conf/experiment/aphynity_wave.yaml`` with ``overrides``) for one seed:
    ``w`` ``[1, n, n]`` and its cell sizes."""
    cfg = compose_config(["experiment=aphynity_wave", "torch_threads=1", *overrides])
    model = build_physics(dict(cfg.physics), cfg.data.ic, jit=False)
    arrays = model.converter.to_numpy(model.initial_state(1, [seed]))
    return torch.tensor(arrays["w"][:, 0], dtype=torch.float64), tuple(model.dx)


@dataclass(frozen=True)
class Setting:
    """One way of building the training windows and the learner."""

    name: str
    ic: str = "ours"            # "ours" (the preset's prior) or "theirs" (their seed, scaled to n)
    n: int = 32
    truth_lap: str = "lap2_neumann"
    truth_steps: int = 10       # RK4 steps per frame of the truth (ours 1e-4, theirs 1e-3)
    frames: int = 75            # frames of the one training trajectory (ours 75, theirs 225)
    learner_lap: str = "lap2_neumann"
    k: float = K_TRUE
    dx: float = 1.0             # cell size (ours and theirs: 1)
    overrides: tuple = ()       # preset overrides for our prior


def scaled(name: str, dx: float) -> Laplacian:
    """The stencil ``name`` divided by ``dx²``."""
    return lambda w: LAPLACIANS[name](w) / dx ** 2


LAPLACIANS = {"lap2_neumann": lap2_neumann, "lap2_zero_ring": lap2_zero_ring, "lap4_their_edges": lap4_their_edges}


def windows(setting: Setting, seed: int) -> torch.Tensor:
    """The setting's training windows ``[W, 25, 2, n, n]`` from one trajectory."""
    # the training trajectory of comparison seed k: data.seed = 1000 k (compare.py), train offset 0
    if setting.ic == "ours":
        w0, dx = our_initial_state(1000 * seed, setting.overrides)
        if w0.shape[-1] != setting.n or any(abs(h - setting.dx) > 1e-12 for h in dx):
            raise ValueError(f"{setting.name}: the preset's grid is {w0.shape[-1]} cells of {dx}, "
                             f"not {setting.n} of {setting.dx}")
    else:
        w0 = their_initial_state(setting.n, setting.dx)
    traj = rk4_frames(w0, torch.zeros_like(w0), scaled(setting.truth_lap, setting.dx), C_TRUE, setting.k,
                      setting.truth_steps, setting.frames - 1)[:, 0]
    return torch.stack([traj[s:s + WINDOW] for s in range(setting.frames - WINDOW)])


def misfit(data: torch.Tensor, lap: Laplacian, c: float) -> float:
    """MSE of the undamped learner's 24-step rollouts (one RK4 step per frame) from each window's
    first frame, over both fields and every predicted frame."""
    x0 = data[:, 0]
    pred = rk4_frames(x0[:, 0], x0[:, 1], lap, c, 0.0, 1, WINDOW - 1)  # [25, W, 2, n, n]
    return float(((pred[1:].transpose(0, 1) - data[:, 1:]) ** 2).mean())


def exact_fit_c(data: torch.Tensor, setting: Setting) -> float:
    """APHYNITY's exact-fit limit on the windows (:mod:`hyco.arms.aphynity_optimum`): the ``c`` of
    the least-squares fit of the learner's ``c² Δw`` to the truth's ``c² Δw − k w_t`` over every
    window state (``F_a = F − F_p`` at the states, its mean square least; the ``w`` rows agree)."""
    w, v = data[:, :, 0].flatten(0, 1), data[:, :, 1].flatten(0, 1)
    truth = C_TRUE ** 2 * scaled(setting.truth_lap, setting.dx)(w) - setting.k * v
    learner = scaled(setting.learner_lap, setting.dx)(w)
    return float(((truth * learner).sum() / learner.square().sum()).sqrt())


def report(setting: Setting, seeds: Sequence[int]) -> List[float]:
    """Print the misfit over ``SCAN`` and the minimiser; return the minimisers over ``seeds``."""
    lap = scaled(setting.learner_lap, setting.dx)
    best = []
    for seed in seeds if setting.ic == "ours" else [0]:
        start = time.perf_counter()
        data = windows(setting, seed)
        scan = [misfit(data, lap, c) for c in SCAN]
        i = int(np.argmin(scan))
        lo, hi = SCAN[max(i - 1, 0)], SCAN[min(i + 1, len(SCAN) - 1)]
        res = minimize_scalar(lambda c: misfit(data, lap, c), bounds=(lo, hi), method="bounded",
                              options={"xatol": 0.05})
        best.append(float(res.x))
        curve = " ".join(f"{c:.0f}:{m:.3g}" for c, m in zip(SCAN, scan))
        limit = exact_fit_c(data, setting)
        print(f"  {setting.name:44s} seed {seed}: c* = {res.x:7.2f} (%Err {100 * abs(res.x - C_TRUE) / C_TRUE:5.2f}), "
              f"misfit(c*) {res.fun:.3g}, misfit(330) {misfit(data, lap, C_TRUE):.3g}, "
              f"{len(data)} windows, {time.perf_counter() - start:.0f} s\n      misfit over c: {curve}\n"
              f"      APHYNITY's exact-fit limit c° = {limit:.2f} (%Err {100 * abs(limit - C_TRUE) / C_TRUE:.2f})",
              flush=True)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3,
                        help="the training trajectories of comparison seeds 0 … N−1 (settings with our prior)")
    parser.add_argument("--only", default=None, help="run the settings whose name contains this")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    ours = Setting("ours (preset)", dx=2.0)
    before = replace(ours, name="ours, previous preset (box 32, dx = 1)", dx=1.0,
                     overrides=("physics.domain_size=32", "data.ic.spread_lower=2.5", "data.ic.spread_upper=25"))
    theirs = Setting("theirs (APHYNITY's code)", ic="theirs", n=64, truth_lap="lap4_their_edges", truth_steps=1,
                     frames=225, learner_lap="lap2_zero_ring")
    settings = [
        ours,
        replace(ours, name="ours, truth 4th-order stencil", truth_lap="lap4_their_edges"),
        replace(ours, name="ours, 225 frames (200 windows)", frames=225),
        replace(ours, name="ours, their training IC", ic="theirs"),
        before,
        replace(before, name="ours, previous preset, 225 frames", frames=225),
        theirs,
        replace(theirs, name="theirs, truth = learner's stencil", truth_lap="lap2_zero_ring"),
        replace(theirs, name="theirs, truth 2nd-order Neumann, learner too", truth_lap="lap2_neumann",
                learner_lap="lap2_neumann", truth_steps=10),
        replace(theirs, name="theirs, 75 frames (50 windows)", frames=75),
        replace(theirs, name="theirs, no damping (k = 0)", k=0.0),
        replace(theirs, name="theirs, 32 cells of dx = 2 (the same box)", n=32, dx=2.0),
        replace(theirs, name="theirs on a 32-unit box, dx = 1 (IC scaled)", n=32),
    ]
    for setting in settings:
        if args.only is None or args.only in setting.name:
            report(setting, range(args.seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
