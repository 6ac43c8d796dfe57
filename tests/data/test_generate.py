"""generate_dataset: array contract, seeds and splits, batching independence, validation first."""

from __future__ import annotations

import numpy as np
import pytest

from hyco.data.cache import FORMAT_VERSION, CacheReader, cache_key
from hyco.data.generate import SEED_OFFSETS, generate_dataset, split_seeds
from hyco.errors import PhysicsParameterError
from hyco.physics import build_physics


def test_arrays_follow_the_contract_1d(data_cfg):
    cfg = data_cfg()
    result = generate_dataset(cfg, progress=False)
    reader = CacheReader(result.path)
    assert reader.num_frames == 5 and reader.spatial_shape == (16,)
    arrays = reader.load("train", 0)
    assert set(arrays) == {"truth_velocity", "obs_velocity", "mask_velocity", "param_nu", "seed"}
    assert arrays["truth_velocity"].shape == (5, 1, 16) and arrays["truth_velocity"].dtype == np.float32
    assert arrays["obs_velocity"].shape == (5, 1, 16) and arrays["obs_velocity"].dtype == np.float32
    assert arrays["mask_velocity"].shape == (5, 1, 16) and arrays["mask_velocity"].dtype == np.uint8
    assert arrays["seed"].shape == () and arrays["seed"].dtype == np.int64
    # the true scalar nu, stored as the constant field it acts as
    assert arrays["param_nu"].shape == (1, 16) and arrays["param_nu"].dtype == np.float32
    np.testing.assert_allclose(arrays["param_nu"], 0.01, rtol=1e-6)
    truth = arrays["truth_velocity"]
    assert np.all(np.isfinite(truth)) and np.abs(truth[0]).max() > 0.1
    assert not np.allclose(truth[0], truth[-1])  # it evolves
    # full, noise-free observation: obs == truth, mask all ones
    np.testing.assert_array_equal(arrays["obs_velocity"], truth)
    assert arrays["mask_velocity"].min() == 1


def test_metadata_records_splits_seeds_versions_and_checksums(data_cfg):
    cfg = data_cfg("data.seed=7")
    result = generate_dataset(cfg, progress=False)
    meta = CacheReader(result.path).metadata
    assert meta["format_version"] == FORMAT_VERSION and meta["key"] == result.key == cache_key(cfg)
    assert result.path.name == result.key
    assert {"python", "torch", "phiflow", "phiml", "numpy", "hyco"} <= set(meta["versions"])
    assert meta["splits"]["train"] == {"count": 2, "seed_offset": 0, "seeds": [7, 8]}
    assert meta["splits"]["val"]["seeds"] == [7 + SEED_OFFSETS["val"]]
    assert meta["splits"]["test"]["seeds"] == [7 + SEED_OFFSETS["test"]]
    assert meta["num_frames"] == 5 and meta["spatial_shape"] == [16]
    assert meta["fields"] == {"velocity": {"channels": 1, "kind": "vector", "grid": "centered", "role": "dynamic",
                                           "boundary": ["periodic"], "shape": [16], "observed": True}}
    assert meta["params"] == {"nu": {"kind": "scalar", "learnable": True}}
    assert sorted(meta["files"]) == ["test_00000.npz", "train_00000.npz", "train_00001.npz", "val_00000.npz"]
    assert all(len(sha) == 64 for sha in meta["files"].values())
    assert meta["config"]["physics"]["name"] == "burgers"
    reader = CacheReader(result.path)
    for split in ("train", "val", "test"):
        for i, seed in enumerate(reader.seeds(split)):
            assert int(reader.load(split, i)["seed"]) == seed


def test_split_seeds_are_disjoint(data_cfg):
    seeds = split_seeds(data_cfg("data.num_train=50", "data.num_val=20", "data.num_test=20").data)
    flat = seeds["train"] + seeds["val"] + seeds["test"]
    assert len(set(flat)) == 90
    assert seeds["train"][:3] == [0, 1, 2]


def test_each_simulation_is_independent_of_the_generation_batch(tmp_path):
    from data_helpers import compose_data_cfg

    overrides = ("data.num_train=3", "data.num_val=1", "data.num_test=1", "observation=sensors",
                 "observation.num_sensors=6", "observation.noise=0.05")
    one = compose_data_cfg(tmp_path / "b1", *overrides, "data.generation_batch=1")
    three = compose_data_cfg(tmp_path / "b3", *overrides, "data.generation_batch=3")
    assert cache_key(one) == cache_key(three)  # the batch size is not part of the data's identity
    r1 = CacheReader(generate_dataset(one, progress=False).path)
    r3 = CacheReader(generate_dataset(three, progress=False).path)
    for split in ("train", "val", "test"):
        for i in range(r1.num_sims(split)):
            a, b = r1.load(split, i), r3.load(split, i)
            assert set(a) == set(b)
            for name in a:
                np.testing.assert_allclose(a[name], b[name], rtol=1e-6, atol=1e-7, err_msg=f"{split} {i} {name}")
    # and different ICs give different trajectories
    assert not np.allclose(r1.load("train", 0)["truth_velocity"], r1.load("train", 1)["truth_velocity"])


