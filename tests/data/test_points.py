"""Scattered observations: Lagrangian sensors on the closed-form path, random tuples, noise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from hyco.compose import compose_config
from hyco.data.cache import CacheReader
from hyco.data.generate import generate_dataset
from hyco.data.points import Extent, lattice_positions, observe_points, read
from hyco.errors import ObservationError

HEAT = ["experiment=heat_quick", "physics.resolution=[12,12]", "data.num_train=1", "data.num_val=0",
        "data.num_test=0", "data.num_frames=5", "trainer.rollout_steps=1"]


class Obs:
    """An observation config as the functions read it."""

    def __init__(self, **kw):
        base = dict(spatial="lattice", box_lower=[0.5, 0.5], box_upper=[1.0, 1.0], lattice=10, num_sensors=60,
                    sensor_indices=[], motion_matrix=[[-0.1, -1.0], [1.0, -0.1]], motion_centre=[1.5, 1.5],
                    noise=0.0, noise_scale="rms", seed=3)
        base.update(kw)
        self.__dict__.update(base)


EXTENT = Extent(first=(-3.0, -3.0), spacing=(6 / 17, 6 / 17), shape=(18, 18), lower=(-3.0, -3.0), size=6.0,
                periodic=(False, False))


def test_moving_sensors_follow_the_closed_form_of_their_linear_ode():
    times = np.linspace(0.0, 1.0, 11)
    positions = lattice_positions(Obs(), EXTENT, times)
    assert positions.shape == (11, 60, 2)
    # the quarter's lattice starts in [0, 3]^2 (the papers' "quarter")
    assert positions[0].min() >= 0.0 and positions[0].max() <= 3.0
    matrix, centre = np.array([[-0.1, -1.0], [1.0, -0.1]]), np.array([1.5, 1.5])
    for sensor in (0, 17, 59):
        ode = solve_ivp(lambda t, x: matrix @ (x - centre), (0, 1), positions[0, sensor], t_eval=times,
                        rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(positions[:, sensor], ode.y.T, rtol=0, atol=1e-8)
    # the same seed keeps the same 60 sensors; another keeps others; explicit indices win
    assert np.array_equal(lattice_positions(Obs(), EXTENT, times), positions)
    assert not np.array_equal(lattice_positions(Obs(seed=4), EXTENT, times), positions)
    assert lattice_positions(Obs(sensor_indices=[0, 99]), EXTENT, times).shape == (11, 2, 2)
    fixed = lattice_positions(Obs(motion_matrix=[]), EXTENT, times)
    assert np.array_equal(fixed[0], fixed[-1])
    with pytest.raises(ObservationError, match="sensor_indices"):
        lattice_positions(Obs(sensor_indices=[100]), EXTENT, times)


def test_sensor_values_read_the_truth_and_noise_scales_as_asked():
    grid = np.stack(np.meshgrid(*[EXTENT.first[d] + EXTENT.spacing[d] * np.arange(18) for d in range(2)],
                                indexing="ij"), -1)
    field = (1.0 + 0.5 * grid[..., 0] - 0.25 * grid[..., 1])[None]  # linear: read exactly inside the grid
    truth = np.stack([field, 2 * field])  # [T=2, C=1, 18, 18]
    obs = observe_points(Obs(motion_matrix=[]), truth, EXTENT, np.array([0.0, 0.1]), sim_seed=0, stream=0)
    x, y = obs["points"][:, 0], obs["points"][:, 1]
    expected = (1.0 + 0.5 * x - 0.25 * y) * np.where(obs["frames"] == 0, 1.0, 2.0)
    np.testing.assert_allclose(obs["clean"][:, 0], expected, rtol=1e-5)
    assert np.array_equal(obs["values"], obs["clean"]) and set(obs["points"][:, 2]) == {0.0, np.float32(0.1)}
    noisy = observe_points(Obs(noise=0.1, noise_scale="max"), truth, EXTENT, np.array([0.0, 0.1]), 0, 0)
    ratio = np.std(noisy["values"] - noisy["clean"]) / np.abs(noisy["clean"]).max()
    assert 0.08 < ratio < 0.12
    # outside the walled domain a field falls to its wall value
    assert read(field, EXTENT, np.array([[10.0, 10.0]]))[0, 0] == 0.0


def test_scattered_observations_go_into_the_cache(tmp_path):
    cfg = compose_config([*HEAT, f"data.cache_dir={tmp_path}", "observation.spatial=lattice", "observation.lattice=4",
                          "observation.num_sensors=10", "observation.box_lower=[0.0,0.0]",
                          "observation.box_upper=[1.0,1.0]"], check=False)  # the data alone: no arm runs
    reader = CacheReader(generate_dataset(cfg, progress=False).path)
    sim = reader.load("train", 0)
    assert sim["points_u"].shape == (5 * 10, 3) and sim["values_u"].shape == (50, 1)
    assert reader.metadata["scattered"] is True
    assert sim["mask_u"][0].all() and not sim["mask_u"][1:].any()  # on the grid only the known IC
    cfg = compose_config([*HEAT, f"data.cache_dir={tmp_path}", "observation.spatial=tuples",
                          "observation.num_sensors=30"], check=False)
    sim = CacheReader(generate_dataset(cfg, progress=False).path).load("train", 0)
    frames, points = sim["frames_u"], sim["points_u"]
    assert len(frames) == 30 and len({tuple(p) for p in points}) == 30
    # a tuple reads its cell exactly
    model_grid = sim["truth_u"]
    i = np.rint((points[:, 0] - (-3 + 0.25)) / 0.5).astype(int)
    j = np.rint((points[:, 1] - (-3 + 0.25)) / 0.5).astype(int)
    np.testing.assert_allclose(sim["values_u"][:, 0], model_grid[frames, 0, i, j], rtol=1e-6)
