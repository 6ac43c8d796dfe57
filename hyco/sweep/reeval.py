"""Honest sweep results: each arm's best configuration retrained on fresh seeds.

The best trial of an arm is the minimum over many noisy trials, an optimistic number (selection
bias). With ``sweep.reeval_seeds = K > 0`` the launching process retrains that configuration K
times with the seed scheme of the comparisons (:func:`hyco.runs.seeds.seed_overrides`, seeds
``1..K``: fresh data initial conditions, observation noise and training seed) and reports the
mean ± 95 % t interval (:mod:`hyco.evaluation.stats`) of the objectives beside the best value. Each
retraining is a child MLflow run of the study's parent named ``<arm>-seed<k>`` (tags
``hyco.reeval`` = the trial number, ``hyco.seed``); the results are stored in the study (user
attribute ``reeval``), so a resumed or ``summary_only`` sweep shows them without retraining.

The first fresh seed's run also logs its network, which is registered in the MLflow model
registry as ``<study>-<arm>`` with the alias ``best``: ``mlflow.pytorch.load_model(
"models:/<study>-<arm>@best")`` loads the network of the arm's best configuration, and its
held-out rollout reproduces that run's test error. Arms without a stand-alone network (physics
alone, a PINN, an augmented forecaster) register nothing.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any, Callable, Dict, List, Optional, Sequence

import optuna
from omegaconf import DictConfig

from hyco import tracking
from hyco.evaluation.scores import score_run
from hyco.runs.seeds import seed_overrides
from hyco.runs.train import train_run
from hyco.sweep.objective import trial_config

log = logging.getLogger(__name__)

REEVAL_ATTR = "reeval"
QUANTITIES = ("forecast_error", "param_error", "test_forecast_error", "test_param_error")
MODEL_ALIAS = "best"
MODEL_SEED = 1  # the fresh seed whose network is registered


def reeval_run_name(arm: str, seed: int) -> str:
    """The MLflow run name of a fresh-seed retraining: ``<arm>-seed<k>``."""
    return f"{arm}-seed{seed}"


def model_name(study_name: str, arm: str) -> str:
    """The registered model of an arm's best configuration: ``<study>-<arm>``."""
    return tracking.registered_name(study_name, arm)


#: ``on_result(arm, trial number, seed, seeds, scores)`` after each retraining (the progress display)
ResultHook = Callable[[str, int, int, int, Dict[str, Any]], None]


def trial_overrides(trial: optuna.trial.FrozenTrial) -> List[str]:
    """The Hydra overrides a trial sampled (its arm apart): ``<arm>/<path>`` parameters back to ``path=value``."""
    arm = trial.params["arm"]
    return [f"{name.split('/', 1)[1]}={value}" for name, value in sorted(trial.params.items())
            if name.startswith(f"{arm}/")]


def stored_reeval(study: optuna.Study, best: Dict[str, int]) -> Dict[str, Dict[str, Any]]:
    """The re-evaluations kept in the study for the current best trials (nothing is trained)."""
    stored = json.loads(study.user_attrs.get(REEVAL_ATTR, "{}"))
    return {arm: stored[arm] for arm, number in best.items() if stored.get(arm, {}).get("trial") == number}


def reevaluate(study: optuna.Study, sweep: DictConfig, base_overrides: Sequence[str], parent_run_id: str,
               best: Dict[str, int], on_result: Optional[ResultHook] = None) -> Dict[str, Dict[str, Any]]:
    """Retrain ``best`` (arm -> trial number) on seeds ``1..sweep.reeval_seeds``; returns
    ``{arm: {"trial": n, "seeds": [...], <quantity>: [values per seed], "model": uri, "runs": [...]}}``,
    also kept in the study. ``on_result`` hears of each retraining as it ends."""
    k = int(sweep.reeval_seeds)
    stored: Dict[str, Dict[str, Any]] = json.loads(study.user_attrs.get(REEVAL_ATTR, "{}"))
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    for arm, number in best.items():
        done = stored.get(arm, {})
        if done.get("trial") == number and len(done.get("seeds", [])) >= k:
            continue
        record: Dict[str, Any] = {"trial": number, "seeds": [], "runs": [], "model": "",
                                  **{q: [] for q in QUANTITIES}}
        sampled = [*trial_overrides(trials[number]), "trainer.resume=false", f"seed={number}"]
        base = [*sweep.trial_overrides, *base_overrides]
        first = trial_config(arm, base, sampled)
        for seed in range(1, k + 1):
            network = ["tracking.log_model=true"] if seed == MODEL_SEED else []
            cfg = trial_config(arm, base, [*sampled, *seed_overrides(first, seed), *network])
            log.debug("re-evaluating %s (trial %d) on seed %d of %d", arm, number, seed, k)
            tags = {"hyco.study": sweep.study_name, "hyco.arm": arm, "hyco.reeval": str(number),
                    "hyco.seed": str(seed)}
            run_id = ""
            try:
                outcome = train_run(cfg, parent_run_id=parent_run_id, extra_tags=tags,
                                    run_name=reeval_run_name(arm, seed))
                run_id = outcome.run_id
                scores = score_run(cfg, arm, outcome.run_id)
                if outcome.model_uri and seed == MODEL_SEED:
                    record["model"] = _register(outcome.run_id, sweep.study_name, arm, number, cfg)
            except (FloatingPointError, RuntimeError) as err:  # a diverged retraining is a result too
                log.warning("re-evaluation of %s on seed %d failed: %s", arm, seed, err)
                scores = {q: math.nan for q in QUANTITIES}
            record["seeds"].append(seed)
            record["runs"].append(run_id)
            for q in QUANTITIES:
                record[q].append(float(scores[q]))
            if on_result is not None:
                on_result(arm, number, seed, k, scores)
        stored[arm] = record
        study.set_user_attr(REEVAL_ATTR, json.dumps(stored))
    return {arm: stored[arm] for arm in best if arm in stored}


def _register(run_id: str, study_name: str, arm: str, number: int, cfg: DictConfig) -> str:
    """Register the run's network as ``<study>-<arm>@best``; its URI ("" if registering failed)."""
    try:
        return tracking.register_network(
            run_id, model_name(study_name, arm), MODEL_ALIAS, cfg.tracking,
            description=f"The network of arm {arm}'s best configuration (trial {number}) of the sweep {study_name}, "
                        f"retrained on fresh seed {MODEL_SEED}.")
    except Exception as err:  # the registry is a convenience: the run and its model stay
        log.warning("could not register the network of run %s: %s", run_id, err)
        return ""
