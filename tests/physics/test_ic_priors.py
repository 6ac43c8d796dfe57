"""The initial-condition priors of APHYNITY's benchmarks: uniform noise, a Gaussian bump, an annulus."""

from __future__ import annotations

import numpy as np
import pytest

from hyco.errors import ConfigError
from hyco.physics import build_physics
from hyco.physics.ic import sample_prior

GRID = {"name": "damped_wave", "dim": 2, "resolution": [32, 32], "domain_size": 32.0, "dt": 1e-3,
        "params": {"c": {"true_value": 1.0, "initial_guess": 1.0, "upper": 2.0},
                   "k": {"true_value": 0.0, "initial_guess": 0.0, "upper": 1.0}}}
ODE = {"name": "damped_pendulum", "dim": 0, "resolution": [], "dt": 0.5,
       "params": {"omega2": {"true_value": 1.0, "initial_guess": 1.0, "upper": 5.0},
                  "alpha": {"true_value": 0.2, "initial_guess": 0.2, "upper": 2.0}}}


def test_uniform_noise_per_cell_in_its_range_and_seeded():
    model = build_physics(GRID, {"name": "uniform", "low": 0.25, "high": 0.75})
    draws = sample_prior(model, [1, 2], model.ic)
    for values in draws.values():
        assert values.shape == (2, 1, 32, 32) and 0.25 <= values.min() and values.max() <= 0.75
        assert values.std() == pytest.approx(0.5 / np.sqrt(12), rel=0.1)  # independent uniform cells
    again = sample_prior(model, [2], model.ic)
    np.testing.assert_array_equal(again["w"][0], draws["w"][1])  # entry i depends on seeds[i] only
    assert not np.array_equal(draws["w"], draws["w_t"])  # each field its own stream


def test_gaussian_bump_centre_and_spread_in_their_boxes_velocity_at_rest():
    ic = {"name": "gaussian_bump", "centre_lower": [0.25, 0.5], "centre_upper": [0.5, 0.75],
          "spread_lower": 4.0, "spread_upper": 9.0, "amplitude": 2.0}
    model = build_physics(GRID, ic)
    draws = sample_prior(model, list(range(20)), model.ic)
    assert not draws["w_t"].any()
    x, y = model.cell_centres()
    for w in draws["w"][:, 0]:
        assert w.max() <= 2.0 and w.max() > 1.5  # the peak is near a cell centre
        cx, cy = (w * x).sum() / w.sum(), (w * y).sum() / w.sum()
        assert 8 - 0.5 <= cx <= 16 + 0.5 and 16 - 0.5 <= cy <= 24 + 0.5
        spread = ((w * ((x - cx) ** 2 + (y - cy) ** 2)).sum() / w.sum())  # = s for exp(-r^2 / s) in 2D
        assert 4.0 * 0.95 <= spread <= 9.0 * 1.05
    with pytest.raises(ConfigError, match="spread_lower"):
        sample_prior(model, [0], {**ic, "spread_lower": 0.0})


def test_annulus_radius_and_direction():
    model = build_physics(ODE, {"name": "annulus", "radius_lower": 1.3, "radius_upper": 2.3})
    draws = sample_prior(model, list(range(200)), model.ic)
    assert draws["theta"].shape == (200, 1)
    radius = np.hypot(draws["theta"][:, 0], draws["omega"][:, 0])
    assert radius.min() >= 1.3 and radius.max() <= 2.3 and radius.max() - radius.min() > 0.8
    angles = np.arctan2(draws["omega"][:, 0], draws["theta"][:, 0])
    assert np.histogram(angles, bins=4, range=(-np.pi, np.pi))[0].min() > 20  # every quadrant
