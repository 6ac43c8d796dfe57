"""Continuous residuals: exact solutions make them vanish, and each model's discrete step agrees
with them to its order (a smooth state g: (step(g) - g) / dt = -R[g] + O(dt, dx^p))."""

from __future__ import annotations

import copy
import math as pymath
from typing import Callable, Dict

import numpy as np
import pytest
import torch
from physics_cases import CASES

from hyco.errors import ResidualNotDefined
from hyco.physics import build_physics
from hyco.physics.residuals import Derivatives, interpolate_grid

TWO_PI = 2 * pymath.pi


def _model(case: str, **physics):
    cfg = copy.deepcopy(CASES[case])
    cfg["physics"].update(physics)
    return build_physics(cfg["physics"], cfg["ic"])


def _residual(model, fn: Callable[[torch.Tensor], Dict[str, torch.Tensor]], coords: np.ndarray,
              params: Dict[str, object]) -> Dict[str, np.ndarray]:
    """The model's residual of the closed-form fields ``fn(coords)`` at ``coords [N, dim+1]``."""
    c = torch.tensor(coords, dtype=torch.float64, requires_grad=True)
    values = fn(c)
    d = Derivatives(c, values)
    at = model.params_at({n: torch.as_tensor(v, dtype=torch.float64) for n, v in params.items()}, c[:, :-1])
    return {k: v.detach().numpy() for k, v in model.residual(values, d, at).items()}


