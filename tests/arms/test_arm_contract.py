"""Contract over every registered arm and every registered PDE, end to end.

Each model's tiny case (``PhysicalModel.TINY_CASES``, the one naming an experiment preset) runs
through every registered arm: composed and checked like any command, trained as a tracked MLflow
run (one or two epochs / rounds, a warm start where the arm has one), evaluated on the held-out
simulation, and read back from MLflow. The logged metrics must be finite and each in the
platform's vocabulary or declared by the arm; every player the arm declares must have its
held-out score; the parameter metrics must name exactly the model's learnable parameters for
arms that learn them, and a learned parameter must have moved from its initial guess. An arm that
cannot run on a model (the PINN needs the PDE's continuous residual) must refuse it at config
time, naming the key. A new PDE or arm (built-in or plug-in) is covered by registering it. Static
models (no time axis) have their own contract, ``test_static_contract.py``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from hyco import metrics as M
from hyco import tracking
from hyco.arms import available_arms, get_arm
from hyco.compose import check_problem, compose_config, overrides_for_arm
from hyco.config import InitialConditionConfig, PhysicsConfig, validate
from hyco.errors import ProblemRefused
from hyco.evaluation import evaluate_run
from hyco.physics.registry import PHYSICS
from hyco.runs.train import train_run

COMMON = [
    "data.num_train=2", "data.num_val=1", "data.num_test=1", "data.num_frames=4", "trainer.rollout_steps=1",
    "trainer.epochs=2", "trainer.batch_size=2", "trainer.physical_sims_per_fit=2",
    "trainer.physical_iterations_per_epoch=2", "torch_threads=1", "observation.noise=0.02",
    "tracking.log_model=false", "tracking.log_memory=false", "evaluation.figures=false",
    "evaluation.horizon=0",  # every step of the 4 frames (the APHYNITY presets score 25 or 40)
    # arms' own knobs: each arm reads its own (the others are dropped at composition)
    "trainer.hyco.warmstart_epochs=1", "trainer.pinn.iterations_per_epoch=4", "trainer.pinn.collocation_points=64",
    "trainer.pinn.data_batch=32", "trainer.pinn.hidden=8", "trainer.pinn.layers=1",
    # the network's own knobs: each preset's network reads its own (the others are dropped below)
    "synthetic.unet.levels=1", "synthetic.unet.filters=4", "synthetic.mlp.hidden=8", "synthetic.mlp.layers=1",
]


def for_network(overrides, preset):
    """The overrides without the knobs of networks other than the one ``preset`` configures."""
    network = str(compose_config([f"experiment={preset}"], check=False).synthetic.name)
    return [o for o in overrides if not o.startswith("synthetic.") or o.startswith(f"synthetic.{network}.")]


def run_cases():
    """``{model: its first tiny case that names an experiment preset}`` for every registered model
    that steps in time."""
    cases = {}
    for name, cls in PHYSICS.items():
        if not cls.TIME_DEPENDENT:
            continue
        case = next((c for c in cls.TINY_CASES.values() if c.preset), None)
        assert case is not None, f"physics model '{name}' declares no tiny case with an experiment preset"
        cases[name] = case
    return cases


CASES = run_cases()


@pytest.fixture(scope="module")
def shared(tmp_path_factory, mlflow_db_template):
    """One MLflow database and one data cache for the whole contract (each combination is its own run)."""
    import shutil

    root = tmp_path_factory.mktemp("arm_contract")
    shutil.copyfile(mlflow_db_template, root / "mlflow.db")
    return root


def compose_case(root: Path, case, arm: str):
    """The arm on the case's preset, shrunk (:data:`COMMON`), with the case's physics and initial
    conditions in place of the preset's, then checked like any command."""
    common = for_network(overrides_for_arm(COMMON, arm), case.preset)
    cfg = compose_config([f"experiment={case.preset}", f"trainer={arm}", *common,
                          f"data.cache_dir={root / 'cache'}",
                          f"tracking.tracking_uri=sqlite:///{root / 'mlflow.db'}",
                          f"tracking.artifact_location={root / 'artifacts'}",
                          f"tracking.experiment_name=contract_{case.physics['name']}"], check=False)
    cfg.physics = OmegaConf.merge(OmegaConf.structured(PhysicsConfig), dict(case.physics))
    if case.ic is not None:
        cfg.data.ic = OmegaConf.merge(OmegaConf.structured(InitialConditionConfig), dict(case.ic))
    validate(cfg)
    check_problem(cfg)
    return cfg


def test_every_registered_model_has_a_runnable_tiny_case():
    assert sorted(CASES) == sorted(n for n, cls in PHYSICS.items() if cls.TIME_DEPENDENT)


@pytest.mark.slow
@pytest.mark.parametrize("physics", sorted(CASES))
@pytest.mark.parametrize("arm", available_arms())
def test_each_arm_trains_and_evaluates_on_each_model(arm: str, physics: str, shared: Path):
    try:
        cfg = compose_case(shared, CASES[physics], arm)
    except ProblemRefused as refusal:  # the arm cannot run on this model: refused before any compute
        assert "trainer.variant" in str(refusal) or "synthetic." in str(refusal)
        pytest.skip(f"{arm} refuses {physics}: {refusal}")
    spec = get_arm(arm)
    outcome = train_run(cfg)
    cfg.evaluation.run_id = outcome.run_id
    result = evaluate_run(cfg)

    run = tracking.get_run(outcome.run_id, cfg.tracking)
    logged = run.metrics
    assert logged, "the arm logged no metrics"
    bad = {k: v for k, v in logged.items() if not math.isfinite(v)}
    assert not bad, f"non-finite metrics {bad}"
    strangers = sorted(k for k in logged if not M.is_platform_metric(k) and not spec.declares(k))
    assert not strangers, f"metrics neither the platform's nor declared by {arm}: {strangers}"
    for player in spec.players:  # every declared player has its held-out score, logged to MLflow
        assert M.rel_l2_mean("test", player.name) in logged, player.name
        assert result.metrics[M.rel_l2_mean("test", player.name)] == pytest.approx(
            logged[M.rel_l2_mean("test", player.name)])
    learnable = [n for n, s in cfg.physics.params.items() if s.learnable]
    trained = {k for k in logged if k.startswith("param/") and k.endswith("_rel_error")}
    evaluated = {k for k in logged if k.startswith("eval/test/param/") and k.endswith("_rel_error")}
    if spec.learns_params:
        assert trained == {M.param_rel_error(n) for n in learnable}
        assert evaluated == {M.eval_param_rel_error("test", n) for n in learnable}
        history = tracking.get_metric_history(outcome.run_id, M.param(learnable[0]), cfg.tracking)
        guesses = {n: float(cfg.physics.params[n].initial_guess) for n in learnable}
        values = {n: logged[M.param(n)] for n in learnable}
        if len(history) > 1:  # at least one fit happened (a warm start fits nothing)
            assert any(not np.isclose(values[n], guesses[n], rtol=1e-6, atol=1e-9) for n in learnable), values
    else:
        assert not trained and not evaluated
