"""Viscous Burgers: invariants, grids, parameters, gradients, jit and initial conditions."""

from __future__ import annotations

import math as pymath

import numpy as np
import pytest
import torch

from hyco.config import InitialConditionConfig, ParamSpecConfig, PhysicsConfig
from hyco.errors import PhysicsParameterError
from hyco.physics import build_physics
from hyco.physics.models.burgers import Burgers


def make(dim: int = 1, n: int = 16, grid: str = "centered", kind: str = "scalar", profile: str = "constant",
         nu: float = 0.01, lower: float = 0.0, upper: float = 0.1, dt: float | None = None, amplitude: float = 1.0,
         substeps: int = 1) -> Burgers:
    spec = ParamSpecConfig(kind=kind, true_value=nu, initial_guess=0.05, true_profile=profile,
                           profile_amplitude=0.5, lower=lower, upper=upper)
    cfg = PhysicsConfig(name="burgers", dim=dim, resolution=[n] * dim, dt=dt or (0.005 if dim == 1 else 0.01),
                        grid=grid, substeps=substeps, params={"nu": spec})
    return build_physics(cfg, InitialConditionConfig(max_wavenumber=3, amplitude=amplitude))


def trajectory(model: Burgers, state, params, steps: int) -> np.ndarray:
    """``[T, B, C, *spatial]`` float64."""
    return np.stack([model.converter.to_numpy(s)["velocity"]
                     for s in model.rollout(state, params, steps)]).astype(np.float64)


def shifted(model: Burgers, state, offset: float):
    """``state + offset`` built through the converter (same layout as the model's states)."""
    return model.converter.tensor_to_state(model.converter.state_to_tensor(state) + offset)


# ------------------------------------------------------------------------------------------------
# invariants
# ------------------------------------------------------------------------------------------------
def test_1d_conserves_mean_and_dissipates_energy():
    model = make(dim=1, n=32)
    u = trajectory(model, shifted(model, model.initial_state(2, 0), 0.3), model.true_params(), 20)
    mean = u.mean(axis=-1)  # [T, B, C]
    assert np.all(np.abs(mean[0]) > 0.2)  # a nonzero mean, so "relative" means something
    # Godunov + conservative diffusion: exact up to float32 round-off (measured 1.2e-7)
    assert np.abs(mean - mean[0]).max() / np.abs(mean[0]).min() < 1e-5
    energy = (u ** 2).sum(axis=(2, 3))  # [T, B]
    assert np.all(np.diff(energy, axis=0) < 0)
    assert np.abs(u).max() <= np.abs(u[0]).max() + 1e-6  # monotone scheme: no new extrema


@pytest.mark.parametrize("grid", ["centered", "staggered"])
def test_2d_energy_decreases_and_diffusion_conserves_mean(grid):
    model = make(dim=2, n=16, grid=grid, kind="field", profile="sine")
    params = model.true_params()
    state = shifted(model, model.initial_state(2, 1), 0.3)
    u = trajectory(model, state, params, 10)
    energy = (u ** 2).sum(axis=(2, 3, 4))
    assert np.all(np.diff(energy, axis=0) < 0)
    # The 2D vector Burgers equation does not conserve the mean velocity (d/dt <u> = <u div u>,
    # nonzero unless u is divergence free), so only the viscous operator is checked for it: the
    # divergence form moves momentum between cells, also with a spatially varying nu.
    before = model.converter.to_numpy(state)["velocity"].astype(np.float64)
    after = model.converter.to_numpy(model.diffusion(state["velocity"], params["nu"]))
    assert np.abs(after.mean(axis=(2, 3)) - before.mean(axis=(2, 3))).max() < 1e-6
    assert np.abs(after - before).max() > 1e-3  # it did diffuse


@pytest.mark.parametrize("dim, grid", [(1, "centered"), (1, "staggered"), (2, "centered"), (2, "staggered")])
def test_zero_velocity_stays_zero(dim, grid):
    model = make(dim=dim, n=8, grid=grid)
    zero = shifted(model, model.initial_state(1, 0), 0.0)
    zero = model.converter.tensor_to_state(0 * model.converter.state_to_tensor(zero))
    u = trajectory(model, zero, model.true_params(), 3)
    assert np.all(u == 0)


def test_uniform_velocity_stays_uniform_2d():
    model = make(dim=2, n=8)
    state = model.converter.from_numpy({"velocity": np.broadcast_to(np.array([0.4, -0.2])[None, :, None, None],
                                                                    (1, 2, 8, 8))})
    u = trajectory(model, state, model.true_params(), 3)
    np.testing.assert_allclose(u[-1], u[0], atol=1e-6)