def _points(model, n: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = model.domain_origin + model.domain_size * rng.random((n, model.dim))
    return np.concatenate([x, rng.random((n, 1))], axis=1)


def test_smoke_states_no_residual():
    # incompressible flow: the residual would need the pressure as an output; the PINN refuses
    # smoke at config time (tests/arms/test_arm_contract.py runs every model with the PINN arm)
    assert not _model("smoke").has_residual
    assert _model("heat").has_residual


@pytest.mark.parametrize("dim", [1, 2])
def test_burgers_exact_solution_u_equals_x_over_one_plus_t_has_zero_residual(dim):
    # u = x / (1 + t) solves u_t + (u.grad) u = nu lap u for any nu (lap u = 0)
    model = _model("burgers_1d" if dim == 1 else "burgers_2d_field")
    pts = _points(model)
    nu = 0.03 if dim == 1 else np.full(model.resolution, 0.03)
    r = _residual(model, lambda c: {"velocity": c[:, :dim] / (1 + c[:, -1:])}, pts, {"nu": nu})["velocity"]
    assert r.shape == (len(pts), dim)
    assert np.abs(r).max() < 1e-12
    # a non-solution is caught: u = sin(2 pi x) at t-independence gives R = u u_x - nu u_xx != 0
    bad = _residual(model, lambda c: {"velocity": torch.sin(TWO_PI * c[:, :dim])}, pts, {"nu": nu})["velocity"]
    x = pts[:, 0]
    expected = np.sin(TWO_PI * x) * TWO_PI * np.cos(TWO_PI * x) + 0.03 * TWO_PI ** 2 * np.sin(TWO_PI * x)
    np.testing.assert_allclose(bad[:, 0], expected, rtol=1e-10, atol=1e-10)


def test_heat_decaying_sine_mode_has_zero_residual():
    model = _model("heat")
    lower, L, kappa = model.domain_origin, model.domain_size, 0.7
    rate = kappa * pymath.pi ** 2 * 2 / L ** 2

    def mode(c):
        return {"u": (torch.exp(-rate * c[:, 2]) * torch.sin(pymath.pi * (c[:, 0] - lower) / L)
                      * torch.sin(pymath.pi * (c[:, 1] - lower) / L))[:, None]}

    r = _residual(model, mode, _points(model), {"kappa": np.full(model.resolution, kappa)})["u"]
    assert np.abs(r).max() < 1e-12


def test_inviscid_burgers_and_gray_scott_exact_solutions():
    model = _model("inviscid_burgers_1d")
    r = _residual(model, lambda c: {"velocity": c[:, :1] / (1 + c[:, -1:])}, _points(model),
                  {"phi": np.zeros(model.resolution)})
    assert np.abs(r["velocity"]).max() < 1e-12
    gs = _model("gray_scott")
    # the homogeneous state u = 1, v = 0 is a steady solution for any F, k
    pts = _points(gs)
    r = _residual(gs, lambda c: {"u": 1 + 0 * c[:, :1], "v": 0 * c[:, :1]}, pts,
                  {"Du": 0.2, "Dv": 0.08, "F": 0.018, "k": 0.051})
    assert max(np.abs(r["u"]).max(), np.abs(r["v"]).max()) < 1e-12


def test_interpolated_field_parameter_is_exact_for_linear_data_and_wraps_periodically():
    grid = torch.arange(8, dtype=torch.float64)  # centres at 0.5/8 + i/8 on [0, 1)
    pts = torch.tensor([[0.5 / 8], [2.75 / 8], [7.5 / 8], [0.0]], dtype=torch.float64)
    v = interpolate_grid(grid, pts, [0.0], [1 / 8], periodic=False).numpy()
    np.testing.assert_allclose(v, [0.0, 2.25, 7.0, 0.0])
    w = interpolate_grid(grid, pts[3:], [0.0], [1 / 8], periodic=True).numpy()
    np.testing.assert_allclose(w, [3.5])  # halfway between the last (7) and the first (0) centre


def _consistency_error(model, fields_fn, params: Dict[str, float]) -> float:
    """``|| (step(g) - g)/dt + R[g] || / || R[g] ||`` at the cell centres for a t-independent ``g``."""
    centres = np.stack([c.ravel() for c in model.cell_centres()], axis=1)
    coords = np.concatenate([centres, np.zeros((len(centres), 1))], axis=1)
    full = {n: np.full(model.resolution, v) if model.param_specs[n].kind == "field" else v
            for n, v in params.items()}
    r = _residual(model, lambda c: fields_fn(c), coords, full)
    c0 = torch.tensor(coords, dtype=torch.float64)
    arrays = {}
    for name, values in fields_fn(c0).items():
        arrays[name] = values.numpy().T.reshape(1, -1, *model.resolution).astype(np.float32)
    state = model.converter.from_numpy(arrays)
    out = model.converter.to_numpy(model.step(state, model.params_from_values(full)))
    num, den = 0.0, 0.0
    for name in arrays:
        rate = (out[name].astype(np.float64) - arrays[name]) / model.dt
        res = r[name].T.reshape(rate.shape)
        num += ((rate + res) ** 2).sum()
        den += (res ** 2).sum()
    return pymath.sqrt(num / den)


@pytest.mark.parametrize("case,fields,params", [
    ("burgers_1d", lambda c: {"velocity": 0.5 + 0.3 * torch.sin(TWO_PI * c[:, :1])}, {"nu": 0.02}),
    ("heat", None, {"kappa": 0.5}),
    ("inviscid_burgers_1d", lambda c: {"velocity": 0.5 + 0.3 * torch.sin(c[:, :1])}, {"phi": 0.0}),
    ("gray_scott", None, {"Du": 0.2, "Dv": 0.08, "F": 0.018, "k": 0.051}),
])
def test_the_discrete_step_agrees_with_the_residual_to_its_order(case, fields, params):
    """Halving dx and dt together at least halves the disagreement (first order in time), which
    is already small on the finer grid."""
    errors = []
    for level in (0, 1):
        n = 32 * 2 ** level
        if case == "heat":
            model = _model(case, resolution=[n, n], dt=0.004 / 4 ** level)
            lower, L = model.domain_origin, model.domain_size
            fields = lambda c: {"u": (torch.sin(pymath.pi * (c[:, 0] - lower) / L)  # noqa: E731
                                      * torch.sin(2 * pymath.pi * (c[:, 1] - lower) / L))[:, None]}
        elif case == "gray_scott":
            model = _model(case, resolution=[n, n], dt=0.05 / 2 ** level, substeps=1)
            L = model.domain_size
            fields = lambda c: {"u": 0.6 + 0.2 * torch.cos(TWO_PI * c[:, :1] / L) * torch.sin(TWO_PI * c[:, 1:2] / L),  # noqa: E731
                                "v": 0.2 + 0.1 * torch.sin(TWO_PI * c[:, :1] / L)}
        else:
            model = _model(case, resolution=[4 * n],
                           dt=0.4 / (4 * n) if case == "inviscid_burgers_1d" else 0.002 / 2 ** level)
        errors.append(_consistency_error(model, fields, params))
    assert errors[1] < 0.15, errors
    assert errors[1] < 0.6 * errors[0], errors


def test_a_model_without_residual_says_so():
    from hyco.physics.base import PhysicalModel

    class NoResidual(PhysicalModel):
        def _step(self, state, params):
            return state

    model = _model("burgers_1d")
    with pytest.raises(ResidualNotDefined, match="continuous residual"):
        PhysicalModel.residual(model, {}, None, {})
    assert NoResidual.residual is PhysicalModel.residual  # what has_residual tests
    assert model.has_residual
