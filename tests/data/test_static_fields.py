"""A model with a static field (a known input constant in time) through the whole data path.

No built-in model has one yet, so the test registers a small one: ``u_t = nu * c`` with a static
scalar field ``c``. Generation stores ``static_c`` once per simulation, the dataset appends it to
the network's inputs, the physical player's rollout reads it from the same channels, and the
network's channel count includes it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyco.data.cache import CacheReader
from hyco.data.generate import generate_dataset
from hyco.data.training_data import TrainingData
from hyco.fields import FieldSpec
from hyco.physics.base import PhysicalModel
from hyco.physics.registry import PHYSICS, register_physics
from hyco.training.field import FieldTrainer
from hyco.training.networks import input_channels


class _Drift(PhysicalModel):
    FIELDS = (FieldSpec("u", "scalar"), FieldSpec("c", "scalar", role="static"))
    PARAMS = ("nu",)

    def _step(self, state, params):
        return {"u": state["u"].with_values(state["u"].values + self.dt * params["nu"] * state["c"].values)}


class _Fit(FieldTrainer):
    def train(self):  # the contract needs none here
        return {}


@pytest.fixture
def drift_model():
    register_physics("_drift")(_Drift)
    yield
    PHYSICS.remove("_drift")


def test_a_static_field_is_stored_once_fed_to_the_network_and_read_by_the_physics(drift_model, tmp_path):
    from data_helpers import compose_data_cfg

    cfg = compose_data_cfg(tmp_path / "cache", "physics.name=_drift", "physics.params.nu.true_value=0.05")
    reader = CacheReader(generate_dataset(cfg, progress=False).path)
    assert reader.dynamic_fields == ["u"] and reader.static_fields == ["c"]
    sim = reader.load("train", 0)
    assert sim["static_c"].shape == (1, 16) and sim["truth_u"].shape == (5, 1, 16)
    expected = sim["truth_u"][0] + np.arange(5)[:, None, None] * cfg.physics.dt * 0.05 * sim["static_c"]
    np.testing.assert_allclose(sim["truth_u"], expected, rtol=1e-5, atol=1e-6)

    data = TrainingData.open(cfg, reader)
    x0, targets, masks = data.train[0]
    assert x0.shape == (2, 16) and targets.shape == (1, 1, 16)  # u, then the static c
    np.testing.assert_array_equal(x0[1].numpy(), sim["static_c"][0])
    from hyco.physics.registry import build_physics

    model = build_physics(cfg.physics, cfg.data.ic)
    assert input_channels(cfg, model) == (2, 1)
    fit = _Fit(cfg, model)
    pred = fit.rollout_tensor(x0[None], 1, model.true_params())
    torch.testing.assert_close(pred[0], targets, rtol=1e-5, atol=1e-6)
