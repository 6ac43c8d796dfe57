"""The elliptic solve of the static problems (issue 19): torch P1 FEM against PhiFlow's linear solve.

Problem: the papers' Helmholtz case, ``-div(kappa grad u) + eta u = f`` on ``[-pi, pi]^2``, ``u = 0`` on
the boundary, ``kappa = A exp(-|x-a|^2) + 1``, ``eta = (B exp(-|x-b|^2) + 1)^2``, truth ``u = sin x sin y``
with ``f`` derived from ``theta* = (4, -1, -1, 1, 2, 1)`` (:mod:`hyco.physics.elliptic.cases`).

Candidates:

* ``fem dense``: :mod:`hyco.physics.elliptic` P1 assembly, dense ``torch.linalg.solve`` with torch's
  autograd: the pure-torch dense solve of the assembled system, the baseline of every ratio;
* ``fem banded``: the same system, block-tridiagonal Cholesky with the adjoint backward;
* ``phiflow cg`` / ``phiflow direct``: a node-centred finite-volume discretisation of the same
  operator (``kappa`` at edge midpoints, ``eta`` and ``f`` at nodes; 5-point) solved by phiml's
  ``math.solve_linear`` (``Solve('CG')`` or ``'scipy-direct'``) inside ``math.jit_compile`` on a
  ``jit_compile_linear`` operator, gradients by phiml's implicit (adjoint) solve with ``grad_for_f``.

Printed: (1) relative L2 against ``sin x sin y`` at the nodes and on the authors' 50 x 50 evaluation
grid at 19^2, 37^2, 73^2 nodes, and the order; (2) every column of ``du/dtheta`` at 19^2 against central
differences in float64; (3) ms per "physics epoch" (theta -> coefficients -> assemble -> solve ->
bilinear interpolation at 25 points -> MSE, then its backward) at 19^2 and 101^2 nodes, float64 and
float32, one CPU thread, with ratios to ``fem dense`` measured in the same run; (4) the dense/banded
crossover that sets ``DENSE_MAX_INTERIOR``.

    python experiments/bench_elliptic.py                   # all of it, ~2-3 min on one thread
    python experiments/bench_elliptic.py --skip-dense-101  # without the dense 101^2 solves (~30 s each)
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import torch
from phi.torch import TORCH
from phiml import math as phimath
from phiml.math import Solve, spatial

from hyco.physics.elliptic import StructuredTriangulation, assemble, interpolate_bilinear, solve_interior
from hyco.physics.elliptic.cases import (
    HELMHOLTZ_TRUTH,
    helmholtz_eta,
    helmholtz_forcing,
    helmholtz_kappa,
    sine_solution,
)
from hyco.physics.elliptic.solvers import DENSE_MAX_INTERIOR, with_boundary

phimath.use(TORCH)
# the authors' JAX Helmholtz script on one core of this machine (issue 19)
AUTHORS_MS = {"HYCO epoch": 15.0, "physics-alone epoch": 5.2}
#: phiml CG relative tolerances: 1e-11 stalls in float64, 1e-5 does not converge at 101^2 in float32
CG_TOL = {torch.float64: 1e-10, torch.float32: 1e-4}
FD_EPS = 1e-5
Solver = Callable[[torch.Tensor, int, torch.dtype], torch.Tensor]  # (theta, cells, dtype) -> nodal u


# ------------------------------------------------------------------------------------------------
# the candidates: theta -> nodal u (N+1)^2
# ------------------------------------------------------------------------------------------------
def fem(method: str) -> Solver:
    def solve(theta: torch.Tensor, cells: int, dtype: torch.dtype) -> torch.Tensor:
        mesh = StructuredTriangulation(cells)
        truth = torch.tensor(HELMHOLTZ_TRUTH, dtype=dtype)
        system = assemble(mesh, helmholtz_kappa(theta), helmholtz_eta(theta), helmholtz_forcing(truth), dtype=dtype)
        return with_boundary(solve_interior(system, method))
    return solve


@phimath.jit_compile_linear
def _fv_operator(u, kx, ky, eta, h):
    """``-div(kappa grad u) + eta u`` on interior nodes, 5-point, kappa at edge midpoints, u = 0 outside."""
    padded = phimath.pad(u, {"x": (1, 1), "y": (1, 1)}, 0)
    flux_x = kx * (padded.x[1:].y[1:-1] - padded.x[:-1].y[1:-1])
    flux_y = ky * (padded.y[1:].x[1:-1] - padded.y[:-1].x[1:-1])
    return -((flux_x.x[1:] - flux_x.x[:-1]) + (flux_y.y[1:] - flux_y.y[:-1])) / h ** 2 + eta * u


def phiflow(method: str) -> Solver:
    jitted: Dict[torch.dtype, Callable] = {}

    def compiled(dtype: torch.dtype) -> Callable:
        if dtype not in jitted:
            tol = CG_TOL[dtype] if method == "CG" else 1e-6

            @phimath.jit_compile
            def solve_fv(kx, ky, eta, f, h):
                return phimath.solve_linear(_fv_operator, f, Solve(method, tol, 0, x0=0 * f, max_iterations=20000),
                                            kx, ky, eta, h, grad_for_f=True)
            jitted[dtype] = solve_fv
        return jitted[dtype]

    def solve(theta: torch.Tensor, cells: int, dtype: torch.dtype) -> torch.Tensor:
        h = 2 * math.pi / cells
        axis = torch.linspace(-math.pi, math.pi, cells + 1, dtype=dtype)
        mid, inner = axis[:-1] + h / 2, axis[1:-1]
        kappa = helmholtz_kappa(theta)
        kx = kappa(*torch.meshgrid(mid, inner, indexing="ij"))
        ky = kappa(*torch.meshgrid(inner, mid, indexing="ij"))
        x, y = torch.meshgrid(inner, inner, indexing="ij")
        eta = helmholtz_eta(theta)(x, y)
        f = helmholtz_forcing(torch.tensor(HELMHOLTZ_TRUTH, dtype=dtype))(x, y)
        wrap = lambda t: phimath.tensor(t, spatial("x,y"))  # noqa: E731
        with phimath.precision(64 if dtype == torch.float64 else 32):
            u = compiled(dtype)(wrap(kx), wrap(ky), wrap(eta), wrap(f), h)
        return with_boundary(u.native("x,y"))
    return solve


def candidates() -> Dict[str, Solver]:
    """Fresh solvers per section: a phiml function traced under ``torch.no_grad`` keeps that trace,
    and its backward then fails (``derivative for aten::bincount is not implemented``)."""
    return {"fem dense": fem("dense"), "fem banded": fem("banded"),
            "phiflow cg": phiflow("CG"), "phiflow direct": phiflow("scipy-direct")}


def backward(loss: torch.Tensor, dtype: torch.dtype) -> None:
    # phiml runs the adjoint solve at the precision active *during backward*: float32 by default,
    # which cannot reach a float64 tolerance (NotConverged)
    with phimath.precision(64 if dtype == torch.float64 else 32):
        loss.backward()


# ------------------------------------------------------------------------------------------------
# (1) accuracy and order, (2) gradients
# ------------------------------------------------------------------------------------------------
def evaluation_points(dtype: torch.dtype, n: int = 50) -> torch.Tensor:
    """The authors' evaluation grid: n x n nodes over the whole square."""
    axis = torch.linspace(-math.pi, math.pi, n, dtype=dtype)
    x, y = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x.flatten(), y.flatten()], -1)


