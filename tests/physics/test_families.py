"""Parametric coefficient families: the heat papers' kappa from its six scalars, the papers'
parameter error, the optimiser's space, and gradients equal to finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyco.compose import compose_config
from hyco.errors import ConfigError
from hyco.physics.families import FAMILIES, family_metrics, p_error, theta_rel_error
from hyco.physics.registry import build_physics

BUMPS = FAMILIES.get("gaussian_bumps")
ARGS = {"count": 2, "offset": 0.1, "width": 1.0, "clamp": [0.0, 2.5], "amplitude_space": "log"}
TRUTH = [3.0, 2.5, 1.0, -2.0, 1.0, -2.0]  # A1 A2 x1 x2 y1 y2
START = [1.0, 1.0, 1.4, -1.8, -1.3, -1.1]


def test_the_heat_papers_kappa_is_generated_clamped_on_the_node_grid():
    cfg = compose_config(["experiment=paper_heat_quarter"])
    model = build_physics(cfg.physics, cfg.data.ic)
    assert model.theta_names("kappa") == ["A1", "A2", "x1", "x2", "y1", "y2"]
    kappa = model.family_field("kappa", torch.tensor(TRUTH, dtype=torch.float64)).numpy()
    x, y = model.cell_centres()
    assert x[0, 0] == pytest.approx(-3.0) and x[-1, 0] == pytest.approx(3.0)  # nodes on the walls
    expected = 0.1 + 3.0 * np.exp(-((x - 1) ** 2 + (y - 1) ** 2)) + 2.5 * np.exp(-((x + 2) ** 2 + (y + 2) ** 2))
    np.testing.assert_allclose(kappa, np.clip(expected, 0.0, 2.5), rtol=1e-12)
    assert kappa.max() == 2.5 and (expected > 2.5).any()  # the truth is flat-topped, as published


def test_the_papers_parameter_error_and_the_theta_error_have_their_known_values():
    # amplitudes off by (2, 1.5): 2.5 / |(3, 2.5)|; centres off by (0.4, 0.2, -2.3, 0.9) over |(1, -2, 1, -2)|
    expected = 2.5 / np.hypot(3.0, 2.5) + np.linalg.norm([0.4, 0.2, -2.3, 0.9]) / np.sqrt(10.0)
    assert p_error(BUMPS, ARGS, 2, START, TRUTH) == pytest.approx(expected, rel=1e-12)
    assert p_error(BUMPS, ARGS, 2, TRUTH, TRUTH) == 0.0
    assert theta_rel_error(START, TRUTH) == pytest.approx(
        np.linalg.norm(np.subtract(START, TRUTH)) / np.linalg.norm(TRUTH), rel=1e-12)
    cfg = compose_config(["experiment=paper_heat_quarter"])
    scores = family_metrics(build_physics(cfg.physics, cfg.data.ic), {"kappa": START})
    assert scores["param/kappa/p_error"] == pytest.approx(expected, rel=1e-12)
    assert scores["param/kappa/x2"] == -1.8


def test_the_optimiser_space_round_trips_and_log_amplitudes_stay_positive():
    z = BUMPS.to_unconstrained(np.array(TRUTH), ARGS, 2)
    np.testing.assert_allclose(z[:2], np.log([3.0, 2.5]), rtol=1e-15)
    back = BUMPS.from_unconstrained(torch.tensor(z, dtype=torch.float64), ARGS, 2).numpy()
    np.testing.assert_allclose(back, TRUTH, rtol=1e-12, atol=1e-12)
    with pytest.raises(ConfigError, match="positive amplitudes"):
        BUMPS.to_unconstrained(np.array([-1.0, 1.0, 0, 0, 0, 0]), ARGS, 2)
    with pytest.raises(ConfigError, match="clamp"):
        BUMPS.field(torch.zeros(6), torch.zeros(3, 2), {**ARGS, "clamp": [2.0, 1.0]})


@pytest.mark.parametrize("preset", ["paper_heat_quarter", "paper_heat_half", "paper_heat_full",
                                    "paper_heat_quarter_fair"])
def test_the_heat_presets_optimise_the_amplitudes_themselves_as_the_authors_code(preset):
    # the authors' Heat.alpha holds A and uses exp(log(alpha)): the identity, in value and in gradient,
    # so Adam moves A itself (a log space makes its steps multiplicative: A1 overshot to 6)
    cfg = compose_config([f"experiment={preset}"])
    args = cfg.physics.params.kappa.family_args
    theta = np.array([2.7, 0.4, 1.1, -1.9, 0.8, -2.2])
    np.testing.assert_array_equal(BUMPS.to_unconstrained(theta, args, 2), theta)
    z = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    BUMPS.from_unconstrained(z, args, 2).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), np.ones(6))


def test_the_field_gradient_in_theta_equals_finite_differences():
    coords = torch.stack(torch.meshgrid(torch.linspace(-3, 3, 9, dtype=torch.float64),
                                        torch.linspace(-3, 3, 9, dtype=torch.float64), indexing="ij"), -1)
    unclamped = {**ARGS, "clamp": None}
    z = torch.tensor(BUMPS.to_unconstrained(np.array(START), unclamped, 2), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: BUMPS.field(BUMPS.from_unconstrained(v, unclamped, 2), coords,
                                                          unclamped), (z,))
