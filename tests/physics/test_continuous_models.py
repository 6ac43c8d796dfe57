"""APHYNITY's three models against closed forms and a reference integrator, and RK4's order.

* RK4 (:mod:`hyco.physics.integrators`) is fourth order on a linear ODE;
* the pendulum's small-angle period is ``2π / √(ω0² − α²/4)``;
* a cosine eigenmode of the wave's Neumann Laplacian follows the damped oscillator's closed form,
  and its energy decays at the rate ``k``;
* a spatially uniform FitzHugh–Nagumo state stays uniform and follows the ODE
  ``u' = u − u³ − v − k, v' = u − v`` (scipy's DOP853 at rtol 1e-10 as the reference);
* incomplete physics (``physics.terms``) drops exactly the named term.
"""

from __future__ import annotations

import math as pymath

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from hyco.physics import build_physics
from hyco.physics.integrators import rk4

PENDULUM = {"name": "damped_pendulum", "dim": 0, "resolution": [], "dt": 0.05,
            "params": {"omega2": {"true_value": (2 * pymath.pi / 6) ** 2, "initial_guess": 1.0, "upper": 5.0},
                       "alpha": {"true_value": 0.2, "initial_guess": 0.1, "upper": 2.0}}}
WAVE = {"name": "damped_wave", "dim": 2, "resolution": [16, 8], "domain_size": 16.0, "dt": 1e-3,
        "params": {"c": {"true_value": 330.0, "initial_guess": 330.0, "upper": 800.0},
                   "k": {"true_value": 50.0, "initial_guess": 50.0, "upper": 200.0}}}
RD = {"name": "fitzhugh_nagumo", "dim": 2, "resolution": [8, 8], "domain_size": 2.0, "dt": 0.1, "substeps": 10,
      "params": {n: {"true_value": v, "initial_guess": v, "upper": 1e-2} for n, v in
                 (("a", 1e-3), ("b", 5e-3), ("k", 5e-3))}}


def _state(model, arrays):
    return model.converter.from_numpy({n: np.asarray(a, dtype=np.float32) for n, a in arrays.items()})


def _series(model, state, frames):
    states = model.rollout(state, model.true_params(), frames)
    return np.stack([model.converter.state_to_tensor(s).numpy() for s in states])  # [T+1, B, C, *s]


def test_rk4_is_fourth_order_on_a_linear_ode():
    # x' = A x with A a damped rotation: the exact solution is expm(A t) x0
    a = torch.tensor([[-0.3, -2.0], [2.0, -0.3]], dtype=torch.float64)
    x0 = torch.tensor([1.0, 0.5], dtype=torch.float64)
    exact = torch.linalg.matrix_exp(a * 1.0) @ x0

    def error(steps):
        out = rk4(lambda v: {"x": a @ v["x"]}, {"x": x0}, 1.0, steps)["x"]
        return float((out - exact).norm())

    errors = [error(n) for n in (8, 16, 32)]
    orders = [pymath.log2(e1 / e2) for e1, e2 in zip(errors, errors[1:])]
    assert all(3.9 < p < 4.1 for p in orders), orders


def test_pendulum_small_angle_period():
    model = build_physics(PENDULUM, {"name": "annulus"})
    omega2, alpha = (2 * pymath.pi / 6) ** 2, 0.2
    theta = _series(model, _state(model, {"theta": [[1e-3]], "omega": [[0.0]]}), 600)[:, 0, 0]  # 30 time units
    t = np.arange(len(theta)) * model.dt
    # upward zero crossings by linear interpolation, then the mean spacing
    up = np.nonzero((theta[:-1] < 0) & (theta[1:] >= 0))[0]
    crossings = t[up] - theta[up] * model.dt / (theta[up + 1] - theta[up])
    period = float(np.diff(crossings).mean())
    assert len(crossings) >= 4
    assert period == pytest.approx(2 * pymath.pi / pymath.sqrt(omega2 - alpha ** 2 / 4), rel=1e-4)
    # frictionless (incomplete physics): T0 = 2 pi / omega0 = 6
    frictionless = build_physics({**PENDULUM, "terms": ["gravity"]}, {"name": "annulus"})
    theta = _series(frictionless, _state(frictionless, {"theta": [[1e-3]], "omega": [[0.0]]}), 600)[:, 0, 0]
    up = np.nonzero((theta[:-1] < 0) & (theta[1:] >= 0))[0]
    crossings = t[up] - theta[up] * model.dt / (theta[up + 1] - theta[up])
    assert float(np.diff(crossings).mean()) == pytest.approx(6.0, rel=1e-4)
    assert np.abs(theta).max() == pytest.approx(1e-3, rel=1e-3)  # no friction: the amplitude stays


