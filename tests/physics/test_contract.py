"""The contract every registered physics model keeps, on the tiny cases each model declares
(``PhysicalModel.TINY_CASES``): a new PDE is covered by declaring its case. Time steppers keep the
stepping contract; static models (no time axis) the solving contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from phiml import math
from physics_cases import CASES

from hyco.errors import PhysicsParameterError
from hyco.physics import available_physics, build_physics


def build(case: str, jit: bool = True):
    return build_physics(CASES[case]["physics"], CASES[case]["ic"], jit=jit)


STEPPING = sorted(c for c in CASES if build(c).time_dependent)
STATIC = sorted(c for c in CASES if not build(c).time_dependent)


def host(t) -> np.ndarray:
    return t.numpy(t.shape.names) if t.shape.rank else np.asarray(t.numpy())


def test_every_registered_model_declares_a_tiny_case():
    covered = {c["physics"]["name"] for c in CASES.values()}
    assert {n for n in available_physics() if not n.startswith("_")} <= covered


@pytest.mark.parametrize("case", STEPPING)
def test_converter_round_trip_is_exact(case):
    model = build(case)
    state = model.initial_state(3, 11)
    conv = model.converter
    back = conv.tensor_to_state(conv.state_to_tensor(state))
    for name in model.field_names:
        a, b = conv.to_numpy(state[name]), conv.to_numpy(back[name])
        assert a.shape[0] == 3
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)


@pytest.mark.parametrize("case", STEPPING)
def test_step_traces_once_while_parameters_change(case):
    model = build(case)
    state = model.initial_state(2, 0)
    init, true = model.initial_params(), model.true_params()
    finals = []
    for a in (0.0, 0.5, 1.0):
        values = {n: (1 - a) * host(init[n]) + a * host(true[n]) for n in model.param_specs}
        finals.append(model.converter.state_to_tensor(model.rollout(state, model.params_from_values(values), 2)[-1]))
    assert model.trace_count == 1
    assert float((finals[0] - finals[2]).abs().max()) > 1e-5  # the new values were used


def _as64(t):
    return math.tensor(t.native(t.shape.names).double(), t.shape) if t.shape.rank else math.tensor(
        t.native().double())


@pytest.mark.parametrize("case", STEPPING)
def test_gradient_matches_central_differences_in_float64(case):
    model = build(case)
    conv = model.converter
    learnable = [n for n, s in model.param_specs.items() if s.learnable]
    assert learnable
    gen = torch.Generator().manual_seed(0)
    with math.precision(64):
        x0 = conv.state_to_tensor(model.initial_state(2, 3)).double()
        weights = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
        base = {n: _as64(t) for n, t in model.params_from_values(
            {n: 0.5 * (host(model.initial_params()[n]) + host(model.true_params()[n]))
             for n in model.param_specs}).items()}

        for name in learnable:
            theta = base[name]
            direction = torch.randn(theta.native(theta.shape.names).shape, generator=gen, dtype=torch.float64) \
                if theta.shape.rank else torch.ones((), dtype=torch.float64)
            scale = float(np.abs(host(theta)).max()) or 1.0

            def loss(t):
                native = theta.native(theta.shape.names) + t * direction
                params = {**base, name: math.tensor(native, theta.shape)}
                state = conv.tensor_to_state(x0)
                for _ in range(2):
                    state = model.step(state, params)
                return (conv.state_to_tensor(state) * weights).sum()

            t = torch.zeros((), dtype=torch.float64, requires_grad=True)
            (grad,) = torch.autograd.grad(loss(t), t)
            eps = 1e-4 * scale
            with torch.no_grad():
                fd = (loss(torch.tensor(eps, dtype=torch.float64))
                      - loss(torch.tensor(-eps, dtype=torch.float64))) / (2 * eps)
            assert abs(float(grad)) > 1e-8, name
            assert float(grad) == pytest.approx(float(fd), rel=1e-4), name


@pytest.mark.parametrize("case", STEPPING)
def test_invalid_parameters_are_refused_by_name(case):
    model = build(case)
    good = {n: host(t) for n, t in model.true_params().items()}
    model.validate_params(model.params_from_values(good))
    for name, bad in CASES[case]["invalid"]:
        values = dict(good, **{name: bad})
        with pytest.raises(PhysicsParameterError, match=f"'{name}'"):
            model.validate_params(model.params_from_values(values))
        with pytest.raises(PhysicsParameterError, match=f"'{name}'"):
            model.rollout(model.initial_state(1, 0), model.params_from_values(values), 1)


# ------------------------------------------------------------------------------------------------
# static models: a solve instead of a step
# ------------------------------------------------------------------------------------------------
def test_every_registered_model_is_covered_by_one_contract():
    assert STATIC and STEPPING and set(STATIC) | set(STEPPING) == set(CASES)


@pytest.mark.parametrize("case", STATIC)
def test_static_solve_is_finite_zero_on_the_walls_and_moves_with_the_parameters(case):
    model = build(case)
    true, init = model.true_params(), model.initial_params()
    model.validate_params(true)
    u_true, u_init = model.solve(true), model.solve(init)
    assert u_true.shape == (sum(model.channels.values()), *model.converter.sample_shape)
    assert torch.isfinite(u_true).all() and float(u_true.abs().max()) > 1e-3
    for edge in (u_true[:, 0], u_true[:, -1], u_true[:, :, 0], u_true[:, :, -1]):
        assert float(edge.abs().max()) == 0.0
    assert float((u_true - u_init).abs().max()) > 1e-4
    with pytest.raises(TypeError, match="static"):
        model.initial_state(1, 0)


@pytest.mark.parametrize("case", STATIC)
def test_static_solve_gradient_matches_central_differences_in_float64(case):
    model = build(case)
    gen = torch.Generator().manual_seed(0)
    weights = torch.randn(model.solve(model.true_params()).shape, generator=gen, dtype=torch.float64)
    for name, spec in model.param_specs.items():
        if not spec.learnable:
            continue
        theta = torch.tensor([0.5 * (a + b) for a, b in zip(spec.true_theta, spec.initial_theta)], dtype=torch.float64)
        direction = torch.randn(theta.shape, generator=gen, dtype=torch.float64)

        def loss(t):
            params = {**model.true_params(), name: model.family_field(name, theta + t * direction)}
            return (model.solve(params, dtype=torch.float64) * weights).sum()

        t = torch.zeros((), dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(loss(t), t)
        eps = 1e-5
        with torch.no_grad():
            fd = (loss(torch.tensor(eps, dtype=torch.float64))
                  - loss(torch.tensor(-eps, dtype=torch.float64))) / (2 * eps)
        assert abs(float(grad)) > 1e-8, name
        assert float(grad) == pytest.approx(float(fd), rel=1e-6), name


@pytest.mark.parametrize("case", STATIC)
def test_static_invalid_parameters_are_refused_by_name(case):
    model = build(case)
    good = {n: t.detach() for n, t in model.true_params().items()}
    for name, bad in CASES[case]["invalid"]:
        with pytest.raises(PhysicsParameterError, match=f"'{name}'"):
            model.validate_params(model.params_from_values(dict(good, **{name: bad})))


@pytest.mark.parametrize("case", STEPPING)
def test_seeded_initial_conditions_reproduce(case):
    model = build(case)
    conv = model.converter
    a = conv.state_to_tensor(model.initial_state(2, 5))
    b = conv.state_to_tensor(model.initial_state(2, 5))
    c = conv.state_to_tensor(model.initial_state(2, 6))
    assert torch.equal(a, b)
    assert float((a - c).abs().max()) > 1e-3
