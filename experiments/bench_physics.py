"""Benchmark: the platform's jit-compiled PhiFlow Burgers 2D step against pure PyTorch.

Both sides run the SAME scheme on the periodic unit square (centered grid, scalar nu):
``n`` explicit Euler diffusion sub-steps of ``dt / n`` with the conservative 5-point stencil
``u + sum_d [c (u_{i+1} - u_i) - c (u_i - u_{i-1})]``, ``c = nu (dt / n) / dx^2``, then one
semi-Lagrangian self-advection step: backtrace every cell centre by ``-dt u`` and interpolate
bilinearly between cell centres with periodic wrap-around. ``n`` is read from the platform model
(``model.diffusion_substeps``, chosen by the platform from ``nu.upper``), so the reference does
exactly the platform's work. The PhiFlow side is ``model.step`` of a model built by
``hyco.physics.registry.build_physics`` from ``conf/physics/burgers_2d.yaml`` with the resolution,
``dt`` and ``nu`` of each case.

Before timing, the bench checks that the two agree on the same input: one step and a chain of
``--steps`` steps in float32 (``--tol``), and one step in float64 (``--tol64``), together with
how far two nearby schemes are (one sub-step fewer, no diffusion) so that the tolerance is seen
to tell the schemes apart.

Timing: per case, ``--warmup`` untimed chains, then ``--repeats`` timed chains of ``--steps``
steps from the same initial state, PhiFlow and torch interleaved (so that load from other
processes hits both alike); the median seconds per step is reported. ``time.perf_counter`` is
used, with ``torch.cuda.synchronize()`` around every timed chain on CUDA. The converter's round
trip ``state -> tensor -> state`` (``state_to_tensor`` then ``tensor_to_state``) is timed the same
way and reported as a fraction of one PhiFlow step.

    python experiments/bench_physics.py                      # 64^2, 128^2 x batch 1, 8; 1 thread; auto device
    python experiments/bench_physics.py --threads 2 --device cpu --sizes 128 --batches 8
    python experiments/bench_physics.py --nu-upper 0.01      # the platform then needs 1 sub-step
    python experiments/bench_physics.py --profile            # + torch.profiler top ops of the goal case
    python experiments/bench_physics.py --skip-burgers       # only heat, gray_scott, inviscid_burgers (full presets)
    python experiments/bench_physics.py --skip-burgers --models --smoke   # only the smoke cases

``--smoke`` adds the smoke model (``bench_smoke.py``: 32², 64², 128² x batch 1, 4; forward ms per
step, forward and backward of a 5-step rollout; goal: backward <= 3x forward).

``--models`` (default: all) also times each other model's step at its full preset size
(``conf/physics/<name>.yaml``, batch 8) against a pure-torch reference of the same scheme written
in this file (heat: conservative divergence-form stencil with walls on the faces; Gray–Scott:
the inner explicit Euler steps; inviscid Burgers: Godunov / semi-Lagrangian sub-steps plus the
centered-difference force), after checking that both agree (``--model-tol``). Goal: ratio <= 1.5.

Exit status: 0 when the schemes agree and the goal (ratio <= 2 at 128^2, batch 8) is met,
1 when the goal is missed (or not measured), 2 when the schemes disagree.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import bench_smoke  # experiments/ is the script's directory, hence on sys.path
import torch
import torch.nn.functional as F

GOAL_RATIO = 2.0
GOAL_CASE = (128, 8)  # resolution, batch
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "conf" / "physics" / "burgers_2d.yaml"


# ------------------------------------------------------------------------------------------------
# the pure-PyTorch reference of the platform's scheme; u is [B, 2, X, Y] (component c = axis c)
# ------------------------------------------------------------------------------------------------
def reference_diffusion(u: torch.Tensor, nu: float, dt: float, dx: Sequence[float], substeps: int) -> torch.Tensor:
    """``substeps`` explicit Euler steps of ``dt / substeps`` of ``nu * laplace(u)``, periodic,
    written like the platform's conservative stencil (constant nu: face viscosity = nu)."""
    coef = [nu * (dt / substeps) / h ** 2 for h in dx]
    for _ in range(substeps):
        total = 0
        for c, axis in zip(coef, (2, 3)):
            total = total + (c * (torch.roll(u, -1, axis) - u) - c * (u - torch.roll(u, 1, axis)))
        u = u + total
    return u


