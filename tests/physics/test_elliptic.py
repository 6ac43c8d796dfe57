"""The differentiable elliptic solve: accuracy and order against closed forms, gradients, solvers."""

from __future__ import annotations

import math

import pytest
import torch

from hyco.errors import PhysicsSolveError
from hyco.physics.elliptic import FactorCache, StructuredTriangulation, assemble, solve_elliptic, solve_interior
from hyco.physics.elliptic.cases import (
    DARCY_TRUTH,
    HELMHOLTZ_TRUTH,
    darcy_kappa,
    darcy_manufactured_forcing,
    helmholtz_eta,
    helmholtz_forcing,
    helmholtz_kappa,
    sine_solution,
)


def helmholtz(cells: int, theta: torch.Tensor, method: str = "auto", dtype: torch.dtype = torch.float64):
    """The P1 solution for coefficients ``theta`` with the forcing of ``theta*`` (the papers' set-up)."""
    mesh = StructuredTriangulation(cells)
    truth = torch.tensor(HELMHOLTZ_TRUTH, dtype=dtype)
    return mesh, solve_elliptic(mesh, helmholtz_kappa(theta), helmholtz_eta(theta), helmholtz_forcing(truth),
                                method=method, dtype=dtype)


def relative_error(mesh: StructuredTriangulation, u: torch.Tensor) -> float:
    x, y = mesh.nodes(u.dtype)
    exact = sine_solution(x, y)
    return float((u - exact).norm() / exact.norm())


def test_helmholtz_accuracy_at_the_papers_grid_and_second_order_convergence():
    theta = torch.tensor(HELMHOLTZ_TRUTH, dtype=torch.float64)
    errors = [relative_error(*helmholtz(cells, theta)) for cells in (18, 36, 72)]  # 19^2 ... 73^2 nodes
    assert 0.015 < errors[0] < 0.025, errors  # measured 0.0220
    orders = [math.log2(coarse / fine) for coarse, fine in zip(errors, errors[1:])]
    assert all(1.9 < p < 2.1 for p in orders), (errors, orders)  # measured 2.01, 2.00


def test_darcy_manufactured_solution_converges():
    theta = torch.tensor(DARCY_TRUTH, dtype=torch.float64)
    errors = []
    for cells in (16, 32, 64):
        mesh = StructuredTriangulation(cells)
        u = solve_elliptic(mesh, darcy_kappa(theta), None, darcy_manufactured_forcing(theta))
        errors.append(relative_error(mesh, u))
    assert errors[-1] < 0.006, errors  # measured 0.111, 0.0182, 0.0046
    assert errors[0] > errors[1] > errors[2]
    assert 1.8 < math.log2(errors[1] / errors[2]) < 2.2, errors


@pytest.mark.parametrize("method", ["dense", "banded"])
def test_gradient_of_the_solution_matches_central_differences_in_float64(method):
    """Every column ``du/dtheta_k`` of the Jacobian (all nodes) by autograd against central differences."""
    cells, eps = 8, 1e-5
    theta0 = torch.tensor([2.0, 0.3, 0.6, 1.5, 0.2, 0.9], dtype=torch.float64)  # a first guess, not theta*
    theta = theta0.clone().requires_grad_(True)
    u = helmholtz(cells, theta, method)[1].flatten()
    rows = [torch.autograd.grad(u[k], theta, retain_graph=True)[0] for k in range(u.numel())]
    jacobian = torch.stack(rows)  # (nodes, 6)
    for k in range(6):
        step = torch.zeros(6, dtype=torch.float64)
        step[k] = eps
        with torch.no_grad():
            plus = helmholtz(cells, theta0 + step, method)[1].flatten()
            minus = helmholtz(cells, theta0 - step, method)[1].flatten()
        column = (plus - minus) / (2 * eps)
        error = float((jacobian[:, k] - column).norm() / column.norm())
        assert column.norm() > 1e-3 and error < 1e-4, (k, error)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_dense_and_banded_solves_agree_with_a_batch_and_in_both_precisions(dtype):
    mesh = StructuredTriangulation(10)
    generator = torch.Generator().manual_seed(3)
    # float64 coefficients, computed in dtype: the gradient comes back through the cast
    kappa = 0.5 + torch.rand(3, 2, 10, 10, generator=generator, dtype=torch.float64)
    eta = torch.rand(3, 2, 10, 10, generator=generator, dtype=torch.float64)
    f = torch.randn(11, 11, generator=generator, dtype=torch.float64).to(dtype)
    weights = torch.randn(3, 9, 9, generator=generator, dtype=torch.float64).to(dtype)
    results = {}
    for method in ("dense", "banded"):
        k, e = kappa.clone().requires_grad_(True), eta.clone().requires_grad_(True)
        system = assemble(mesh, k, e, f, dtype=dtype)
        u = solve_interior(system, method)
        assert u.shape == (3, 9, 9) and u.dtype == dtype
        torch.testing.assert_close(system.matvec(u), system.rhs.expand(3, 9, 9),
                                   rtol=0, atol=1e-10 if dtype == torch.float64 else 1e-4)
        (u * weights).sum().backward()
        assert k.grad.dtype == torch.float64 and e.grad.abs().sum() > 0  # through the cast to dtype
        results[method] = (u, k.grad.to(dtype), e.grad.to(dtype))
    tolerance = {"rtol": 1e-9, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-3, "atol": 1e-5}
    for dense, banded in zip(results["dense"], results["banded"]):
        torch.testing.assert_close(banded, dense, **tolerance)