def accuracy(name: str, solver: Solver, sizes=(18, 36, 72)) -> List[str]:
    rows, previous = [], None
    truth = torch.tensor(HELMHOLTZ_TRUTH, dtype=torch.float64)
    for cells in sizes:
        mesh = StructuredTriangulation(cells)
        u = solver(truth, cells, torch.float64)
        u32 = solver(truth.float(), cells, torch.float32).double()
        x, y = mesh.nodes()
        nodal = float((u - sine_solution(x, y)).norm() / sine_solution(x, y).norm())
        points = evaluation_points(torch.float64)
        exact = sine_solution(points[:, 0], points[:, 1])
        grid = float((interpolate_bilinear(mesh, u, points) - exact).norm() / exact.norm())
        order = "" if previous is None else (f"{math.log2(previous[0] / nodal):.2f} / "
                                             f"{math.log2(previous[1] / grid):.2f}")
        rounding = float((u32 - u).norm() / u.norm())
        rows.append(f"| {name} | {cells + 1}^2 | {nodal:.3e} | {grid:.3e} | {order} | {rounding:.1e} |")
        previous = (nodal, grid)
    return rows


def fv_dense(theta: torch.Tensor, cells: int, dtype: torch.dtype) -> torch.Tensor:
    """The finite-volume system of :func:`phiflow` as a dense torch matrix (column by column from the
    same stencil), solved by ``torch.linalg.solve``: the exact derivative of that discretisation."""
    h = 2 * math.pi / cells
    axis = torch.linspace(-math.pi, math.pi, cells + 1, dtype=dtype)
    mid, inner = axis[:-1] + h / 2, axis[1:-1]
    kappa = helmholtz_kappa(theta)
    kx, ky = kappa(*torch.meshgrid(mid, inner, indexing="ij")), kappa(*torch.meshgrid(inner, mid, indexing="ij"))
    x, y = torch.meshgrid(inner, inner, indexing="ij")
    eta = helmholtz_eta(theta)(x, y)
    f = helmholtz_forcing(torch.tensor(HELMHOLTZ_TRUTH, dtype=dtype))(x, y)
    m = cells - 1

    def operator(u: torch.Tensor) -> torch.Tensor:
        padded = torch.nn.functional.pad(u.reshape(m, m), (1, 1, 1, 1))
        flux_x, flux_y = kx * (padded[1:, 1:-1] - padded[:-1, 1:-1]), ky * (padded[1:-1, 1:] - padded[1:-1, :-1])
        return (-((flux_x[1:] - flux_x[:-1]) + (flux_y[:, 1:] - flux_y[:, :-1])) / h ** 2 + eta * u.reshape(m, m)
                ).flatten()

    matrix = torch.stack([operator(e) for e in torch.eye(m * m, dtype=dtype)], dim=1)
    return with_boundary(torch.linalg.solve(matrix, f.flatten()).reshape(m, m))


