"""Contract of the static problems (no time axis) over the registered arms, end to end.

Every arm that declares it runs static problems (``ArmSpec.static``) trains and is evaluated on the
papers' Helmholtz and Darcy set-ups shrunk (7 x 7 nodes, a few epochs): every player it declares
is scored on the reference grid, its metrics are finite and in the platform's vocabulary or its
own, a learned parameter moved, and a sweep can score the run; every other arm refuses a static
problem at config time, naming ``trainer.variant``.
"""

from __future__ import annotations

import math

import pytest
from static_helpers import TINY_DARCY, TINY_HELMHOLTZ, tiny_static

from hyco import metrics as M
from hyco import tracking
from hyco.arms import available_arms, get_arm, static_arms
from hyco.compose import compose_config
from hyco.errors import ProblemRefused
from hyco.evaluation import evaluate_run
from hyco.evaluation.scores import score_run
from hyco.runs.train import train_run

RUNS = [(arm, "helmholtz") for arm in ("synthetic_only", "physical_only", "cooperative", "pinn")] + \
       [("cooperative", "darcy"), ("pinn", "darcy")]
BASES = {"helmholtz": TINY_HELMHOLTZ, "darcy": TINY_DARCY}


def test_the_static_arms_are_the_reconstruction_baselines_hyco_and_the_pinn():
    assert static_arms() == ["synthetic_only", "physical_only", "cooperative", "pinn"]
    assert {a for a, _ in RUNS} == set(static_arms())


@pytest.mark.parametrize("arm, problem", RUNS)
def test_each_static_arm_trains_and_is_scored_on_the_reference_grid(arm, problem, make_overrides):
    cfg = compose_config(make_overrides(base=tiny_static(arm, BASES[problem])))
    spec = get_arm(arm)
    outcome = train_run(cfg)
    cfg.evaluation.run_id = outcome.run_id
    metrics = evaluate_run(cfg).metrics
    logged = tracking.get_run(outcome.run_id, cfg.tracking).metrics
    assert all(math.isfinite(v) for v in {**logged, **metrics}.values())
    strangers = sorted(k for k in logged if not M.is_platform_metric(k) and k not in spec.metrics)
    assert not strangers, strangers
    for player in spec.players:
        assert M.eval_recon(player.name, "final") in metrics, player.name
    if spec.learns_params:
        theta = metrics[M.eval_recon_param(M.PARAM_THETA_ERROR)]
        history = tracking.get_metric_history(outcome.run_id, M.PARAM_THETA_ERROR, cfg.tracking)
        assert history and theta > 0
        if arm != "cooperative":  # HYCO may spend the tiny budget warming up its network
            assert any(abs(v - history[0][1]) > 1e-7 for _, v in history) or abs(theta - history[0][1]) > 1e-7
    if arm == "cooperative":
        phases = [v for _, v in tracking.get_metric_history(outcome.run_id, "hyco/phase", cfg.tracking)]
        assert phases == [0.0, 1.0, 1.0, 1.0]
    if arm == "pinn":  # the first phase (the physics alone, parameters frozen) ends after its first step
        assert [v for _, v in tracking.get_metric_history(outcome.run_id, "pinn/phase", cfg.tracking)] == [1.0] * 4
        history = tracking.get_metric_history(outcome.run_id, "pinn/reconstruction_rel_l2", cfg.tracking)
        assert [s for s, _ in history] == [2, 4]
    scores = score_run(cfg, arm, outcome.run_id)  # what a sweep trial reads
    assert math.isfinite(scores["forecast_error"])
    assert math.isfinite(scores["param_error"]) == spec.learns_params


@pytest.mark.parametrize("arm", [a for a in available_arms() if not get_arm(a).static])
def test_the_other_arms_refuse_a_static_problem_before_any_compute(arm, tmp_path):
    with pytest.raises(ProblemRefused, match="trainer.variant=.*static"):
        compose_config([*tiny_static(arm, TINY_DARCY), f"data.cache_dir={tmp_path}"])
