"""The arm registry: each arm declared once, in its own module; everything else looks it up."""

from __future__ import annotations

import pytest

from hyco.arms import (
    ARMS,
    ArmSpec,
    arm_nodes,
    available_arms,
    get_arm,
    node_owners,
    register_arm,
)
from hyco.arms.players import physical_player, synthetic_player
from hyco.errors import ConfigError, PluginError
from hyco.sweep.space import arms_for, check_space, sweep_arms

SIX = ["synthetic_only", "physical_only", "full", "warmstart", "mixed", "cooperative"]
OTHERS = ["pinn", "aphynity"]  # the field's other hybrid methods, listed after the six


def builtin(arms):
    """The built-in arms among ``arms`` (a plug-in installed beside HYCO adds its own)."""
    return [a for a in arms if get_arm(a).build.__module__.startswith("hyco.")]


def test_registry_lists_the_arms_with_their_declarations():
    assert builtin(available_arms()) == SIX + OTHERS
    assert get_arm("synthetic_only").trains == ("synthetic",)
    assert not get_arm("synthetic_only").learns_params
    assert get_arm("physical_only").forecast == "physical"
    assert [get_arm(v).forecast for v in SIX[2:]] == ["synthetic"] * 4
    assert [v for v in SIX if get_arm(v).hybrid] == SIX[2:]
    assert {"hyco.alpha", "hyco.alpha_end", "hyco.alpha_schedule"} <= get_arm("mixed").reads
    assert "hyco.alpha" not in get_arm("cooperative").reads and "hyco.lambda_s_data" in get_arm("cooperative").reads
    assert "lr" not in get_arm("physical_only").reads
    # the players each arm scores, the checkpoints it writes, its node and its own metric names
    assert [p.name for p in get_arm("cooperative").players] == ["synthetic", "physical"]
    assert [p.name for p in get_arm("pinn").players] == ["physical"]
    assert "aphynity_best.pt" in get_arm("aphynity").checkpoints
    assert set(arm_nodes()) == {"hyco", "pinn", "aphynity"}
    assert node_owners("hyco") == SIX[2:]
    assert "pinn/residual_loss" in get_arm("pinn").metrics and "hyco/alpha" in get_arm("mixed").metrics
    aphynity = get_arm("aphynity")  # a <...> segment stands for one name
    assert aphynity.declares("aphynity/exact_fit/omega2") and aphynity.declares("aphynity/lambda")
    assert not aphynity.declares("aphynity/exact_fit/omega2/extra") and not aphynity.declares("aphynity/other")
    assert get_arm("synthetic_only").baseline_for == ("synthetic",)
    assert get_arm("physical_only").baseline_for == ("physical",)
    # each HYCO arm declares its target rule; only the rules with a data term read observations
    assert {get_arm(a).targets.name for a in SIX[2:]} == {"full", "mixed", "cooperative"}
    assert [get_arm(a).targets.reads_observations for a in SIX[2:]] == [False, False, True, True]


def test_unknown_arm_names_the_key_and_the_registered_arms():
    with pytest.raises(ConfigError, match="trainer.variant: unknown arm 'foo'; registered: ") as err:
        get_arm("foo")
    assert all(a in str(err.value) for a in SIX)


def test_a_new_arm_is_one_registration():
    spec = ArmSpec(name="pinn_like", build=lambda *a: None, trains=("synthetic",), learns_params=True,
                   players=(synthetic_player(),), reads=("lr", "epochs"), rank=99)
    register_arm(spec)
    try:
        assert available_arms()[-1] == "pinn_like"
        assert arms_for("param_error", ["synthetic_only", "pinn_like"]) == ["pinn_like"]
        other = ArmSpec(name="pinn_like", build=lambda *a: None, trains=("physical",), players=(physical_player(),))
        with pytest.raises(PluginError, match="registered twice"):
            register_arm(other)
    finally:
        ARMS.remove("pinn_like")


def test_an_arm_declaration_is_checked():
    with pytest.raises(PluginError, match="trains must name players"):
        ArmSpec(name="x", build=lambda *a: None, trains=("network",), players=())
    with pytest.raises(PluginError, match="node and node_config"):
        ArmSpec(name="x", build=lambda *a: None, trains=("synthetic",), players=(), node="x")


def test_sweep_reads_arms_and_knobs_from_the_registry():
    assert builtin(sweep_arms([])) == SIX + OTHERS and sweep_arms(["mixed"]) == ["mixed"]
    assert builtin(arms_for("param_error", [])) == SIX[1:] + OTHERS
    with pytest.raises(ConfigError, match="sweep.search_space.pinn.trainer.hyco.alpha: .* does not act"):
        check_space({"pinn": {"trainer.hyco.alpha": {"type": "float", "low": 0.1, "high": 0.9}}}, OTHERS)
    assert arms_for("synthetic_error", ["synthetic_only"]) == ["synthetic_only"]
    lr = {"type": "float", "low": 1e-4, "high": 1e-2}
    check_space({"mixed": {"trainer.hyco.alpha": {"type": "float", "low": 0.1, "high": 0.9}}}, SIX)
    with pytest.raises(ConfigError, match="sweep.search_space.physical_only.trainer.lr: .* does not act"):
        check_space({"physical_only": {"trainer.lr": lr}}, SIX)
    with pytest.raises(ConfigError, match="trainer.hyco.alpha does not act on full or warmstart"):
        check_space({"common": {"trainer.hyco.alpha": lr}}, ["full", "warmstart"])
    check_space({"common": {"trainer.lr": lr}}, ["physical_only", "mixed"])  # acts on one of them
    with pytest.raises(ConfigError, match="unknown group"):
        check_space({"mixd": {}}, SIX)