def test_float32_solution_matches_float64():
    theta = torch.tensor(HELMHOLTZ_TRUTH, dtype=torch.float64)
    u64 = helmholtz(18, theta)[1]
    u32 = helmholtz(18, theta.float(), dtype=torch.float32)[1]
    assert u32.dtype == torch.float32
    assert float((u32.double() - u64).norm() / u64.norm()) < 1e-5


def test_boundary_is_zero_and_the_interior_system_is_solved():
    mesh, u = helmholtz(12, torch.tensor(HELMHOLTZ_TRUTH, dtype=torch.float64))
    assert u.shape == (13, 13)
    for edge in (u[0], u[-1], u[:, 0], u[:, -1]):
        assert torch.all(edge == 0)


@pytest.mark.parametrize("method", ["banded", "dense"])
def test_an_indefinite_system_is_refused(method):
    mesh = StructuredTriangulation(6)
    if method == "banded":
        with pytest.raises(PhysicsSolveError, match="not positive definite.*kappa must be > 0"):
            solve_interior(assemble(mesh, -1.0, None, 1.0), method)
    else:  # LU does not see definiteness: a singular matrix is what it can refuse
        with pytest.raises(PhysicsSolveError, match="singular"):
            solve_interior(assemble(mesh, 0.0, None, 1.0), method)
    with pytest.raises(ValueError, match="unknown method 'cg'"):
        solve_interior(assemble(mesh, 1.0, None, 1.0), "cg")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_dense_solve_and_its_adjoint_equal_torch_autograd_through_a_dense_lu(dtype):
    """The adjoint backward (LU factors reused, the gradient read off the stencil) against autograd
    through ``torch.linalg.solve`` on the dense matrix, the solve this one replaced: bit for bit."""
    mesh = StructuredTriangulation(18)
    forcing = helmholtz_forcing(torch.tensor(HELMHOLTZ_TRUTH, dtype=torch.float64))
    weights = torch.randn(17, 17, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(dtype)
    results = []
    for reference in (True, False):
        theta = torch.tensor([2.0, 0.5, 0.5, 2.0, 0.5, 0.5], dtype=torch.float64, requires_grad=True)
        system = assemble(mesh, helmholtz_kappa(theta), helmholtz_eta(theta), forcing, dtype=dtype)
        if reference:
            u = torch.linalg.solve(system.dense(), system.rhs.reshape(-1, 1)).reshape(17, 17)
        else:
            u = solve_interior(system, "dense")
        loss = (u * weights).sum()
        results.append((loss.detach(), torch.autograd.grad(loss, theta)[0]))
    (loss_ref, grad_ref), (loss, grad) = results
    assert torch.equal(loss, loss_ref) and torch.equal(grad, grad_ref), (loss - loss_ref, grad - grad_ref)


@pytest.mark.parametrize("method", ["dense", "banded"])
def test_the_factor_cache_reuses_an_identical_system_only_and_changes_nothing(method):
    mesh = StructuredTriangulation(8)
    forcing = helmholtz_forcing(torch.tensor(HELMHOLTZ_TRUTH, dtype=torch.float64))
    cache = FactorCache()

    def solve(theta, cached):
        theta = theta.clone().requires_grad_(True)
        u = solve_elliptic(mesh, helmholtz_kappa(theta), helmholtz_eta(theta), forcing, method=method,
                           cache=cache if cached else None)
        return u, torch.autograd.grad((u ** 2).sum(), theta)[0]

    theta = torch.tensor([2.0, 0.3, 0.6, 1.5, 0.2, 0.9], dtype=torch.float64)
    with torch.no_grad():  # the score after an update: fills the cache
        solve_elliptic(mesh, helmholtz_kappa(theta), helmholtz_eta(theta), forcing, method=method, cache=cache)
    assert cache.hits == 0
    fresh, cached = solve(theta, False), solve(theta, True)  # the next epoch's forward solve: a hit
    assert cache.hits == 1
    assert torch.equal(fresh[0], cached[0]) and torch.equal(fresh[1], cached[1])
    moved = theta + torch.tensor([1e-12, 0, 0, 0, 0, 0], dtype=torch.float64)  # any change is a new system
    assert torch.equal(solve(moved, True)[0], solve(moved, False)[0]) and cache.hits == 1
    u = solve(moved, True)[0]
    u.add_(1.0)  # a caller's in-place change does not reach the cached solution
    assert torch.equal(solve(moved, True)[0], solve(moved, False)[0]) and cache.hits == 3
