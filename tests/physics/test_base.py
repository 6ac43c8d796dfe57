"""Parameter specs, the registry, config handling and the generic parts of PhysicalModel."""

from __future__ import annotations

import math as pymath

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from hyco.config.schema import GridKind, InitialConditionConfig, ParamKind, ParamSpecConfig, PhysicsConfig
from hyco.errors import ConfigError, PhysicsParameterError, PluginError
from hyco.fields import FieldSpec
from hyco.physics import ParamSpec, PhysicalModel, available_physics, build_physics, register_physics
from hyco.physics import registry as base
from hyco.physics.models.burgers import Burgers, stable_substeps
from hyco.physics.profiles import fourier_modes, profile_values, smooth_random_components


def physics_cfg(**kw) -> PhysicsConfig:
    nu = ParamSpecConfig(true_value=0.01, initial_guess=0.05, upper=0.1)
    return PhysicsConfig(**{"name": "burgers", "dim": 1, "resolution": [16], "dt": 0.005, "params": {"nu": nu}, **kw})


# ------------------------------------------------------------------------------------------------
# ParamSpec
# ------------------------------------------------------------------------------------------------
def test_param_spec_validate_names_the_parameter_and_bounds():
    spec = ParamSpec("nu", lower=0.001, upper=0.1, true_value=0.01, initial_guess=0.05)
    spec.validate(0.05)
    spec.validate(np.full((4, 4), 0.02))
    spec.validate(torch.tensor(0.1))
    with pytest.raises(PhysicsParameterError, match=r"'nu'.*0\.2.*\[0\.001, 0\.1\].*physics\.params\.nu"):
        spec.validate(0.2)
    with pytest.raises(PhysicsParameterError, match=r"'nu'.*\[0\.0005, 0\.02\]"):
        spec.validate(np.array([0.0005, 0.02]))
    with pytest.raises(PhysicsParameterError, match="non-finite"):
        spec.validate(float("nan"))
    unbounded = ParamSpec("nu", lower=0.001, upper=float("inf"))
    unbounded.validate(1e6)
    with pytest.raises(PhysicsParameterError, match="outside its bounds"):
        unbounded.validate(0.0005)


@pytest.mark.parametrize(
    "kw, key",
    [({"kind": "tensor"}, "kind"), ({"true_profile": "zigzag"}, "true_profile"),
     ({"lower": 1.0, "upper": 0.5}, "lower/upper")],
)
def test_param_spec_rejects_bad_config(kw, key):
    with pytest.raises(ConfigError, match=f"physics.params.nu.{key}"):
        ParamSpec("nu", **kw)


def test_param_spec_from_config_normalises_enums_and_rejects_missing():
    spec = ParamSpec.from_config("nu", {"kind": "field", "true_value": 0.01, "initial_guess": 0.02, "upper": 0.5})
    assert spec == ParamSpec("nu", kind="field", true_value=0.01, initial_guess=0.02, upper=0.5)
    with pytest.raises(ConfigError, match="physics.params.nu.true_value"):
        ParamSpec.from_config("nu", {"true_value": "???", "initial_guess": 0.1})


# ------------------------------------------------------------------------------------------------
# registry and build_physics
# ------------------------------------------------------------------------------------------------
def test_registry_lists_burgers_and_unknown_name_lists_choices():
    assert "burgers" in available_physics()
    with pytest.raises(ConfigError, match=r"unknown physics model 'no_such_pde'.*registered: \[.*'burgers'"):
        build_physics(physics_cfg(name="no_such_pde"))


def test_build_from_dataclass_dictconfig_and_str_enums_agree():
    ic = InitialConditionConfig(max_wavenumber=3, amplitude=0.5)
    dc = physics_cfg(grid=GridKind.staggered)
    m1 = build_physics(dc, ic)
    m2 = build_physics(OmegaConf.structured(dc), OmegaConf.structured(ic))
    plain = OmegaConf.to_container(OmegaConf.structured(dc), enum_to_str=True)
    m3 = build_physics(plain, {"max_wavenumber": 3, "amplitude": 0.5, "decay": 1.0})
    for m in (m1, m2, m3):
        assert isinstance(m, Burgers)
        assert (m.grid, m.dim, m.resolution, m.dt, m.ic_amplitude) == ("staggered", 1, (16,), 0.005, 0.5)
        assert m.param_specs["nu"] == ParamSpec("nu", true_value=0.01, initial_guess=0.05, upper=0.1,
                                                profile_amplitude=0.5)
    field_cfg = physics_cfg()
    field_cfg.params["nu"].kind = ParamKind.field
    assert build_physics(field_cfg).param_specs["nu"].kind == "field"


def test_build_rejects_inconsistent_dim():
    with pytest.raises(ConfigError, match="physics.resolution"):
        build_physics(physics_cfg(dim=2))


