"""Every preset in ``conf/experiment/``, ``conf/trainer/`` and ``conf/sweep/`` composes and passes
every check a command would run, before any compute."""

from __future__ import annotations

import pytest

from hyco.arms import get_arm
from hyco.compose import compose_config
from hyco.core.paths import conf_dir


def presets(group: str):
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))


@pytest.mark.parametrize("preset", presets("experiment"))
def test_every_experiment_preset_composes_and_checks(preset):
    cfg = compose_config([f"experiment={preset}"])
    assert cfg.experiment_name == preset


@pytest.mark.parametrize("preset", presets("trainer"))
def test_every_trainer_preset_composes_and_checks(preset):
    cfg = compose_config([f"trainer={preset}"])
    arm = get_arm(cfg.trainer.variant)
    if arm.node:  # the arm's own node is there, every other arm's is absent
        assert cfg.trainer[arm.node] is not None
    assert all(cfg.trainer[n] is None for n in ("hyco", "pinn", "aphynity") if n != arm.node)


@pytest.mark.parametrize("preset", presets("sweep"))
def test_every_sweep_preset_composes_and_checks_each_arm(preset):
    from hyco.sweep.checks import check_sweep_config

    cfg = compose_config([f"sweep={preset}"])
    check_sweep_config(cfg, [])  # every arm's trial config, the search space, the trial overrides


def test_the_sweep_presets_share_one_search_space():
    spaces = {p: compose_config([f"sweep={p}"], check=False).sweep.search_space for p in presets("sweep")}
    first = next(iter(spaces.values()))
    assert all(space == first for space in spaces.values())
    # written once: no sweep preset spells a search space of its own
    assert not any(line.startswith("search_space:") for p in spaces
                   for line in (conf_dir() / "sweep" / f"{p}.yaml").read_text().splitlines())