def test_wave_eigenmode_follows_the_damped_oscillator_and_its_energy_decays_at_rate_k():
    model = build_physics(WAVE, {"name": "gaussian_bump"})
    n, dx = model.resolution[0], model.dx[0]
    c, k = 330.0, 50.0
    x = (np.arange(n) + 0.5) * dx
    # the lowest Neumann cosine along x is an exact eigenvector of the discrete Laplacian
    mode = np.cos(np.pi * x / (n * dx))[:, None] * np.ones(model.resolution)
    lam = 4 / dx ** 2 * np.sin(np.pi / (2 * n)) ** 2
    series = _series(model, _state(model, {"w": mode[None, None], "w_t": np.zeros((1, 1, *model.resolution))}), 200)
    t = np.arange(len(series)) * model.dt
    omega_d = np.sqrt(c ** 2 * lam - k ** 2 / 4)
    amplitude = np.exp(-k * t / 2) * (np.cos(omega_d * t) + k / (2 * omega_d) * np.sin(omega_d * t))
    np.testing.assert_allclose(series[:, 0, 0], amplitude[:, None, None] * mode, atol=2e-5)
    # energy 1/2 (w_t^2 + c^2 lam w^2) summed over the cells: E(t) e^{kt} repeats every pi / omega_d
    energy = 0.5 * ((series[:, 0, 1] ** 2) + c ** 2 * lam * series[:, 0, 0] ** 2).sum(axis=(1, 2))
    rate = -np.polyfit(t, np.log(energy), 1)[0]
    assert rate == pytest.approx(k, rel=0.02)
    # undamped (incomplete physics): the energy is conserved (RK4's own dissipation aside)
    undamped = build_physics({**WAVE, "terms": ["propagation"]}, {"name": "gaussian_bump"})
    free = _series(undamped, _state(undamped, {"w": mode[None, None], "w_t": np.zeros((1, 1, *model.resolution))}),
                   200)
    energy = 0.5 * ((free[:, 0, 1] ** 2) + c ** 2 * lam * free[:, 0, 0] ** 2).sum(axis=(1, 2))
    assert np.abs(energy / energy[0] - 1).max() < 1e-4


def test_uniform_fitzhugh_nagumo_state_follows_the_reaction_ode():
    model = build_physics(RD, {"name": "uniform"})
    u0, v0, k = 0.7, 0.2, 5e-3
    ones = np.ones((1, 1, *model.resolution))
    series = _series(model, _state(model, {"u": u0 * ones, "v": v0 * ones}), 30)  # T = 3
    assert np.ptp(series, axis=(3, 4)).max() < 1e-6  # stays uniform: the Laplacian of a constant is 0

    def ode(_, y):
        return [y[0] - y[0] ** 3 - y[1] - k, y[0] - y[1]]

    reference = solve_ivp(ode, (0, 3.0), [u0, v0], method="DOP853", rtol=1e-10, atol=1e-12,
                          t_eval=np.arange(31) * 0.1).y.T
    np.testing.assert_allclose(series[:, 0, :, 0, 0], reference, atol=2e-6)


def test_incomplete_physics_drops_exactly_the_named_term():
    rd = build_physics({**RD, "substeps": 1}, {"name": "uniform"})
    diffusion = build_physics({**RD, "substeps": 1, "terms": ["diffusion"]}, {"name": "uniform"})
    reaction = build_physics({**RD, "substeps": 1, "terms": ["reaction"]}, {"name": "uniform"})
    state = rd.initial_state(2, 3)
    full, d, r = (m.tensor_derivative(m.true_params())(rd.converter.state_to_tensor(state))
                  for m in (rd, diffusion, reaction))
    torch.testing.assert_close(d + r, full, rtol=1e-6, atol=1e-6)
    assert float(d.abs().max()) > 1e-3 and float(r.abs().max()) > 1e-2


@pytest.mark.parametrize("wall", ["periodic", "neumann", "dirichlet"])
def test_the_torch_laplacian_is_the_phiml_operators(wall):
    from phiml import math
    from phiml.math import batch, spatial

    from hyco.fields.specs import BOUNDARIES
    from hyco.physics import operators as ops
    from hyco.physics import tensor_ops

    x = torch.randn(2, 1, 7, 5, generator=torch.Generator().manual_seed(0))
    dx = (0.5, 0.25)
    ours = tensor_ops.laplace(x, dx, (wall, wall))
    theirs = ops.laplace(math.tensor(x[:, 0], batch("b"), spatial("x,y")), dx, BOUNDARIES[wall]).native(["b", "x", "y"])
    torch.testing.assert_close(ours[:, 0], theirs, rtol=0, atol=1e-5)