def reference_advection(u: torch.Tensor, dt: float, dx: Sequence[float]) -> torch.Tensor:
    """Semi-Lagrangian self-advection: the value at cell centre ``x_i`` becomes ``u(x_i - dt u_i)``,
    bilinear between cell centres, periodic. In index units the backtrace point of cell ``(i, j)``
    is ``(i - dt u_x / dx, j - dt u_y / dy)``; it is wrapped into ``[0, N)``, and the grid is padded
    by one periodic layer so that ``grid_sample`` (``align_corners=True``: sample k sits at
    normalised ``-1 + 2k / (N + 1)``) interpolates across the seam."""
    _, _, nx, ny = u.shape
    ix = torch.arange(nx, dtype=u.dtype, device=u.device).view(1, nx, 1)
    iy = torch.arange(ny, dtype=u.dtype, device=u.device).view(1, 1, ny)
    px = torch.remainder(ix - (dt / dx[0]) * u[:, 0], nx) + 1  # index in the padded grid
    py = torch.remainder(iy - (dt / dx[1]) * u[:, 1], ny) + 1
    # grid_sample: input dims (H, W) = (x, y); grid[..., 0] indexes W (= y), grid[..., 1] H (= x)
    grid = torch.stack([py * (2.0 / (ny + 1)) - 1, px * (2.0 / (nx + 1)) - 1], dim=-1)
    padded = F.pad(u, (1, 1, 1, 1), mode="circular")
    return F.grid_sample(padded, grid, mode="bilinear", padding_mode="border", align_corners=True)


def reference_step(u: torch.Tensor, nu: float, dt: float, dx: Sequence[float], substeps: int) -> torch.Tensor:
    """One step: diffuse, then advect with the diffused velocity (the platform's splitting)."""
    return reference_advection(reference_diffusion(u, nu, dt, dx, substeps), dt, dx)


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def auto_dt(n: int, nu: float, diffusion_number: float) -> float:
    """``dt`` with ``nu dt / dx^2 = diffusion_number`` on the unit square (one explicit step of
    the true nu is stable for ``diffusion_number <= 0.25`` in 2D)."""
    return diffusion_number * (1.0 / n) ** 2 / nu


def build_model(config: Path, n: int, dt: float, nu: float, nu_upper: Optional[float]) -> Any:
    """The platform's Burgers model from its physics config, with this case's resolution/dt/nu."""
    from omegaconf import OmegaConf

    from hyco.config import PhysicsConfig
    from hyco.physics.registry import build_physics

    cfg = OmegaConf.merge(OmegaConf.structured(PhysicsConfig), OmegaConf.load(config))
    cfg.resolution = [n, n]
    cfg.dt = dt
    cfg.params.nu.true_value = nu
    if nu_upper is not None:
        cfg.params.nu.upper = nu_upper
    if cfg.name != "burgers" or cfg.dim != 2 or str(getattr(cfg.grid, "value", cfg.grid)) != "centered" \
            or str(getattr(cfg.params.nu.kind, "value", cfg.params.nu.kind)) != "scalar":
        raise SystemExit(f"{config}: the bench needs a 2D centered Burgers with a scalar nu")
    return build_physics(cfg)


def timer(device: torch.device) -> Callable[[Callable[[], Any]], float]:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def run(fn: Callable[[], Any]) -> float:
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - t0

    return run


def chain(step: Callable[[Any], Any], x: Any, k: int) -> Any:
    for _ in range(k):
        x = step(x)
    return x


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


