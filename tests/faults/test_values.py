"""Values, tried as a careless user types them: every numeric key of the schema with NaN and
infinity, every enumerated key with a choice that does not exist, and the cross-field rules. Each
is refused before any compute, naming the key.

The keys are generated from the schema's dataclasses (:mod:`schema_walk`), the arms' and networks'
nodes included, so a key added later is covered without editing this file; a key without a
declared range fails :func:`test_every_numeric_key_declares_its_range`.
"""

from __future__ import annotations

import dataclasses
import re
import typing

import pytest
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from schema_walk import schema_keys, walk

from hyco.compose import compose_config
from hyco.compose.composition import _as_config_error
from hyco.config import validate
from hyco.config.schema import current_schema
from hyco.errors import ConfigError

BASE = ["experiment=burgers_1d_quick", "physics.resolution=[16]", "data.num_frames=6", "trainer.rollout_steps=2",
        "device=cpu"]
KEYS = schema_keys()
NUMERIC = [k for k in KEYS if k.kind != "enum"]
ENUMS = [k for k in KEYS if k.kind == "enum"]
BAD_NUMBERS = ("nan", "inf", "-inf")


@pytest.fixture(scope="module")
def base_cfgs():
    """One composed config per arm that owns a node (and the shared one), composed once."""
    arms = sorted({k.arm for k in KEYS if k.arm})
    cfgs = {None: compose_config(BASE)}
    cfgs.update({arm: compose_config([*BASE, f"trainer={arm}"]) for arm in arms})
    return cfgs


def names(message: str, key: str) -> bool:
    """The one-line refusal starts with the key (a list's entry: ``key[i]``)."""
    return re.match(rf"{re.escape(key)}(\[\d+\])?:", message) is not None


def refusal(cfg, key: str, value: str) -> str:
    """The message that refuses ``key=value`` on ``cfg``: OmegaConf's typed merge (what Hydra does
    with an override) or :func:`validate` (what every entry point runs before any compute)."""
    before = OmegaConf.select(cfg, key)
    before = OmegaConf.to_container(before) if OmegaConf.is_config(before) else before
    try:
        cfg.merge_with(OmegaConf.from_dotlist([f"{key}={value}"]))
    except OmegaConfBaseException as err:
        return str(_as_config_error(err))
    try:
        with pytest.raises(ConfigError) as refused:
            validate(cfg)
    finally:
        OmegaConf.update(cfg, key, before, merge=False)  # the next key starts from the valid config
    validate(cfg)
    return str(refused.value)


def test_the_walk_finds_the_schema():
    paths = {k.path for k in KEYS}
    assert len(NUMERIC) >= 90 and len(ENUMS) >= 15, (len(NUMERIC), len(ENUMS))
    for expected in ("physics.dt", "physics.params.nu.true_value", "trainer.hyco.ghost_perturbation",
                     "trainer.pinn.adaptive_alpha", "trainer.aphynity.tau", "synthetic.unet.levels",
                     "sweep.divergence_factor", "torch_threads", "observation.box_lower", "data.ic.centre_upper",
                     "trainer.step_size", "evaluation.horizon", "observation.num_sensors"):
        assert expected in paths, expected


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_every_numeric_key_refuses_nan_and_infinity_naming_the_key(base_cfgs, value):
    refused = []
    for key in NUMERIC:
        bad = {"list": f"[{value}]", "matrix": f"[[{value}]]"}.get(key.kind.rsplit("_", 1)[-1], value)
        message = refusal(base_cfgs[key.arm], key.path, bad)
        assert names(message, key.path), (key, message)
        refused.append(key.path)
    assert len(refused) == len(NUMERIC)


