"""What each key changes is declared once; the cache key, the run and the study fingerprints read it."""

from __future__ import annotations

import pytest

from hyco.compose import compose_config
from hyco.config.keys import EFFECTS, RULES, effect_of, select
from hyco.core.plain import to_plain
from hyco.data.cache import cache_key
from hyco.runs.train import run_fingerprint


def leaf_keys(node, prefix=""):
    for key, value in node.items():
        if isinstance(value, dict) and value:
            yield from leaf_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


@pytest.mark.parametrize("overrides", [[], ["trainer=cooperative"], ["trainer=pinn"], ["trainer=aphynity"],
                                       ["experiment=heat_quick"], ["experiment=gray_scott_quick"]])
def test_every_key_of_the_schema_has_a_declared_effect_with_a_reason(overrides):
    plain = to_plain(compose_config(overrides, check=False))
    for key in leaf_keys(plain):
        assert effect_of(key) in EFFECTS, key
    assert all(rule.reason and rule.effect in EFFECTS for rule in RULES)


def test_the_most_specific_rule_wins():
    assert effect_of("physics.params.nu.true_value") == "data"
    assert effect_of("physics.params.nu.initial_guess") == "run"
    assert effect_of("data.num_train") == "data" and effect_of("data.cache_dir") == "none"
    assert effect_of("trainer.hyco.alpha") == "run" and effect_of("trainer.resume") == "none"
    assert effect_of("seed") == "trial" and effect_of("evaluation.horizon") == "study"
    with pytest.raises(KeyError, match="no declared effect"):
        effect_of("nonsense")


def test_select_keeps_the_keys_of_the_effects_and_drops_absent_nodes():
    plain = {"physics": {"dt": 0.1, "params": {"nu": {"true_value": 1.0, "initial_guess": 2.0}}},
             "trainer": {"lr": 1.0, "hyco": None}, "log_level": "DEBUG"}
    assert select(plain, ("data",)) == {"physics": {"dt": 0.1, "params": {"nu": {"true_value": 1.0}}}}
    assert select(plain, ("run",)) == {"physics": {"params": {"nu": {"initial_guess": 2.0}}}, "trainer": {"lr": 1.0}}


def test_keys_that_change_nothing_leave_every_fingerprint_alone(tmp_path):
    base = ["experiment=burgers_1d_quick", "trainer=cooperative"]
    a = compose_config(base, check=False)
    b = compose_config([*base, "log_level=DEBUG", "torch_threads=3", "device=cpu", f"data.cache_dir={tmp_path}",
                        "tracking.experiment_name=x", "trainer.resume=false", "evaluation.figures=false"],
                       check=False)
    assert run_fingerprint(a) == run_fingerprint(b) and cache_key(a) == cache_key(b)
    c = compose_config([*base, "trainer.hyco.lambda_p_int=0.5"], check=False)
    assert run_fingerprint(c) != run_fingerprint(a) and cache_key(c) == cache_key(a)  # a run, not the data
    d = compose_config([*base, "data.num_frames=7"], check=False)
    assert run_fingerprint(d) != run_fingerprint(a) and cache_key(d) != cache_key(a)


def test_a_cpu_host_may_resume_a_gpu_run():
    """``device`` is declared ``none`` (hyco/config/keys.py): the run fingerprint, which decides
    which crashed run a command continues, is the same for a run started on a GPU."""
    a = compose_config(["device=cpu"], check=False)
    gpu = to_plain(a)
    gpu["device"] = "cuda:0"
    assert select(gpu, ("data", "run", "trial")) == select(to_plain(a), ("data", "run", "trial"))


def test_an_arm_node_is_not_in_another_arms_fingerprint():
    """Installing a plug-in arm adds a node to the schema; the nodes of arms that do not run are
    absent (null) and never reach a fingerprint."""
    trainer = select(to_plain(compose_config(["trainer=synthetic_only"], check=False)), ("run",))["trainer"]
    assert not {"hyco", "pinn", "aphynity"} & set(trainer)
