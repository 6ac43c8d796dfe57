"""A truth model apart from the learner: a smaller step, or all the terms the learner lacks."""

from __future__ import annotations

import numpy as np
import pytest

from hyco.compose import compose_config
from hyco.data.cache import CacheReader, cache_key
from hyco.data.generate import generate_dataset
from hyco.errors import ConfigError
from hyco.physics import build_physics

BASE = ["experiment=burgers_1d_quick", "physics.resolution=[16]", "data.num_train=1", "data.num_val=0",
        "data.num_test=1", "data.num_frames=4", "trainer.rollout_steps=1"]


def test_a_finer_time_step_truth_gives_frames_every_n_steps(tmp_path):
    cfg = compose_config([*BASE, f"data.cache_dir={tmp_path}", "physics.dt=0.01", "+data.truth={dt: 0.0025}"])
    reader = CacheReader(generate_dataset(cfg, progress=False).path)
    sim = reader.load("train", 0)
    assert reader.metadata["truth"]["steps_per_frame"] == 4 and reader.metadata["dt"] == pytest.approx(0.01)
    truth = build_physics({**dict(cfg.physics), "dt": 0.0025}, cfg.data.ic)
    state = truth.initial_state(1, [int(sim["seed"])])
    expected = [truth.converter.to_numpy(s)["velocity"][0] for s in truth.rollout(state, truth.true_params(), 3,
                                                                                    every=4)]
    np.testing.assert_allclose(sim["truth_velocity"], np.stack(expected), rtol=1e-6, atol=1e-7)
    plain = compose_config([*BASE, f"data.cache_dir={tmp_path}"])
    assert cache_key(plain) != cache_key(cfg)  # the truth is in the cache key


def test_an_incomplete_learner_beside_the_complete_truth(tmp_path):
    overrides = ["experiment=gray_scott_quick", "physics.resolution=[8,8]", "physics.dt=2.0", "physics.substeps=5",
                 "data.num_train=1", "data.num_val=0", "data.num_test=0", "data.num_frames=3",
                 "trainer.rollout_steps=1", f"data.cache_dir={tmp_path}", "physics.terms=[diffusion]",
                 "+data.truth={terms: [diffusion, reaction]}", "task=[generate]"]  # nothing held out to evaluate
    cfg = compose_config(overrides)
    learner = build_physics(cfg.physics, cfg.data.ic)
    assert learner.terms == ("diffusion",)
    sim = CacheReader(generate_dataset(cfg, progress=False).path).load("train", 0)
    state = learner.converter.from_numpy({"u": sim["truth_u"][:1], "v": sim["truth_v"][:1]})
    without = learner.converter.to_numpy(learner.step(state, learner.true_params()))
    assert np.abs(without["u"][0] - sim["truth_u"][1]).max() > 1e-4  # the truth reacted; the learner cannot


def test_truths_the_learner_cannot_use_are_refused_before_compute(tmp_path):
    with pytest.raises(ConfigError, match="whole number of truth steps"):
        compose_config([*BASE, f"data.cache_dir={tmp_path}", "physics.dt=0.01", "+data.truth={dt: 0.003}"])
    with pytest.raises(ConfigError, match="data.truth: the truth's domain"):
        compose_config([*BASE, f"data.cache_dir={tmp_path}", "+data.truth={domain_size: 2.0}"])
    with pytest.raises(ConfigError, match="physics.terms"):
        compose_config([*BASE, f"data.cache_dir={tmp_path}", "physics.terms=[reaction]"])
    assert not list(tmp_path.iterdir())


def test_a_finer_truth_is_kept_and_resampled_onto_the_learner_grid(tmp_path):
    cfg = compose_config([*BASE, f"data.cache_dir={tmp_path}", "+data.truth={resolution: [64], dt: 0.0025}",
                          "physics.dt=0.01"])
    reader = CacheReader(generate_dataset(cfg, progress=False).path)
    sim = reader.load("train", 0)
    assert sim["fine_velocity"].shape == (4, 1, 64) and sim["truth_velocity"].shape == (4, 1, 16)
    # 16 cells of 1/16 sit at the midpoints of pairs of the 64 fine cells: linear interpolation
    fine = sim["fine_velocity"]
    midpoint = 0.5 * (fine[..., 1::4] + fine[..., 2::4])
    np.testing.assert_allclose(sim["truth_velocity"], midpoint, rtol=1e-5, atol=1e-6)
    assert reader.metadata["fine"]["resolution"] == [64]


def test_the_truths_resolution_time_step_and_operator_form_are_in_the_cache_key(tmp_path):
    from hyco.data.cache import cache_key

    base = ["experiment=paper_heat_quarter", f"data.cache_dir={tmp_path}"]
    keys = {cache_key(compose_config([*base, *extra], check=False)) for extra in (
        [], ["data.truth.resolution=[50,50]"], ["data.truth.dt=2.0e-4"], ["physics.options.form=divergence"],
        ["physics.params.kappa.true_theta=[3.0,2.0,1.0,-2.0,1.0,-2.0]"], ["data.ic.amplitudes=[1.0,-0.5]"])}
    assert len(keys) == 6
    # speed knobs are not: one compiled trace per frame or per horizon computes the same data
    assert cache_key(compose_config([*base, "physics.jit_frames=1"], check=False)) in keys