# ------------------------------------------------------------------------------------------------
# one case
# ------------------------------------------------------------------------------------------------
def run_case(n: int, batch: int, args: argparse.Namespace, device: torch.device) -> Dict[str, Any]:
    from phiml import math

    dt = args.dt if args.dt is not None else auto_dt(n, args.nu, args.diffusion_number)
    model = build_model(args.config, n, dt, args.nu, args.nu_upper)
    conv = model.converter
    params = model.true_params()
    nu = float(params["nu"].native())  # the float32 value the platform uses
    substeps, dx = int(model.diffusion_substeps), tuple(model.dx)
    state0 = model.initial_state(batch, args.seed)
    u0 = conv.state_to_tensor(state0).detach().clone().contiguous()
    umax = float(u0.norm(dim=1).max())

    phi_step = lambda s: model.step(s, params)  # noqa: E731
    ref_step = lambda u: reference_step(u, nu, dt, dx, substeps)  # noqa: E731

    # --- agreement, float32: one step and a chain of --steps steps from the same input
    err1 = max_abs(conv.state_to_tensor(phi_step(state0)), ref_step(u0))
    errk = max_abs(conv.state_to_tensor(chain(phi_step, state0, args.steps)), chain(ref_step, u0, args.steps))

    # --- timing (PhiFlow and torch interleaved), then the converter round trip
    clock = timer(device)
    phi_run = lambda: chain(phi_step, state0, args.steps)  # noqa: E731
    ref_run = lambda: chain(ref_step, u0, args.steps)  # noqa: E731
    for _ in range(args.warmup):
        phi_run(), ref_run()
    t_phi, t_ref = [], []
    for _ in range(args.repeats):
        t_phi.append(clock(phi_run) / args.steps)
        t_ref.append(clock(ref_run) / args.steps)
    traces = model.trace_count
    round_trip = lambda: conv.tensor_to_state(conv.state_to_tensor(state0))  # noqa: E731
    for _ in range(args.warmup):
        round_trip()
    t_rt = statistics.median(clock(round_trip) for _ in range(max(args.repeats, 20)))
    rt_exact = max_abs(conv.state_to_tensor(round_trip()), u0) == 0.0

    # --- agreement, float64 (one step; retraces the step once), and the nearby schemes
    err64 = fewer = nodiff = float("nan")
    if not args.no_f64_check:
        u64 = u0.double()
        with math.precision(64):
            out64 = conv.state_to_tensor(model.step(conv.tensor_to_state(u64), params))
        err64 = max_abs(out64, reference_step(u64, nu, dt, dx, substeps))
        fewer = max_abs(out64, reference_step(u64, nu, dt, dx, max(substeps - 1, 1))) if substeps > 1 else float("nan")
        nodiff = max_abs(out64, reference_advection(u64, dt, dx))

    phi_ms, ref_ms = 1e3 * statistics.median(t_phi), 1e3 * statistics.median(t_ref)
    result = {
        "n": n, "batch": batch, "dt": dt, "substeps": substeps, "umax": umax,
        "diffusion_number": nu * dt / dx[0] ** 2, "cfl": umax * dt / dx[0],
        "phi_ms": phi_ms, "ref_ms": ref_ms, "ratio": phi_ms / ref_ms,
        "phi_iqr": iqr_ms(t_phi), "ref_iqr": iqr_ms(t_ref),
        "rt_ms": 1e3 * t_rt, "rt_frac": 1e3 * t_rt / phi_ms, "rt_exact": rt_exact,
        "err1": err1, "errk": errk, "err64": err64, "fewer": fewer, "nodiff": nodiff, "traces": traces,
    }
    if args.profile and (n, batch) == GOAL_CASE:
        result["profile"] = profile_step(phi_run, args.steps)
    return result


def iqr_ms(samples: List[float]) -> float:
    if len(samples) < 4:
        return float("nan")
    q = statistics.quantiles(samples, n=4)
    return 1e3 * (q[2] - q[0])


