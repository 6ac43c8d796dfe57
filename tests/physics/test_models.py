"""Physical truths of the non-Burgers models, as numbers."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from physics_cases import CASES

from hyco.physics import build_physics


def case_cfg(case: str, **physics):
    cfg = copy.deepcopy(CASES[case])
    cfg["physics"].update(physics)
    return cfg


# ------------------------------------------------------------------------------------------------
# heat
# ------------------------------------------------------------------------------------------------
def constant_kappa_heat(boundary: str, n: int = 32, kappa: float = 0.5, dt: float = 0.05):
    cfg = case_cfg("heat", resolution=[n, n], boundary=boundary, dt=dt)
    cfg["physics"]["params"]["kappa"] = {"true_value": kappa, "initial_guess": kappa, "lower": 0.0, "upper": 1.0}
    return build_physics(cfg["physics"], cfg["ic"])


def test_heat_lowest_dirichlet_mode_decays_at_the_analytic_rate():
    model = constant_kappa_heat("dirichlet")
    x, y = model.cell_centres()
    L = model.domain_size
    mode = np.sin(np.pi * (x + 3) / L) * np.sin(np.pi * (y + 3) / L)
    steps = 73  # t = 3.65: kappa pi^2 (2 / L^2) t = 1.0, a decay to 1/e
    frames = model.rollout(model.converter.from_numpy({"u": mode[None, None]}), model.true_params(), steps)
    u = model.converter.to_numpy(frames[-1])["u"][0, 0].astype(np.float64)
    amplitude = (u * mode).sum() / (mode * mode).sum()
    expected = np.exp(-0.5 * np.pi ** 2 * (2 / L ** 2) * steps * model.dt)
    assert amplitude == pytest.approx(expected, rel=0.01)
    # the mode stays a mode (no leak through the walls): residual after projection tiny
    assert np.abs(u - amplitude * mode).max() < 1e-4
    # a wall half a cell off (phiml's plain ZERO padding) would be 2 dx / L = 6 % off after 1/e:
    # the test tells the two apart (measured agreement is about 1e-4)
    assert abs(amplitude / expected - 1) < 2e-3


def test_heat_neumann_conserves_heat_with_a_varying_kappa():
    cfg = case_cfg("heat", resolution=[16, 16], boundary="neumann")
    model = build_physics(cfg["physics"], cfg["ic"])
    state = model.initial_state(2, 4)
    frames = model.rollout(state, model.true_params(), 20)
    u0, u1 = (model.converter.to_numpy(f)["u"].astype(np.float64) for f in (frames[0], frames[-1]))
    assert np.abs(u1.mean(axis=(2, 3)) - u0.mean(axis=(2, 3))).max() < 1e-6
    assert np.abs(u1 - u0).max() > 1e-2


def test_heat_refuses_periodic_boundary():
    from hyco.errors import ConfigError

    cfg = case_cfg("heat", boundary="periodic")
    with pytest.raises(ConfigError, match="physics.boundary"):
        build_physics(cfg["physics"], cfg["ic"])


# ------------------------------------------------------------------------------------------------
# Gray-Scott
# ------------------------------------------------------------------------------------------------
def gray_scott():
    return build_physics(CASES["gray_scott"]["physics"], CASES["gray_scott"]["ic"])


def test_gray_scott_homogeneous_state_is_fixed():
    model = gray_scott()
    shape = (2, 1, *model.resolution)
    state = model.converter.from_numpy({"u": np.ones(shape), "v": np.zeros(shape)})
    out = model.converter.to_numpy(model.rollout(state, model.true_params(), 5)[-1])
    assert np.all(out["u"] == 1.0) and np.all(out["v"] == 0.0)


def test_gray_scott_pure_diffusion_conserves_means_and_reaction_does_not():
    model = gray_scott()
    state = model.initial_state(2, 1)
    params = model.true_params()
    before = model.converter.to_numpy(state)
    diffused = model.converter.to_numpy(model.advance(state, params, reaction=False))
    reacted = model.converter.to_numpy(model.step(state, params))
    for name in ("u", "v"):
        m0 = before[name].astype(np.float64).mean(axis=(2, 3))
        assert np.abs(diffused[name].mean(axis=(2, 3)) - m0).max() < 1e-6
        assert np.abs(diffused[name] - before[name]).max() > 1e-3  # it did diffuse
        assert np.abs(reacted[name].mean(axis=(2, 3)) - m0).max() > 1e-3  # the reaction changes them


def test_gray_scott_inner_steps_follow_config_and_bounds():
    model = gray_scott()
    assert model.inner_steps == 5 and model.inner_dt == pytest.approx(0.4)
    cfg = case_cfg("gray_scott", substeps=1)
    cfg["physics"]["params"]["Du"]["upper"] = 10.0  # 10 * 2 * 2 / 1.5625^2 / 0.45 -> 37 steps
    assert build_physics(cfg["physics"], cfg["ic"]).inner_steps == 37


# ------------------------------------------------------------------------------------------------
# inviscid Burgers
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["inviscid_burgers_1d", "inviscid_burgers_2d"])
def test_inviscid_burgers_constant_potential_is_unforced(case):
    model = build_physics(CASES[case]["physics"], CASES[case]["ic"])
    state = model.initial_state(2, 2)
    shape = model.resolution
    unforced = model.rollout(state, model.params_from_values({"phi": np.zeros(shape)}), 4)[-1]
    constant = model.rollout(state, model.params_from_values({"phi": np.full(shape, 0.7)}), 4)[-1]
    forced = model.rollout(state, model.true_params(), 4)[-1]
    a, b, c = (model.converter.to_numpy(s)["velocity"] for s in (unforced, constant, forced))
    np.testing.assert_array_equal(a, b)
    assert np.abs(c - a).max() > 1e-3


@pytest.mark.parametrize("case", ["inviscid_burgers_1d", "inviscid_burgers_2d"])
def test_inviscid_burgers_first_step_from_rest_is_minus_dt_grad_phi(case):
    model = build_physics(CASES[case]["physics"], CASES[case]["ic"])
    assert model.advection_substeps == 1
    shape = (1, model.dim, *model.resolution)
    rest = model.converter.from_numpy({"velocity": np.zeros(shape)})
    u1 = model.converter.to_numpy(model.step(rest, model.true_params()))["velocity"][0].astype(np.float64)
    # analytic: phi = A prod_d sin(2 pi x_d / L); compare with the exact gradient (second-order
    # differences: error ~ (k dx)^2 / 6 ~ 2.6 % at 16 cells, 10 % at 8) and with the discrete one exactly
    L, A, k = model.domain_size, 0.3, 2 * np.pi / model.domain_size
    xs = model.cell_centres()
    phi = A * np.prod([np.sin(k * x) for x in xs], axis=0)
    for d in range(model.dim):
        discrete = (np.roll(phi, -1, d) - np.roll(phi, 1, d)) / (2 * model.dx[d])
        np.testing.assert_allclose(u1[d], -model.dt * discrete, atol=1e-7)
        exact = A * k * np.cos(k * xs[d]) * np.prod([np.sin(k * x) for j, x in enumerate(xs) if j != d], axis=0)
        assert np.abs(u1[d] + model.dt * exact).max() <= 0.11 * model.dt * A * k
    assert L > 0


def test_inviscid_burgers_1d_conserves_momentum_under_a_periodic_potential():
    """Godunov is conservative and sum(grad phi) = 0 on a periodic grid: the mean velocity is
    unchanged by the forced 1D dynamics."""
    model = build_physics(CASES["inviscid_burgers_1d"]["physics"], CASES["inviscid_burgers_1d"]["ic"])
    frames = model.rollout(model.initial_state(2, 8), model.true_params(), 10)
    u0, u1 = (model.converter.to_numpy(f)["velocity"].astype(np.float64) for f in (frames[0], frames[-1]))
    assert np.abs(u1.mean(-1) - u0.mean(-1)).max() < 1e-6


def test_inviscid_burgers_gradient_in_phi_is_mean_free():
    """The constant part of phi is not identifiable and gets zero gradient (module docstring)."""
    import torch

    model = build_physics(CASES["inviscid_burgers_2d"]["physics"], CASES["inviscid_burgers_2d"]["ic"])
    conv = model.converter
    phi = torch.zeros(model.resolution, requires_grad=True)
    state = model.initial_state(2, 1)
    params = model.params_from_values({"phi": phi})
    for _ in range(3):
        state = model.step(state, params)
    (conv.state_to_tensor(state) ** 3).sum().backward()
    assert float(phi.grad.abs().max()) > 1e-3
    assert abs(float(phi.grad.sum())) < 1e-5 * float(phi.grad.abs().sum())
