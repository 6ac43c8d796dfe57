"""Composition: each arm and network reads its own node; a knob of another is refused, naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hyco.compose import check_shared_overrides, compose_config, load_run_config, overrides_for_arm
from hyco.core.paths import project_root
from hyco.errors import ConfigError

RUN = project_root() / "experiments" / "run.py"


def test_a_knob_of_another_arm_is_refused_naming_the_key_and_its_arms():
    with pytest.raises(ConfigError, match=r"trainer\.hyco\.alpha: a knob of the arm\(s\) full, warmstart, mixed, "
                                          r"cooperative .* trainer\.variant=pinn does not read it"):
        compose_config(["trainer=pinn", "trainer.hyco.alpha=0.3"])
    with pytest.raises(ConfigError, match=r"trainer\.pinn\.hidden: .*pinn.*trainer\.variant=cooperative"):
        compose_config(["trainer=cooperative", "trainer.pinn.hidden=8"])
    # even where a preset made the node exist (smoke_quick sets a HYCO knob for the HYCO arms)
    with pytest.raises(ConfigError, match=r"trainer\.hyco\.ghost_ics: a knob"):
        compose_config(["experiment=smoke_quick", "trainer=pinn", "trainer.hyco.ghost_ics=1"], check=False)


def test_a_preset_may_set_knobs_for_the_arms_that_read_them():
    cfg = compose_config(["experiment=smoke_quick", "trainer=physical_only", "physics.resolution=[8,8]"])
    assert cfg.trainer.hyco is None  # inert for physical_only, dropped at composition
    cfg = compose_config(["experiment=smoke_quick", "trainer=cooperative", "physics.resolution=[8,8]",
                          "synthetic.unet.levels=1"])
    assert cfg.trainer.hyco.ghost_ics == 2 and cfg.trainer.hyco.lambda_p_int == 0.1


def test_an_arm_node_gets_its_defaults_without_a_preset():
    cfg = compose_config(["trainer.variant=pinn"], check=False)
    assert cfg.trainer.pinn.hidden == 64 and cfg.trainer.hyco is None


def test_an_unknown_network_is_refused_naming_the_registered_ones():
    with pytest.raises(ConfigError, match=r"synthetic\.name: unknown network 'nope'; registered: \[.*'unet'"):
        compose_config(["synthetic.name=nope"])


def test_one_command_line_serves_several_arms():
    line = ["trainer.lr=0.01", "trainer.hyco.alpha=0.3", "trainer.pinn.hidden=8"]
    assert overrides_for_arm(line, "mixed") == ["trainer.lr=0.01", "trainer.hyco.alpha=0.3"]
    assert overrides_for_arm(line, "pinn") == ["trainer.lr=0.01", "trainer.pinn.hidden=8"]
    assert overrides_for_arm(line, "synthetic_only") == ["trainer.lr=0.01"]
    check_shared_overrides(line, ["mixed", "pinn"])
    with pytest.raises(ConfigError, match=r"trainer\.pinn\.hidden: a knob of the arm\(s\) pinn, none of which runs"):
        check_shared_overrides(line, ["mixed", "synthetic_only"])


def test_hydra_errors_become_config_errors_naming_the_key():
    with pytest.raises(ConfigError, match="trainer.lrr"):
        compose_config(["trainer.lrr=1"])
    with pytest.raises(ConfigError, match="trainer.hyco.alpha"):
        compose_config(["trainer=mixed", "trainer.hyco.alpha=abc"])
    with pytest.raises(ConfigError, match="experiment"):
        compose_config(["experiment=no_such_preset"])


def test_a_logged_config_is_read_back_typed_with_its_nodes(tmp_path):
    from omegaconf import OmegaConf

    cfg = compose_config(["trainer=aphynity"])
    path = tmp_path / "resolved_config.yaml"
    path.write_text(OmegaConf.to_yaml(cfg))
    back = load_run_config(path)
    assert back.trainer.aphynity.tau == cfg.trainer.aphynity.tau and back.trainer.hyco is None
    assert OmegaConf.to_container(back) == OmegaConf.to_container(cfg)


def test_run_py_refuses_another_arms_knob_before_any_compute(tmp_path):
    proc = subprocess.run([sys.executable, str(RUN), "trainer=pinn", "trainer.hyco.alpha=0.3", "task=[train]",
                           f"data.cache_dir={tmp_path / 'cache'}"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "trainer.hyco.alpha: a knob of the arm(s)" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_kept_composition_is_handed_out_as_a_fresh_copy():
    """Compositions are kept per command line (Hydra is slow); every caller gets its own config."""
    first = compose_config(["experiment=burgers_1d_quick", "trainer.epochs=7"])
    first.trainer.epochs = 99
    first.physics.params.nu.true_value = -1.0  # a nested node too
    again = compose_config(["experiment=burgers_1d_quick", "trainer.epochs=7"])
    assert again.trainer.epochs == 7 and again.physics.params.nu.true_value == 0.01
    assert compose_config(["experiment=burgers_1d_quick", "trainer.epochs=8"]).trainer.epochs == 8
