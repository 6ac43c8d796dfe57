"""Config schema: bad input stops the program before any compute or file is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hyco.arms import available_arms
from hyco.compose import compose_config
from hyco.config import validate
from hyco.core.paths import conf_dir, project_root
from hyco.errors import ConfigError

RUN = project_root() / "experiments" / "run.py"


def _compose(overrides):
    return compose_config(list(overrides), check=False)


@pytest.mark.parametrize(
    "override, key",
    [
        ("trainer.lrr=1", "lrr"),
        ("data.num_sims=abc", "num_sims"),
        ("data.num_train=abc", "data.num_train"),
        ("+physics.foo=1", "physics.foo"),
        ("physics.grid=hexagonal", "physics.grid"),
        ("physics.params.nu.true_value=???", "physics.params.nu.true_value"),
        ("physics.resolution=[32]", "physics.resolution"),
        # values a later stage would reject, refused at start (not with a traceback after compute)
        ("physics.boundary=sticky", "physics.boundary"),
        ("data.static_fields=[nu]", "data.static_fields"),
        ("observation.fields=[pressure]", "observation.fields"),
        ("synthetic.unet.levels=6", "synthetic.unet.levels"),
        ("trainer.lr=0", "trainer.lr"),
        ("trainer.lr=-1e-3", "trainer.lr"),
        ("trainer.variant=foo", "trainer.variant"),
    ],
)
def test_bad_config_exits_naming_the_key_and_writes_nothing(tmp_path: Path, override: str, key: str):
    cache = tmp_path / "cache"
    proc = subprocess.run(
        [sys.executable, str(RUN), override, f"data.cache_dir={cache}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert key in output, output
    assert "Traceback" not in output, output
    assert not cache.exists()
    assert list(tmp_path.iterdir()) == [], "nothing may be written on a config error"


def test_default_config_validates():
    cfg = _compose([])
    validate(cfg)
    assert cfg.physics.name == "burgers"
    assert cfg.experiment_name == "burgers_2d_quick"


@pytest.mark.parametrize("preset", sorted(p.stem for p in (conf_dir() / "experiment").glob("*.yaml")))
def test_experiment_presets_validate(preset: str):
    cfg = _compose([f"experiment={preset}"])
    validate(cfg)
    assert cfg.experiment_name == preset
    assert len(cfg.physics.resolution) == cfg.physics.dim


def test_a_known_parameter_may_be_a_network_input():
    cfg = _compose(["data.static_fields=[nu]", "physics.params.nu.learnable=false"])
    validate(cfg)


@pytest.mark.parametrize(
    "overrides, key",
    [
        (["observation.spatial=box", "observation.box_lower=[0.6,0.0]", "observation.box_upper=[0.5,0.5]"],
         "observation.box"),
        (["physics.params.nu.true_value=0.5"], "physics.params.nu.true_value"),
        (["trainer.rollout_steps=50"], "trainer.rollout_steps"),
        (["trainer=mixed", "trainer.hyco.alpha=1.5"], "trainer.hyco.alpha"),
        (["task=[fly]"], "task"),
        (["data.static_fields=[velocity2]"], "data.static_fields"),
        (["physics.boundary=dirichlet"], "physics.boundary"),  # Burgers' scheme is periodic only
        (["physics.params.nu.lower=-1", "physics.params.nu.true_value=-0.01"], "physics.params"),
        (["physics.dt=1.0", "physics.params.nu.upper=10", "physics.params.nu.true_value=5"], "physics.params"),
        (["ic@data.ic=spots", "data.ic.name=nope"], "data.ic.name"),
        (["trainer.physical_lr=0"], "trainer.physical_lr"),
    ],
)
def test_semantic_errors_name_the_key(overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        compose_config(overrides)


def test_unknown_arm_is_refused_naming_the_key_and_the_registered_arms():
    with pytest.raises(ConfigError, match="trainer.variant: unknown arm 'foo'") as err:
        compose_config(["trainer.variant=foo"])
    assert all(name in str(err.value) for name in available_arms())
    with pytest.raises(ConfigError, match="sweep.arms: unknown arm"):
        compose_config(["sweep.arms=[mixed,foo]"])