def test_register_and_rollout_of_a_new_model():
    @register_physics("_halving")
    class Halving(PhysicalModel):
        FIELDS = (FieldSpec("velocity", "vector"),)

        def initial_state(self, batch, seed):
            return self.converter.from_numpy({"velocity": np.ones((batch, 1, *self.resolution))})

        def _step(self, state, params):
            return {"velocity": state["velocity"] * params["a"]}

    try:
        assert "_halving" in available_physics()
        cfg = {"name": "_halving", "resolution": [8], "dt": 0.1,
               "params": {"a": {"true_value": 0.5, "initial_guess": 0.5}}}
        model = build_physics(cfg)
        frames = model.rollout(model.initial_state(2, 0), model.true_params(), 3)
        assert len(frames) == 4
        np.testing.assert_allclose(model.converter.to_numpy(frames[-1])["velocity"], 0.125)
        with pytest.raises(PluginError, match="registered twice"):
            register_physics("_halving")(Burgers)
    finally:
        base.PHYSICS.remove("_halving")


# ------------------------------------------------------------------------------------------------
# helpers: modes, profiles, ICs, sub-steps
# ------------------------------------------------------------------------------------------------
def test_fourier_modes_half_space():
    assert fourier_modes(1, 4).ravel().tolist() == [1, 2, 3, 4]
    k2 = fourier_modes(2, 4)
    assert k2.shape == (40, 2)  # (9 * 9 - 1) / 2: one of each +-k pair, no k = 0
    assert not any((-k == k2).all(1).any() for k in k2)


def test_profiles():
    x = (np.arange(32) + 0.5) / 32
    xx, yy = np.meshgrid(x, x, indexing="ij")
    assert np.all(profile_values("constant", [xx, yy], 1.0) == 0)
    sine = profile_values("sine", [xx, yy], 1.0)
    assert -1 <= sine.min() < -0.99 and 0.99 < sine.max() <= 1 and abs(sine.mean()) < 1e-12
    bump = profile_values("bump", [xx, yy], 1.0)
    assert bump.max() == pytest.approx(np.exp(4 * (np.cos(np.pi / 32) - 1)) ** 2)  # nearest centres to 0.5
    assert bump.min() == pytest.approx(np.exp(-8) ** 2, rel=0.1) and bump.min() > 0


def test_smooth_random_components_amplitude_and_determinism():
    x = (np.arange(16) + 0.5) / 16
    centres = np.stack(np.meshgrid(x, x, indexing="ij"), -1)
    a = smooth_random_components(5, [centres, centres], centres, 1.0, 4, 1.0, 0.7)
    b = smooth_random_components(5, [centres, centres], centres, 1.0, 4, 1.0, 0.7)
    c = smooth_random_components(6, [centres, centres], centres, 1.0, 4, 1.0, 0.7)
    assert np.sqrt(a[0] ** 2 + a[1] ** 2).max() == pytest.approx(0.7, rel=1e-12)
    np.testing.assert_array_equal(a[0], b[0])
    assert np.abs(a[0] - c[0]).max() > 0.1


def test_stable_substeps():
    # 2D, nu_upper 0.1, dt 0.01, dx 1/32: 0.1 * 0.01 * 2 * 1024 = 2.048 -> 2.048 / 0.45 -> 5
    assert stable_substeps(0.1, 0.01, [1 / 32, 1 / 32]) == 5
    assert stable_substeps(0.1, 0.01, [1 / 32, 1 / 32], minimum=7) == 7
    assert stable_substeps(0.0, 0.01, [1 / 32]) == 1
    n = stable_substeps(0.3, 0.002, [1 / 50])
    assert 0.3 * 0.002 / n * 2500 <= 0.45 < 0.3 * 0.002 / (n - 1) * 2500


# ------------------------------------------------------------------------------------------------
# parameters of a model
# ------------------------------------------------------------------------------------------------
def test_true_initial_and_converted_params():
    cfg = physics_cfg(dim=2, resolution=[8, 8])
    cfg.params["nu"].kind = ParamKind.field
    cfg.params["nu"].true_profile = "sine"
    cfg.params["nu"].profile_amplitude = 0.5
    model = build_physics(cfg)
    nu = model.true_params()["nu"]
    assert nu.shape.names == ("x", "y")
    arr = nu.numpy("x,y")
    expected = 0.01 * (1 + 0.5 * profile_values("sine", model.cell_centres(), 1.0))
    np.testing.assert_allclose(arr, expected, rtol=1e-6)
    init = model.initial_params()["nu"].numpy("x,y")
    np.testing.assert_allclose(init, 0.05)

    log_nu = torch.tensor(pymath.log(0.02), requires_grad=True)
    p = model.params_from_values({"nu": torch.exp(log_nu)})  # a number for a field: uniform field
    p["nu"].native("x,y").sum().backward()
    assert log_nu.grad is not None and float(log_nu.grad) == pytest.approx(64 * 0.02, rel=1e-5)
    with pytest.raises(PhysicsParameterError, match="field on the grid"):
        model.params_from_values({"nu": np.zeros((4, 4))})
    with pytest.raises(PhysicsParameterError, match="unknown"):
        model.params_from_values({"nu": 0.1, "mu": 0.1})


def test_several_frames_per_trace_are_refused_for_a_model_that_checks_every_step():
    from hyco.compose import compose_config
    from hyco.errors import ConfigError

    with pytest.raises(ConfigError, match="physics.jit_frames"):
        compose_config(["experiment=smoke_quick", "physics.jit_frames=4"])
    with pytest.raises(ConfigError, match="physics.jit_frames"):
        compose_config(["experiment=heat_quick", "physics.jit_frames=0"])