def test_viscous_term_is_in_divergence_form():
    """One explicit step of the viscous operator against d/dx (nu du/dx) for smooth nu and u
    (1D, 64 cells): the divergence form includes nu' u', which nu * u'' alone would miss."""
    model = make(dim=1, n=64, kind="field", profile="sine", nu=0.02, dt=1e-4)
    x = (np.arange(64) + 0.5) / 64
    u0 = np.sin(2 * np.pi * x)
    nu = 0.02 * (1 + 0.5 * np.sin(2 * np.pi * x))
    state = model.converter.from_numpy({"velocity": u0[None, None]})
    u1 = model.converter.to_numpy(model.diffusion(state["velocity"], model.true_params()["nu"]))[0, 0]
    rate = (u1 - u0) / model.dt
    k = 2 * np.pi
    dnu, du, d2u = 0.01 * k * np.cos(k * x), k * np.cos(k * x), -k ** 2 * u0
    exact = dnu * du + nu * d2u
    assert np.abs(rate - exact).max() / np.abs(exact).max() < 5e-3  # measured 1.6e-3 (second order)
    assert np.abs(rate - nu * d2u).max() / np.abs(exact).max() > 0.1  # measured 0.33: not nu * u''


# ------------------------------------------------------------------------------------------------
# grids and parameters
# ------------------------------------------------------------------------------------------------
def test_centered_and_staggered_2d_agree():
    centered, staggered = make(dim=2, n=32), make(dim=2, n=32, grid="staggered")
    uc = centered.rollout(centered.initial_state(2, 3), centered.true_params(), 10)[-1]["velocity"]
    us = staggered.rollout(staggered.initial_state(2, 3), staggered.true_params(), 10)[-1]["velocity"]
    a = uc.values.numpy("b,vector,x,y")
    b = us.at_centers().values.numpy("b,vector,x,y")
    # Measured 0.015 at 32^2 (0.055 at 16^2, 0.004 at 64^2: second order). It is the sum of the
    # face->centre interpolation in at_centers() (0.023 max abs already on the ICs) and the two
    # grids' different discretisation errors; 0.025 leaves ~60 % margin.
    assert np.linalg.norm(b - a) / np.linalg.norm(a) < 0.025


@pytest.mark.parametrize("dim, grid", [(1, "centered"), (2, "centered"), (2, "staggered")])
def test_constant_nu_field_equals_scalar_nu(dim, grid):
    scalar = make(dim=dim, n=16, grid=grid, nu=0.02)
    field = make(dim=dim, n=16, grid=grid, nu=0.02, kind="field", profile="constant")
    state = scalar.initial_state(2, 4)
    a = trajectory(scalar, state, scalar.true_params(), 10)
    b = trajectory(field, state, field.true_params(), 10)
    assert field.true_params()["nu"].shape.spatial.rank == dim
    assert np.abs(a - b).max() < 1e-6


def test_validate_params():
    model = make(dim=2, n=16, lower=0.001)
    model.validate_params({"nu": 0.05})
    with pytest.raises(PhysicsParameterError, match=r"'nu'.*>= 0"):
        model.validate_params(model.params_from_values({"nu": -0.01}))
    with pytest.raises(PhysicsParameterError, match=r"'nu'.*outside its bounds \[0.001, 0.1\]"):
        model.validate_params(model.params_from_values({"nu": 0.2}))
    with pytest.raises(PhysicsParameterError, match=r"'nu'.*outside its bounds"):
        model.validate_params(model.params_from_values({"nu": 0.0005}))
    field = make(dim=2, n=8, kind="field")
    bad = np.full((8, 8), 0.01)
    bad[3, 4] = -1e-3
    with pytest.raises(PhysicsParameterError, match=r"'nu'.*>= 0"):
        field.validate_params(field.params_from_values({"nu": bad}))
    with pytest.raises(PhysicsParameterError, match="nu"):
        model.rollout(model.initial_state(1, 0), model.params_from_values({"nu": 0.5}), 1)


def test_substeps_follow_the_upper_bound_and_instability_is_reported():
    model = make(dim=2, n=32, upper=0.1, dt=0.01)  # 0.1 * 0.01 * 2048 / 0.45 -> 5 sub-steps
    assert model.diffusion_substeps == 5
    assert make(dim=2, n=32, upper=0.1, substeps=8).diffusion_substeps == 8
    # without a finite upper bound the sub-steps cover the truth and the initial guess only
    free = make(dim=1, n=32, upper=float("inf"), dt=0.005)
    assert free.diffusion_substeps == 1  # 0.05 * 0.005 * 1024 = 0.256 <= 0.45
    free.validate_params({"nu": 0.09})  # 0.46 < 0.5: still stable
    with pytest.raises(PhysicsParameterError, match=r"'nu'.*unstable.*physics.substeps >= 3"):
        free.validate_params({"nu": 0.2})
    with pytest.raises(PhysicsParameterError, match=r"sub-steps.*physics.params.nu.upper"):
        make(dim=2, n=256, upper=10.0)