def profile_step(fn: Callable[[], Any], steps: int) -> str:
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=acts) as prof:
        for _ in range(3):
            fn()
    return (f"torch.profiler, PhiFlow step, {3 * steps} steps (self time per op):\n"
            + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


# ------------------------------------------------------------------------------------------------
# the other models (--models): each full preset's step against a pure-torch reference of its scheme
# ------------------------------------------------------------------------------------------------
MODEL_GOAL_RATIO = 1.5
MODEL_CONFIGS = {  # physics config, IC prior, batch
    "heat": ("heat.yaml", {"name": "dirichlet_sines", "max_wavenumber": 3}, 8),
    "gray_scott": ("gray_scott.yaml", {"name": "spots"}, 8),
    "inviscid_burgers_1d": ("inviscid_burgers_1d.yaml", {"name": "fourier", "max_wavenumber": 4}, 8),
    "inviscid_burgers_2d": ("inviscid_burgers_2d.yaml", {"name": "fourier", "max_wavenumber": 4}, 8),
}


def _walled(u: torch.Tensor, axis: int, dirichlet: bool) -> torch.Tensor:
    """One ghost layer on both ends of ``axis``: ``-u`` (zero-value wall on the face) or ``u``."""
    n = u.shape[axis]
    lo, hi = u.narrow(axis, 0, 1), u.narrow(axis, n - 1, 1)
    return torch.cat([-lo, u, -hi] if dirichlet else [lo, u, hi], axis)


def reference_heat(u: torch.Tensor, kappa: torch.Tensor, dt: float, dx: Sequence[float], substeps: int,
                   dirichlet: bool) -> torch.Tensor:
    """div(kappa grad u), explicit, conservative, walls on the outer faces; u [B, X, Y], kappa [X, Y]."""
    tau = dt / substeps
    faces = []
    for axis, h in zip((-2, -1), dx):
        kp = _walled(kappa, axis, False)
        n = kappa.shape[axis]
        plus = 0.5 * (kappa + kp.narrow(axis, 2, n)) * (tau / h ** 2)
        minus = 0.5 * (kappa + kp.narrow(axis, 0, n)) * (tau / h ** 2)
        faces.append((axis, plus, minus))
    for _ in range(substeps):
        total = 0
        for axis, plus, minus in faces:
            p = _walled(u, axis, dirichlet)
            n = u.shape[axis]
            total = total + plus * (p.narrow(axis, 2, n) - u) - minus * (u - p.narrow(axis, 0, n))
        u = u + total
    return u


def reference_gray_scott(u, v, du, dv, feed, kill, tau, steps, dx):
    for _ in range(steps):
        lu = sum((torch.roll(u, 1, a) + torch.roll(u, -1, a) - 2 * u) / h ** 2 for a, h in zip((-2, -1), dx))
        lv = sum((torch.roll(v, 1, a) + torch.roll(v, -1, a) - 2 * v) / h ** 2 for a, h in zip((-2, -1), dx))
        uvv = u * v * v
        u, v = (u + (du * tau * lu + tau * (-uvv + feed * (1 - u))),
                v + (dv * tau * lv + tau * (uvv - (feed + kill) * v)))
    return u, v


def reference_inviscid(u: torch.Tensor, phi: torch.Tensor, dt: float, dx: Sequence[float], substeps: int):
    """n sub-steps of (advect: 1D Godunov / 2D semi-Lagrangian, then u -= tau grad phi); u [B, C, *s]."""
    tau = dt / substeps
    dims = u.ndim - 2
    grad = torch.stack([(torch.roll(phi, -1, a) - torch.roll(phi, 1, a)) * (0.5 / h)
                        for a, h in zip(range(-dims, 0), dx)], 0)
    for _ in range(substeps):
        if dims == 1:
            flux = 0.5 * torch.maximum(u.clamp(min=0) ** 2, torch.roll(u, -1, -1).clamp(max=0) ** 2)
            u = u - (tau / dx[0]) * (flux - torch.roll(flux, 1, -1))
        else:
            u = reference_advection(u, tau, dx)
        u = u - tau * grad
    return u


def run_model_case(name: str, args: argparse.Namespace, device: torch.device) -> Dict[str, Any]:
    from omegaconf import OmegaConf

    from hyco.config import PhysicsConfig
    from hyco.physics.registry import build_physics

    file, ic, batch = MODEL_CONFIGS[name]
    cfg = OmegaConf.merge(OmegaConf.structured(PhysicsConfig), OmegaConf.load(DEFAULT_CONFIG.parent / file))
    model = build_physics(cfg, ic)
    conv, params = model.converter, model.true_params()
    state0 = model.initial_state(batch, args.seed)
    x0 = conv.state_to_tensor(state0).detach().clone().contiguous()
    native = {n: t.native(list(model.spatial_names)) if t.shape.rank else float(t.native()) for n, t in params.items()}
    dx = tuple(model.dx)
    if name == "heat":
        dirichlet = model.field_specs[0].boundary[0] == "dirichlet"
        ref = lambda x: reference_heat(x[:, 0], native["kappa"], model.dt, dx, model.diffusion_substeps,  # noqa: E731
                                       dirichlet)[:, None]
        work = f"{model.diffusion_substeps} sub-steps"
    elif name == "gray_scott":
        def ref(x):
            u, v = reference_gray_scott(x[:, 0], x[:, 1], native["Du"], native["Dv"], native["F"], native["k"],
                                        model.inner_dt, model.inner_steps, dx)
            return torch.stack([u, v], 1)
        work = f"{model.inner_steps} inner steps"
    else:
        ref = lambda x: reference_inviscid(x, native["phi"], model.dt, dx, model.advection_substeps)  # noqa: E731
        work = f"{model.advection_substeps} sub-steps"
    phi_step = lambda s: model.step(s, params)  # noqa: E731
    err = max_abs(conv.state_to_tensor(chain(phi_step, state0, args.steps)), chain(ref, x0, args.steps))
    clock = timer(device)
    phi_run = lambda: chain(phi_step, state0, args.steps)  # noqa: E731
    ref_run = lambda: chain(ref, x0, args.steps)  # noqa: E731
    for _ in range(args.warmup):
        phi_run(), ref_run()
    t_phi, t_ref = [], []
    for _ in range(args.model_repeats):
        t_phi.append(clock(phi_run) / args.steps)
        t_ref.append(clock(ref_run) / args.steps)
    phi_ms, ref_ms = 1e3 * statistics.median(t_phi), 1e3 * statistics.median(t_ref)
    return {"name": name, "size": "x".join(map(str, model.resolution)), "batch": batch, "work": work, "err": err,
            "phi_ms": phi_ms, "ref_ms": ref_ms, "ratio": phi_ms / ref_ms, "traces": model.trace_count}


def report_models(args: argparse.Namespace, device: torch.device) -> bool:
    rows = [run_model_case(n, args, device) for n in args.models]
    print()
    print(f"| model (full preset) | grid, batch | work per step | PhiFlow ms/step | torch ms/step | ratio (goal <= "
          f"{MODEL_GOAL_RATIO:g}) | max abs diff after {args.steps} steps | traces |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['size']}, b{r['batch']} | {r['work']} | {r['phi_ms']:.2f} | {r['ref_ms']:.2f} | "
              f"{r['ratio']:.2f} | {r['err']:.1e} | {r['traces']} |")
    return all(r["err"] <= args.model_tol for r in rows)


# ------------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------------
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="grid cells per axis")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--steps", type=int, default=5, help="steps per timed chain")
    parser.add_argument("--warmup", type=int, default=3, help="untimed chains per case")
    parser.add_argument("--repeats", type=int, default=20, help="timed chains per case (median)")
    parser.add_argument("--nu", type=float, default=0.01)
    parser.add_argument("--nu-upper", type=float, default=None,
                        help="override physics.params.nu.upper (the platform picks its sub-steps from it)")
    parser.add_argument("--dt", type=float, default=None, help="fixed dt (default: nu dt/dx^2 = --diffusion-number)")
    parser.add_argument("--diffusion-number", type=float, default=0.2,
                        help="nu dt/dx^2 of the automatic dt (<= 0.25: one explicit step of nu is stable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="physics config (YAML)")
    parser.add_argument("--tol", type=float, default=1e-5, help="float32 max-abs agreement (max|u| ~ 1)")
    parser.add_argument("--tol64", type=float, default=1e-8, help="float64 max-abs agreement, one step")
    parser.add_argument("--no-f64-check", action="store_true", help="skip the float64 agreement check")
    parser.add_argument("--profile", action="store_true", help="print torch.profiler top ops for 128^2, b8")
    parser.add_argument("--models", nargs="*", default=list(MODEL_CONFIGS), choices=list(MODEL_CONFIGS),
                        help="other models to bench at their full preset size (default: all; none: Burgers only)")
    parser.add_argument("--skip-burgers", action="store_true", help="only the --models cases")
    parser.add_argument("--model-repeats", type=int, default=5, help="timed chains per model case (median)")
    parser.add_argument("--model-tol", type=float, default=1e-4, help="float32 max-abs agreement of the models")
    parser.add_argument("--smoke", action="store_true", help="also bench the smoke model (bench_smoke.py)")
    bench_smoke.add_arguments(parser, "smoke-")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    want_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if want_cuda and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    device = torch.device("cuda" if want_cuda else "cpu")

    t_import = time.perf_counter()
    from phi.torch import TORCH

    import hyco.physics  # noqa: F401  (registers the models)

    if device.type == "cuda":
        TORCH.set_default_device("GPU")
    t_import = time.perf_counter() - t_import

    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {args.threads} torch thread(s)"
    load = " | load avg %.2f %.2f %.2f" % os.getloadavg() if hasattr(os, "getloadavg") else ""
    print(f"# Burgers 2D step: platform PhiFlow (jit) vs pure PyTorch | {name} | torch {torch.__version__} | "
          f"{os.cpu_count()} cores{load} | imports {t_import:.1f} s")
    print(f"# nu={args.nu:g}, config {args.config.name}"
          + (f", nu.upper={args.nu_upper:g}" if args.nu_upper is not None else " (its nu.upper)")
          + f"; median of {args.repeats} chains of {args.steps} steps after {args.warmup} warm-up chains")

    rows: List[Dict[str, Any]] = []
    t_all = time.perf_counter()
    smoke_ok = True
    if args.smoke:
        smoke_ok = bench_smoke.report(args.smoke_sizes, args.smoke_batches, args.smoke_repeats, args.smoke_spinup,
                                      device)
    if args.skip_burgers:
        ok = report_models(args, device) if args.models else True
        print(f"(bench wall time {time.perf_counter() - t_all:.1f} s)")
        return 0 if ok and smoke_ok else (2 if not ok else 1)
    for n in args.sizes:
        for b in args.batches:
            rows.append(run_case(n, b, args, device))
            r = rows[-1]
            print(f"  {n}^2 b{b}: dt={r['dt']:.3g} (nu dt/dx^2={r['diffusion_number']:.3g}, "
                  f"max|u| dt/dx={r['cfl']:.3g}, max|u|={r['umax']:.3g}), {r['substeps']} diffusion sub-steps, "
                  f"{r['traces']} jit trace(s)", flush=True)

    print()
    print("| case | PhiFlow ms/step | torch ms/step | ratio | round trip ms | round trip / step |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']}², b{r['batch']} | {r['phi_ms']:.3f} (IQR {r['phi_iqr']:.2f}) | {r['ref_ms']:.3f} "
              f"(IQR {r['ref_iqr']:.2f}) | {r['ratio']:.2f} | {r['rt_ms']:.3f} | {100 * r['rt_frac']:.1f} % |")

    print()
    ok_agree = True
    print(f"Agreement, max |PhiFlow - torch| (max|u| ~ 1): float32 tol {args.tol:g}"
          + ("" if args.no_f64_check else f", float64 tol {args.tol64:g}"))
    for r in rows:
        ok = r["err1"] <= args.tol and r["errk"] <= args.tol
        line = f"  {r['n']}², b{r['batch']}: f32 1 step {r['err1']:.2e}, {args.steps} steps {r['errk']:.2e}"
        if not args.no_f64_check:
            ok = ok and r["err64"] <= args.tol64
            fewer = f"vs {r['substeps'] - 1} sub-steps {r['fewer']:.2e}, " if r["substeps"] > 1 else ""
            line += f"; f64 1 step {r['err64']:.2e} ({fewer}vs no diffusion {r['nodiff']:.2e})"
        line += f"; round trip exact: {r['rt_exact']}"
        print(line + ("" if ok else "  <-- DISAGREE"))
        ok_agree = ok_agree and ok and r["rt_exact"]

    goal = next((r for r in rows if (r["n"], r["batch"]) == GOAL_CASE), None)
    print()
    if goal is None:
        print(f"GOAL: PhiFlow/torch ratio <= {GOAL_RATIO:g} at 128², batch 8: not measured in this run")
    else:
        met = goal["ratio"] <= GOAL_RATIO
        print(f"GOAL: PhiFlow/torch ratio <= {GOAL_RATIO:g} at 128², batch 8: ratio {goal['ratio']:.2f} "
              f"({goal['phi_ms']:.2f} / {goal['ref_ms']:.2f} ms, {goal['substeps']} sub-steps) "
              f"-> {'MET' if met else 'NOT MET'}")
        if "profile" in goal:
            print()
            print(goal["profile"])
    if args.models:
        ok_agree = report_models(args, device) and ok_agree
    print(f"(bench wall time {time.perf_counter() - t_all:.1f} s)")
    if not ok_agree:
        return 2
    return 0 if goal is not None and goal["ratio"] <= GOAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
