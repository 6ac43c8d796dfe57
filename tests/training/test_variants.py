"""The variant registry: each arm declared once, everything else looks it up."""

from __future__ import annotations

import pytest

from hyco.errors import ConfigError
from hyco.sweep.space import arms_for, check_space, forecast_player, sweep_arms
from hyco.training import variants
from hyco.arms.spec import available_variants, get_variant, register_variant

SIX = ["synthetic_only", "physical_only", "full", "warmstart", "mixed", "cooperative"]
OTHERS = ["pinn", "aphynity"]  # the field's other hybrid methods, listed after the six


def test_registry_lists_the_arms_with_their_declarations():
    assert available_variants() == SIX + OTHERS
    assert get_variant("synthetic_only").trains == ("synthetic",)
    assert not get_variant("synthetic_only").learns_params
    assert get_variant("physical_only").forecast == "physical"
    assert [get_variant(v).forecast for v in SIX[2:]] == ["synthetic"] * 4
    assert [v for v in SIX if get_variant(v).hybrid] == SIX[2:]
    assert {"alpha", "alpha_end", "alpha_schedule"} <= get_variant("mixed").reads
    assert "alpha" not in get_variant("cooperative").reads and "lambda_s_data" in get_variant("cooperative").reads
    assert "lr" not in get_variant("physical_only").reads


def test_unknown_variant_names_the_key():
    with pytest.raises(KeyError, match="trainer.variant: 'foo' is not a registered variant; registered: "):
        get_variant("foo")


def test_a_new_variant_is_one_registration(monkeypatch):
    monkeypatch.setattr(variants, "_REGISTRY", dict(variants._REGISTRY))

    @register_variant("pinn_like", trains=("synthetic",), learns_params=True, reads=("lr", "epochs"), rank=99)
    def build(cfg, model, data, context):  # pragma: no cover - never built here
        raise AssertionError

    assert available_variants()[-1] == "pinn_like"
    assert arms_for("param_error", ["synthetic_only", "pinn_like"]) == ["pinn_like"]
    with pytest.raises(ValueError, match="registered twice"):
        register_variant("pinn_like", trains=("synthetic",))(lambda *a: None)


def test_sweep_reads_arms_and_knobs_from_the_registry():
    assert sweep_arms([]) == SIX + OTHERS and sweep_arms(["mixed"]) == ["mixed"]
    assert arms_for("param_error", []) == SIX[1:] + OTHERS
    assert forecast_player("pinn") == "physical" and forecast_player("aphynity") == "synthetic"
    with pytest.raises(ConfigError, match="sweep.search_space.pinn.trainer.hyco.alpha: .* does not act"):
        check_space({"pinn": {"trainer.hyco.alpha": {"type": "float", "low": 0.1, "high": 0.9}}}, OTHERS)
    assert arms_for("synthetic_error", ["synthetic_only"]) == ["synthetic_only"]
    assert forecast_player("physical_only") == "physical" and forecast_player("mixed") == "synthetic"
    lr = {"type": "float", "low": 1e-4, "high": 1e-2}
    check_space({"mixed": {"trainer.hyco.alpha": {"type": "float", "low": 0.1, "high": 0.9}}}, SIX)
    with pytest.raises(ConfigError, match="sweep.search_space.physical_only.trainer.lr: .* does not act"):
        check_space({"physical_only": {"trainer.lr": lr}}, SIX)
    with pytest.raises(ConfigError, match="trainer.hyco.alpha does not act on full or warmstart"):
        check_space({"common": {"trainer.hyco.alpha": lr}}, ["full", "warmstart"])
    check_space({"common": {"trainer.lr": lr}}, ["physical_only", "mixed"])  # acts on one of them
    with pytest.raises(ConfigError, match="unknown group"):
        check_space({"mixd": {}}, SIX)