def test_1d_cfl_is_checked():
    with pytest.raises(PhysicsParameterError, match=r"physics.dt.*max\|u\| dt/dx"):
        make(dim=1, n=64, dt=0.02)  # amplitude 1 * 0.02 * 64 = 1.28 > 1
    model = make(dim=1, n=16, dt=0.05)  # 0.8: fine for the ICs
    fast = shifted(model, model.initial_state(1, 0), 1.0)
    with pytest.raises(PhysicsParameterError, match="physics.dt"):
        model.rollout(fast, model.true_params(), 1)


# ------------------------------------------------------------------------------------------------
# gradients and jit
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [1, 2])
def test_gradient_wrt_log_nu_matches_finite_difference(dim):
    model = make(dim=dim, n=16, nu=0.02)
    conv = model.converter
    x0 = conv.state_to_tensor(model.initial_state(2, 7))
    target = conv.state_to_tensor(model.rollout(model.initial_state(2, 7), model.true_params(), 3)[-1]) * 0.9

    def loss(log_nu: torch.Tensor) -> torch.Tensor:
        state, params = conv.tensor_to_state(x0), model.params_from_values({"nu": torch.exp(log_nu)})
        for _ in range(3):
            state = model.step(state, params)
        return ((conv.state_to_tensor(state) - target) ** 2).mean()

    log_nu = torch.tensor(pymath.log(0.03), requires_grad=True)
    loss(log_nu).backward()
    eps = 1e-2
    with torch.no_grad():
        fd = (loss(log_nu + eps) - loss(log_nu - eps)) / (2 * eps)
    assert abs(float(log_nu.grad)) > 1e-4
    # measured relative differences 9e-5 (1D) and 3e-4 (2D), shrinking like eps^2 (the central
    # difference's truncation error), so 2e-3 leaves margin for float32 round-off
    assert float(log_nu.grad) == pytest.approx(float(fd), rel=2e-3)


def test_no_retrace_when_nu_changes():
    model = make(dim=2, n=8, grid="staggered")
    state = model.initial_state(2, 0)
    outs = []
    for nu in (0.01, 0.03, 0.07):
        out = model.rollout(state, model.params_from_values({"nu": nu}), 3)[-1]
        outs.append(model.converter.to_numpy(out)["velocity"])
    assert model.trace_count == 1  # one signature: the converter's layout is the step's output layout
    assert np.abs(outs[0] - outs[2]).max() > 1e-3  # the new values were used


# ------------------------------------------------------------------------------------------------
# initial conditions
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dim, grid", [(1, "centered"), (2, "centered"), (2, "staggered")])
def test_ic_entries_depend_only_on_their_seed(dim, grid):
    model = make(dim=dim, n=16, grid=grid)
    to_np = lambda s: model.converter.to_numpy(s)["velocity"]  # noqa: E731
    batch = to_np(model.initial_state(3, [11, 5, 42]))
    for i, seed in enumerate([11, 5, 42]):
        np.testing.assert_array_equal(batch[i], to_np(model.initial_state(1, [seed]))[0])
    np.testing.assert_array_equal(to_np(model.initial_state(3, 5))[2], to_np(model.initial_state(1, 7))[0])
    assert np.abs(batch[0] - batch[1]).max() > 0.1
    with pytest.raises(ValueError, match="seeds"):
        model.initial_state(2, [1])


def test_ic_amplitude_and_staggered_samples_the_same_function():
    centered = make(dim=2, n=32, amplitude=0.8)
    staggered = make(dim=2, n=32, grid="staggered", amplitude=0.8)
    uc = centered.initial_state(2, 9)["velocity"]
    speed = np.sqrt((uc.values.numpy("b,vector,x,y") ** 2).sum(1))
    np.testing.assert_allclose(speed.max(axis=(1, 2)), 0.8, rtol=1e-6)
    us = staggered.initial_state(2, 9)["velocity"].at_centers().values.numpy("b,vector,x,y")
    # Face -> centre linear interpolation error of a smooth field: <= dx^2 / 8 max|u''|
    # ~ (1/32)^2 / 8 * 0.8 * (2 pi 3)^2 ~ 0.035; measured 0.016.
    assert np.abs(us - uc.values.numpy("b,vector,x,y")).max() < 0.035
    # 1D staggered: faces at i dx, centres at (i + 1/2) dx; the neighbour mean of the faces is
    # the centred sample up to the same interpolation error
    c1, s1 = (m.converter.to_numpy(m.initial_state(1, 2))["velocity"][0, 0]
              for m in (make(dim=1, n=64), make(dim=1, n=64, grid="staggered")))
    assert np.abs(0.5 * (s1 + np.roll(s1, -1)) - c1).max() < 0.01  # measured 0.005