def test_every_numeric_key_declares_its_range():
    """A numeric key without ``ranged(...)`` would pass NaN through validate(): every one declares
    one (ints are typed by OmegaConf, but their bounds still need a declaration)."""
    missing = []
    for cls, prefix in _dataclasses(current_schema()):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            kind = walk.__globals__["_kind"](hints[f.name])
            if kind not in (None, "enum") and "range" not in f.metadata:
                missing.append(prefix + f.name)
    assert not missing, f"numeric keys without a declared range: {missing}"


def _dataclasses(cls, prefix=""):
    yield cls, prefix
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        inner = walk.__globals__["_unwrap"](hints[f.name])
        if dataclasses.is_dataclass(inner):
            yield from _dataclasses(inner, f"{prefix}{f.name}.")
        elif typing.get_origin(inner) is dict and dataclasses.is_dataclass(typing.get_args(inner)[1]):
            yield from _dataclasses(typing.get_args(inner)[1], f"{prefix}{f.name}.*.")


def test_every_enumerated_key_refuses_a_choice_that_does_not_exist(base_cfgs):
    for key in ENUMS:
        message = refusal(base_cfgs[key.arm], key.path, "not_a_choice")
        assert names(message, key.path), (key, message)
        assert "not_a_choice" in message and list(key.enum)[0].value in message, message


@pytest.mark.parametrize("override, key", [
    ("physics.dt=nan", "physics.dt"),  # through Hydra itself, as typed on the command line
    ("trainer.epochs=inf", "trainer.epochs"),
    ("trainer.hyco.ghost_perturbation=-inf", "trainer.hyco.ghost_perturbation"),
    ("sweep.divergence_factor=nan", "sweep.divergence_factor"),
    ("synthetic.unet.padding=sticky", "synthetic.unet.padding"),
    ("sweep.objective=speed", "sweep.objective"),
    ("device=tpu", "device"),
    ("trainer.variant=nosuch", "trainer.variant"),
    ("synthetic.name=nosuch", "synthetic.name"),
    ("data.ic.name=nosuch", "data.ic.name"),
    ("log_level=LOUD", "log_level"),
    ("task=[generate,fly]", "task"),
    ("+data.truth={dt: nan}", "data.truth.dt"),
])
def test_the_command_line_refuses_naming_the_key(override, key):
    arm = ["trainer=cooperative"] if "hyco" in override else []
    with pytest.raises(ConfigError) as err:
        compose_config([*BASE, *arm, override])
    assert names(str(err.value), key) or f"{key}:" in str(err.value), str(err.value)


@pytest.mark.parametrize("overrides, key", [
    # a warm start that leaves no exchange round: the physical model would never train
    (["trainer=warmstart", "trainer.epochs=3", "trainer.hyco.warmstart_epochs=3"], "trainer.hyco.warmstart_epochs"),
    # a horizon longer than the simulations
    (["evaluation.horizon=6"], "evaluation.horizon"),
    # nothing held out, yet an evaluate task
    (["data.num_test=0", "task=[generate,train,evaluate]"], "data.num_test"),
    # sensors the grid cannot hold; a scheduler that never steps
    (["observation.spatial=sensors", "observation.num_sensors=17"], "observation.num_sensors"),
    (["trainer.scheduler=step", "trainer.step_size=0"], "trainer.step_size"),
    (["physics.params.nu.lower=0.1", "physics.params.nu.upper=0.1", "physics.params.nu.true_value=0.1",
      "physics.params.nu.initial_guess=0.1"], "physics.params.nu.lower/upper"),
])
def test_cross_field_rules_are_checked_before_compute(overrides, key):
    with pytest.raises(ConfigError) as err:
        compose_config([*BASE, *overrides])
    assert names(str(err.value), key), str(err.value)


def test_a_reconstruction_problem_evaluates_without_test_simulations():
    # scattered observations of one trajectory are scored on that trajectory: nothing needs holding out
    cfg = compose_config(["experiment=paper_gray_scott", "task=[generate,train,evaluate]"])
    assert int(cfg.data.num_test) == 0 and "evaluate" in cfg.task
