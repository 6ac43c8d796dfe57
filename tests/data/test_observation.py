"""ObservationOperator: spatial / temporal masks, complete frame 0, relative noise, determinism."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hyco.config.schema import ObservationConfig, SpatialMaskKind, TemporalMaskKind
from hyco.data.observation import ObservationOperator
from hyco.errors import ObservationError


def obs_cfg(**kw) -> ObservationConfig:
    return ObservationConfig(**kw)


def smooth_truth(frames: int, channels: int, shape, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(0, 2 * np.pi, n, endpoint=False) for n in shape], indexing="ij")
    out = np.zeros((frames, channels, *shape), np.float32)
    for t in range(frames):
        for c in range(channels):
            out[t, c] = sum(np.sin(g + rng.uniform(0, 6)) for g in grids) * (1.0 + 0.1 * t)
    return out


# ------------------------------------------------------------------------------------- spatial
def test_full_mask_is_all_ones():
    op = ObservationOperator(obs_cfg(), (8, 8), 5)
    assert op.mask.shape == (5, 1, 8, 8) and op.mask.dtype == np.uint8
    assert op.mask.min() == 1
    assert op.observed_fraction == 1.0


@pytest.mark.parametrize(
    "shape, lower, upper, expected_slices",
    [
        ((8, 8), [0.0, 0.0], [0.5, 0.5], (slice(0, 4), slice(0, 4))),
        ((16, 16), [0.25, 0.5], [0.75, 1.0], (slice(4, 12), slice(8, 16))),
        ((16,), [0.25], [0.75], (slice(4, 12),)),
        # 0.33 of 10 cells ends inside cell 3: the box covers the cells it overlaps
        ((10,), [0.0], [0.33], (slice(0, 4),)),
    ],
)
def test_box_mask_covers_the_fractional_box(shape, lower, upper, expected_slices):
    op = ObservationOperator(obs_cfg(spatial=SpatialMaskKind.box, box_lower=lower, box_upper=upper), shape, 3)
    expected = np.zeros(shape, bool)
    expected[expected_slices] = True
    np.testing.assert_array_equal(op.spatial_mask, expected)
    assert op.spatial_mask.sum() == expected.sum()
    for t in range(1, 3):  # every later frame sees exactly the box
        np.testing.assert_array_equal(op.mask[t, 0], expected.astype(np.uint8))


def test_box_needs_one_fraction_per_axis():
    with pytest.raises(ObservationError, match="box_lower"):
        ObservationOperator(obs_cfg(spatial=SpatialMaskKind.box, box_lower=[0.0], box_upper=[0.5]), (8, 8), 3)


def test_sensors_count_and_determinism():
    cfg = obs_cfg(spatial=SpatialMaskKind.sensors, num_sensors=10, seed=7)
    a = ObservationOperator(cfg, (8, 8), 4)
    b = ObservationOperator(cfg, (8, 8), 4)
    assert a.spatial_mask.sum() == 10
    np.testing.assert_array_equal(a.spatial_mask, b.spatial_mask)
    other = ObservationOperator(obs_cfg(spatial=SpatialMaskKind.sensors, num_sensors=10, seed=8), (8, 8), 4)
    assert not np.array_equal(a.spatial_mask, other.spatial_mask)
    # the same sensor set for every simulation: the mask does not depend on the sim's seed
    truth = smooth_truth(4, 2, (8, 8))
    _, m1 = a.apply(truth, sim_seed=1)
    _, m2 = a.apply(truth, sim_seed=2)
    np.testing.assert_array_equal(m1, m2)
    assert m1[1:].sum() == 3 * 10


def test_too_many_sensors_is_refused():
    with pytest.raises(ObservationError, match="num_sensors"):
        ObservationOperator(obs_cfg(spatial=SpatialMaskKind.sensors, num_sensors=17), (16,), 3)


# ------------------------------------------------------------------------------------ temporal
@pytest.mark.parametrize(
    "kw, frames",
    [
        ({"temporal": TemporalMaskKind.all}, list(range(10))),
        ({"temporal": TemporalMaskKind.every_k, "every_k": 3}, [0, 3, 6, 9]),
        ({"temporal": TemporalMaskKind.first, "fraction": 0.3}, [0, 1, 2]),
        ({"temporal": TemporalMaskKind.last, "fraction": 0.3}, [0, 7, 8, 9]),
        ({"temporal": TemporalMaskKind.last, "fraction": 0.25}, [0, 7, 8, 9]),  # ceil(2.5) = 3 frames
    ],
)
def test_temporal_masks(kw, frames):
    op = ObservationOperator(obs_cfg(**kw), (16,), 10)
    assert np.flatnonzero(op.temporal_mask).tolist() == frames
    per_frame = op.mask.reshape(10, -1).all(axis=1)
    assert np.flatnonzero(per_frame).tolist() == frames
    assert op.mask[[t for t in range(10) if t not in frames]].sum() == 0


def test_frame_zero_is_complete_and_clean():
    cfg = obs_cfg(
        spatial=SpatialMaskKind.box, box_lower=[0.0, 0.0], box_upper=[0.25, 0.5],
        temporal=TemporalMaskKind.last, fraction=0.4, noise=0.2,
    )
    truth = smooth_truth(6, 2, (8, 8))
    op = ObservationOperator(cfg, (8, 8), 6)
    obs, mask = op.apply(truth, sim_seed=3)
    assert mask[0].min() == 1 and mask.dtype == np.uint8
    np.testing.assert_array_equal(obs[0], truth[0])
    assert obs.dtype == np.float32
    # unobserved entries are exactly zero, observed ones are noisy
    unobserved = np.broadcast_to(mask == 0, obs.shape)
    assert np.all(obs[unobserved] == 0.0)
    observed_later = np.broadcast_to(mask == 1, obs.shape).copy()
    observed_later[0] = False
    assert observed_later.sum() > 0
    assert np.all(obs[observed_later] != truth[observed_later])


# --------------------------------------------------------------------------------------- noise
@pytest.mark.parametrize("level", [0.05, 0.2])
def test_noise_std_is_relative_to_rms(level):
    truth = smooth_truth(6, 2, (32, 32)) * 3.0
    op = ObservationOperator(obs_cfg(noise=level), (32, 32), 6)
    obs, _ = op.apply(truth, sim_seed=11)
    rms = np.sqrt(np.mean(truth.astype(np.float64) ** 2))
    residual = (obs[1:] - truth[1:]).astype(np.float64)
    assert abs(residual.mean()) < 0.05 * level * rms
    assert residual.std() == pytest.approx(level * rms, rel=0.03)


def test_noise_is_deterministic_per_sim_seed():
    truth = smooth_truth(4, 1, (16,))
    op = ObservationOperator(obs_cfg(noise=0.1, seed=5), (16,), 4)
    a, _ = op.apply(truth, sim_seed=42)
    b, _ = ObservationOperator(obs_cfg(noise=0.1, seed=5), (16,), 4).apply(truth, sim_seed=42)
    c, _ = op.apply(truth, sim_seed=43)
    d, _ = ObservationOperator(obs_cfg(noise=0.1, seed=6), (16,), 4).apply(truth, sim_seed=42)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[1:], c[1:])
    assert not np.allclose(a[1:], d[1:])
    # another field of the same simulation gets its own noise stream
    e, _ = op.apply(truth, sim_seed=42, stream=1)
    assert not np.allclose(a[1:], e[1:])


def test_zero_noise_returns_truth():
    truth = smooth_truth(3, 2, (8, 8))
    obs, mask = ObservationOperator(obs_cfg(), (8, 8), 3).apply(truth, sim_seed=0)
    np.testing.assert_array_equal(obs, truth)
    assert mask.sum() == 3 * 64


# ---------------------------------------------------------------------------- config handling
def test_enums_may_arrive_as_strings():
    cfg = SimpleNamespace(
        spatial="box", box_lower=[0.0], box_upper=[0.5], num_sensors=4,
        temporal="every_k", every_k=2, fraction=1.0, noise=0.0, seed=1,
    )
    op = ObservationOperator(cfg, (16,), 5)
    assert op.spatial_mask.sum() == 8
    assert np.flatnonzero(op.temporal_mask).tolist() == [0, 2, 4]


def test_wrong_truth_shape_is_refused():
    op = ObservationOperator(obs_cfg(), (8, 8), 3)
    with pytest.raises(ObservationError, match="shape"):
        op.apply(np.zeros((4, 2, 8, 8), np.float32), sim_seed=0)


# ------------------------------------------------------------------------------------- sensors in a region
def test_sensors_stay_inside_their_region_and_can_move():
    fixed = ObservationOperator(obs_cfg(spatial=SpatialMaskKind.sensors, num_sensors=5, box_lower=[0.0, 0.5],
                                        box_upper=[0.5, 1.0]), (8, 8), 4)
    assert fixed.spatial_mask.shape == (8, 8) and int(fixed.spatial_mask.sum()) == 5
    assert not fixed.spatial_mask[4:, :].any() and not fixed.spatial_mask[:, :4].any()
    for t in range(1, 4):  # fixed sensors: the same points every frame
        np.testing.assert_array_equal(fixed.mask[t, 0], fixed.spatial_mask)
    moving = ObservationOperator(obs_cfg(spatial=SpatialMaskKind.sensors, num_sensors=5, box_lower=[0.0, 0.5],
                                         box_upper=[0.5, 1.0], moving_sensors=True), (8, 8), 4)
    assert moving.spatial_mask.shape == (4, 8, 8)
    assert [int(moving.mask[t, 0].sum()) for t in range(1, 4)] == [5, 5, 5]
    assert not moving.mask[1:, 0, 4:, :].any() and not moving.mask[1:, 0, :, :4].any()
    assert not all(np.array_equal(moving.mask[1, 0], moving.mask[t, 0]) for t in (2, 3))  # they move
    again = ObservationOperator(obs_cfg(spatial=SpatialMaskKind.sensors, num_sensors=5, box_lower=[0.0, 0.5],
                                        box_upper=[0.5, 1.0], moving_sensors=True), (8, 8), 4)
    np.testing.assert_array_equal(again.mask, moving.mask)  # seeded
    with pytest.raises(ObservationError, match="num_sensors"):
        ObservationOperator(obs_cfg(spatial=SpatialMaskKind.sensors, num_sensors=17, box_lower=[0.0, 0.5],
                                    box_upper=[0.5, 1.0]), (8, 8), 4)