GRADIENT_THETA = (2.0, 0.3, 0.6, 1.5, 0.2, 0.9)  # a first guess, not theta*


def jacobians(solver: Solver, cells: int = 18) -> Tuple[torch.Tensor, torch.Tensor]:
    """``du/dtheta`` at the interior nodes by autograd, and by central differences (eps ``FD_EPS``)."""
    theta0 = torch.tensor(GRADIENT_THETA, dtype=torch.float64)
    theta = theta0.clone().requires_grad_(True)
    u = solver(theta, cells, torch.float64)[1:-1, 1:-1].flatten()
    with phimath.precision(64):
        rows = [torch.autograd.grad(u[k], theta, retain_graph=k + 1 < u.numel())[0] for k in range(u.numel())]
    columns = []
    for k in range(6):
        step = torch.zeros(6, dtype=torch.float64)
        step[k] = FD_EPS
        difference = solver(theta0 + step, cells, torch.float64) - solver(theta0 - step, cells, torch.float64)
        columns.append(difference.detach()[1:-1, 1:-1].flatten() / (2 * FD_EPS))
    return torch.stack(rows), torch.stack(columns, dim=1)


def column_errors(jacobian: torch.Tensor, reference: torch.Tensor) -> List[float]:
    return [float((jacobian[:, k] - reference[:, k]).norm() / reference[:, k].norm()) for k in range(6)]


def gradient_rows(cells: int = 18) -> List[str]:
    solvers = {**{k: v for k, v in candidates().items() if k != "phiflow direct"}, "fv dense (reference)": fv_dense}
    results = {name: jacobians(solver, cells) for name, solver in solvers.items()}
    exact = {"fem dense": results["fem banded"][0], "fem banded": results["fem dense"][0],
             "phiflow cg": results["fv dense (reference)"][0], "fv dense (reference)": results["phiflow cg"][0]}
    rows = []
    for name, (jacobian, differences) in results.items():
        errors = column_errors(jacobian, differences)
        twin = max(column_errors(jacobian, exact[name]))
        rows.append(f"| {name} | {cells + 1}^2 | " + " | ".join(f"{e:.1e}" for e in errors)
                    + f" | **{max(errors):.1e}** | {twin:.1e} |")
    return rows


# ------------------------------------------------------------------------------------------------
# (3) time per physics epoch
# ------------------------------------------------------------------------------------------------
def epoch_timer(solver: Solver, cells: int, dtype: torch.dtype, repeats: int,
                budget_s: float) -> Tuple[float, float, int]:
    """Fastest ms of forward (theta -> MSE at 25 points) and of backward over the repeats, after one
    untimed warm-up (traces). The minimum, not the median: on a shared machine the other processes
    only ever add time, and the minimum is the cost of the work itself."""
    mesh = StructuredTriangulation(cells)
    generator = torch.Generator().manual_seed(6)
    points = (torch.rand(25, 2, generator=generator, dtype=torch.float64) * math.pi).to(dtype)  # (0, pi)^2
    data = sine_solution(points[:, 0], points[:, 1])
    theta0 = torch.tensor([2.0, 0.3, 0.6, 1.5, 0.2, 0.9], dtype=dtype)
    forward_ms, backward_ms = [], []
    start = time.perf_counter()
    for r in range(repeats + 1):
        theta = theta0.clone().requires_grad_(True)
        t0 = time.perf_counter()
        loss = ((interpolate_bilinear(mesh, solver(theta, cells, dtype), points) - data) ** 2).mean()
        t1 = time.perf_counter()
        backward(loss, dtype)
        t2 = time.perf_counter()
        if r:
            forward_ms.append(1e3 * (t1 - t0))
            backward_ms.append(1e3 * (t2 - t1))
            if time.perf_counter() - start > budget_s and r >= 2:
                break
    return min(forward_ms), min(backward_ms), len(forward_ms)


