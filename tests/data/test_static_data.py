"""Data of a static problem: one frame (the solution) observed at points drawn uniformly in a box,
without time; the analytic truth read exactly, the fine truth by interpolation, the published
noise convention, the reference grid the reconstructions are scored on, and what is refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from static_helpers import TINY_DARCY, TINY_HELMHOLTZ, tiny_static

from hyco.compose import compose_config
from hyco.data.cache import CacheReader
from hyco.data.generate import generate_dataset
from hyco.data.points import Extent, uniform_positions
from hyco.data.scattered import ScatteredData
from hyco.errors import ConfigError, ObservationError


class Obs:
    def __init__(self, **kw):
        self.__dict__.update({**dict(box_lower=[0.5, 0.5], box_upper=[1.0, 1.0], num_sensors=25, seed=3), **kw})


SQUARE = Extent(first=(-math.pi,) * 2, spacing=(math.pi / 9,) * 2, shape=(19, 19), lower=(-math.pi,) * 2,
                size=2 * math.pi, periodic=(False, False))


def open_static(tmp_path, base, *overrides):
    cfg = compose_config([*tiny_static("physical_only", base), f"data.cache_dir={tmp_path}", *overrides])
    reader = CacheReader(generate_dataset(cfg, progress=False).path)
    return cfg, reader, ScatteredData.open(cfg, reader)


def test_uniform_points_fill_their_box_and_follow_the_seed():
    points = uniform_positions(Obs(), SQUARE)
    assert points.shape == (25, 2) and points.min() >= 0.0 and points.max() <= math.pi
    np.testing.assert_array_equal(points, uniform_positions(Obs(), SQUARE))
    assert not np.allclose(points, uniform_positions(Obs(seed=4), SQUARE))
    with pytest.raises(ObservationError, match="num_sensors"):
        uniform_positions(Obs(num_sensors=0), SQUARE)


def test_the_helmholtz_data_are_the_exact_solution_at_points_without_time(tmp_path):
    cfg, reader, data = open_static(tmp_path, TINY_HELMHOLTZ)
    assert reader.metadata["static"] and reader.num_frames == 1 and data.static and data.first == 0
    obs = data.observed["u"]
    assert obs.points.shape == (12, 2) and not data.timed and bool((obs.frames == 0).all())
    x, y = obs.points.double().T
    # read exactly, not interpolated from a grid (bilinear on 7 x 7 nodes would be off by ~0.1)
    torch.testing.assert_close(obs.values[:, 0].double(), torch.sin(x) * torch.sin(y), rtol=0, atol=1e-6)
    assert float(obs.points.min()) >= 0.0  # the quarter (0, pi)^2
    assert float(data.x0.abs().max()) == 0.0  # nothing of the solution is given as an input
    assert not reader.load("train", 0)["mask_u"].any()
    reference, (first, spacing) = data.reference()
    assert reference.shape == (1, 1, 9, 9) and first == pytest.approx((-math.pi,) * 2)
    assert spacing == pytest.approx((2 * math.pi / 8,) * 2)
    points, values = next(data.reference_points())
    assert points.shape == (81, 2)
    x, y = points.double().T
    torch.testing.assert_close(values[:, 0].double(), torch.sin(x) * torch.sin(y), rtol=0, atol=1e-6)


def test_the_darcy_truth_is_a_finer_solve_and_the_noise_scales_with_the_largest_value(tmp_path):
    cfg, reader, clean = open_static(tmp_path, TINY_DARCY, "observation.noise=0.0", "observation.num_sensors=400")
    _, _, noisy = open_static(tmp_path, TINY_DARCY, "observation.noise=0.1", "observation.num_sensors=400")
    assert reader.metadata["fine"]["resolution"] == [9, 9]  # the reference grid, read off the 13 x 13 truth
    values = clean.observed["u"].values[:, 0]
    torch.testing.assert_close(noisy.observed["u"].points, clean.observed["u"].points)
    noise = (noisy.observed["u"].values[:, 0] - values).numpy()
    assert np.std(noise) == pytest.approx(0.1 * float(values.abs().max()), rel=0.15)
    # the learner's grid holds the finer truth read at its nodes: model error, not an inverse crime
    truth = clean.truth[0, 0, 0]
    assert float(truth[1:-1, 1:-1].min()) > 0.0 and float(truth[0].abs().max()) == 0.0


@pytest.mark.parametrize("override, key", [("data.num_frames=2", "data.num_frames"),
                                           ("data.num_val=1", "data.num_train/num_val/num_test"),
                                           ("observation.spatial=full", "observation.spatial")])
def test_a_static_problem_refuses_frames_held_out_data_and_grid_observations(tmp_path, override, key):
    with pytest.raises(ConfigError, match=key):
        compose_config([*tiny_static("physical_only", TINY_DARCY), f"data.cache_dir={tmp_path}", override])