def test_observation_is_applied_2d(data_cfg):
    cfg = data_cfg("observation=quarter_noisy", "observation.noise=0.1", dim=2)
    reader = CacheReader(generate_dataset(cfg, progress=False).path)
    arrays = reader.load("train", 1)
    truth, obs, mask = arrays["truth_velocity"], arrays["obs_velocity"], arrays["mask_velocity"]
    assert truth.shape == (4, 2, 8, 8) and mask.shape == (4, 1, 8, 8)
    assert mask[0].min() == 1
    np.testing.assert_array_equal(obs[0], truth[0])
    expected = np.zeros((8, 8), np.uint8)
    expected[:4, :4] = 1
    for t in range(1, 4):
        np.testing.assert_array_equal(mask[t, 0], expected)
    assert np.all(obs[1:, :, 4:, :] == 0) and np.all(obs[1:, :, :, 4:] == 0)
    inside = (obs - truth)[1:, :, :4, :4]
    rms = np.sqrt(np.mean(truth.astype(np.float64) ** 2))
    assert 0.5 * 0.1 * rms < inside.std() < 1.5 * 0.1 * rms
    assert reader.metadata["observation"]["observed_points"] == 16


def test_invalid_truth_stops_before_any_file_is_written(data_cfg, tmp_path):
    cfg = data_cfg("physics.params.nu.lower=-1.0", "physics.params.nu.true_value=-0.01")
    with pytest.raises(PhysicsParameterError, match="nu"):
        generate_dataset(cfg, progress=False)
    entries = [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]
    assert entries == []


@pytest.mark.parametrize("grid", ["centered", "staggered"])
def test_field_nu_is_stored_at_cell_centres_2d(data_cfg, grid):
    cfg = data_cfg(
        f"physics.grid={grid}", "physics.params.nu.kind=field", "physics.params.nu.true_profile=sine",
        "physics.params.nu.profile_amplitude=0.5", dim=2,
    )
    reader = CacheReader(generate_dataset(cfg, progress=False).path)
    arrays = reader.load("val", 0)
    assert arrays["truth_velocity"].shape == (4, 2, 8, 8)
    assert reader.metadata["fields"]["velocity"]["grid"] == grid
    static = arrays["param_nu"]
    assert static.shape == (1, 8, 8)
    truth_nu = build_physics(cfg.physics, cfg.data.ic).true_params()["nu"].numpy(["x", "y"])
    np.testing.assert_allclose(static[0], truth_nu, rtol=1e-6)
    assert static.max() > 1.2 * static.min()  # a real profile, not a constant


def test_each_field_has_its_own_mask_and_unobserved_fields_keep_only_their_ic(tmp_path):
    from data_helpers import compose_data_cfg

    cfg = compose_data_cfg(tmp_path / "gs", "experiment=gray_scott_quick", "physics.resolution=[8,8]",
                           "physics.dt=2.0", "physics.substeps=5", "observation.fields=[v]",
                           "observation.spatial=box", "observation.box_lower=[0.0,0.0]",
                           "observation.box_upper=[0.5,0.5]", dim=2)
    reader = CacheReader(generate_dataset(cfg, progress=False).path)
    arrays = reader.load("train", 0)
    assert {"truth_u", "truth_v", "obs_u", "obs_v", "mask_u", "mask_v", "param_Du", "param_Dv", "param_F",
            "param_k", "seed"} == set(arrays)
    assert reader.dynamic_fields == ["u", "v"] and reader.static_fields == []
    assert reader.fields["v"]["observed"] and not reader.fields["u"]["observed"]
    # u: the initial condition only
    assert arrays["mask_u"][0].min() == 1 and arrays["mask_u"][1:].max() == 0
    np.testing.assert_array_equal(arrays["obs_u"][0], arrays["truth_u"][0])
    assert np.all(arrays["obs_u"][1:] == 0)
    # v: the lower-left quarter of every frame
    assert arrays["mask_v"][1:, 0, :4, :4].min() == 1 and arrays["mask_v"][1:, 0, 4:].max() == 0
    np.testing.assert_array_equal(arrays["obs_v"][:, :, :4, :4], arrays["truth_v"][:, :, :4, :4])
    np.testing.assert_allclose(arrays["param_Du"], 0.2, rtol=1e-6)


def test_windows_follow_the_models_field_order_for_a_walled_staggered_state(data_cfg):
    # smoke's state is (velocity, smoke): not alphabetical, and the metadata JSON sorts its keys
    cfg = data_cfg("experiment=smoke_quick", "physics.resolution=[8,8]", "data.num_frames=3", dim=2)
    result = generate_dataset(cfg, progress=False)
    reader = CacheReader(result.path)
    assert reader.dynamic_fields == ["velocity", "smoke"]
    assert reader.spatial_shape == (9, 9)  # N + 1: PhiFlow's uniform face layout
    from hyco.data.dataset import WindowDataset

    x0, targets, masks = WindowDataset(reader, "train", 1)[0]
    arrays = reader.load("train", 0)
    np.testing.assert_array_equal(x0[:2].numpy(), arrays["truth_velocity"][0])
    np.testing.assert_array_equal(x0[2:].numpy(), arrays["truth_smoke"][0])
    np.testing.assert_array_equal(targets[0, 2:].numpy(), arrays["obs_smoke"][1])
    # the smoke's zero padding (row and column 8) is never observed; the velocity is, in full
    assert masks[0, 2, 8].max() == 0 and masks[0, 2, :8, :8].min() == 1 and masks[0, :2].min() == 1