def timing_rows(cells: int, dtype: torch.dtype, skip_dense: bool) -> List[str]:
    rows, baseline = [], None
    for name, solver in candidates().items():
        if name == "fem dense" and skip_dense:
            rows.append(f"| {name} | {cells + 1}^2 | {str(dtype)[6:]} | skipped | | | | |")
            continue
        big = cells > 50
        repeats = 1 if (big and name == "fem dense") else (3 if big and name.startswith("phiflow") else 100)
        try:
            fwd, bwd, n = epoch_timer(solver, cells, dtype, repeats, budget_s=20.0 if big else 3.0)
        except Exception as error:  # a candidate's failure is a result of the benchmark, not its end
            rows.append(f"| {name} | {cells + 1}^2 | {str(dtype)[6:]} | failed: {type(error).__name__} "
                        f"{str(error).splitlines()[0][:60]} | | | | |")
            continue
        total = fwd + bwd
        baseline = total if name == "fem dense" else baseline
        ratio = f"{total / baseline:.3f}" if baseline else "-"
        rows.append(f"| {name} | {cells + 1}^2 | {str(dtype)[6:]} | {fwd:.2f} | {bwd:.2f} | {total:.2f} | {ratio} "
                    f"| {n} |")
    return rows


def crossover() -> List[str]:
    rows = []
    for cells in (8, 10, 12, 14, 16, 18, 20, 24, 30):
        times = [sum(epoch_timer(fem(m), cells, torch.float64, 100, 3.0)[:2]) for m in ("dense", "banded")]
        faster = "dense" if times[0] < times[1] else "banded"
        rows.append(f"| {cells - 1} | {times[0]:.2f} | {times[1]:.2f} | {faster} |")
    return rows


def accuracy_section() -> None:
    print("(1) relative L2 against sin x sin y (nodes / authors' 50x50 grid) in float64, order from the previous"
          " row, and the float32 solution's relative distance to the float64 one")
    print("| candidate | nodes | rel. L2 nodes | rel. L2 50x50 | order | float32 vs float64 |")
    print("|---|---|---|---|---|---|")
    for name in ("fem banded", "phiflow cg"):
        print("\n".join(accuracy(name, candidates()[name])), flush=True)


def gradient_section() -> None:
    print(f"\n(2) du/dtheta_k (all interior nodes) by autograd against central differences (eps {FD_EPS}), float64,"
          " relative per component; last column: against the autograd Jacobian of the other solve of the same"
          " discretisation (fem dense <-> banded, phiflow cg <-> fv dense)")
    print("| candidate | nodes | A | a_x | a_y | B | b_x | b_y | max | vs same discretisation |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(gradient_rows()), flush=True)


def timing_section(skip_dense_101: bool) -> None:
    print("\n(3) fastest ms per physics epoch (theta -> solve -> 25 points -> MSE; backward), one thread;"
          " ratio = total / fem dense in this run")
    print("| candidate | nodes | dtype | forward ms | backward ms | total ms | ratio | repeats |")
    print("|---|---|---|---|---|---|---|---|")
    for cells in (18, 100):
        for dtype in (torch.float64, torch.float32):
            print("\n".join(timing_rows(cells, dtype, skip_dense=skip_dense_101 and cells > 50)), flush=True)
    print(f"\nauthors' JAX Helmholtz script, one core: {AUTHORS_MS['physics-alone epoch']} ms per physics-alone "
          f"epoch, {AUTHORS_MS['HYCO epoch']} ms per HYCO epoch")


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-dense-101", action="store_true", help="skip the dense solves at 101^2 (~30 s each)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sections", default="1234", help="which of the four sections to run, e.g. 34")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
    warnings.filterwarnings("ignore", message=".*spsolve requires A be CSC or CSR.*")

    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    if "1" in args.sections:
        accuracy_section()
    if "2" in args.sections:
        gradient_section()
    if "3" in args.sections:
        timing_section(args.skip_dense_101)
    if "4" in args.sections:
        print(f"\n(4) fem dense vs banded, fastest ms per epoch (float64); DENSE_MAX_INTERIOR = {DENSE_MAX_INTERIOR}")
        print("| interior per side | dense | banded | faster |\n|---|---|---|---|")
        print("\n".join(crossover()))
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
