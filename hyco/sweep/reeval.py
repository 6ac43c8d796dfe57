"""Honest sweep results: each arm's best configuration retrained on fresh seeds.

The best trial of an arm is the minimum over many noisy trials, an optimistic number (selection
bias). With ``sweep.reeval_seeds = K > 0`` the launching process retrains that configuration K
times with the seed scheme of the comparisons (:func:`hyco.runs.seeds.seed_overrides`, seeds
``1..K``: fresh data initial conditions, observation noise and training seed) and reports the
mean ± 95 % t interval (:mod:`hyco.evaluation.stats`) of the objectives beside the best value. Each
retraining is a child MLflow run of the study's parent (tags ``hyco.reeval`` = the trial number,
``hyco.seed``); the results are stored in the study (user attribute ``reeval``), so a resumed or
``summary_only`` sweep shows them without retraining.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any, Dict, List, Sequence

import optuna
from omegaconf import DictConfig

from hyco.evaluation.scores import score_run
from hyco.runs.seeds import seed_overrides
from hyco.runs.train import train_run
from hyco.sweep.objective import trial_config

log = logging.getLogger(__name__)

REEVAL_ATTR = "reeval"
QUANTITIES = ("forecast_error", "param_error", "test_forecast_error", "test_param_error")


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
               best: Dict[str, int]) -> Dict[str, Dict[str, Any]]:
    """Retrain ``best`` (arm -> trial number) on seeds ``1..sweep.reeval_seeds``; returns
    ``{arm: {"trial": n, "seeds": [...], <quantity>: [values per seed]}}``, also kept in the study."""
    k = int(sweep.reeval_seeds)
    stored: Dict[str, Dict[str, Any]] = json.loads(study.user_attrs.get(REEVAL_ATTR, "{}"))
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if True:  # composition initialises Hydra itself
        for arm, number in best.items():
            done = stored.get(arm, {})
            if done.get("trial") == number and len(done.get("seeds", [])) >= k:
                continue
            record: Dict[str, Any] = {"trial": number, "seeds": [], **{q: [] for q in QUANTITIES}}
            sampled = [*trial_overrides(trials[number]), "trainer.resume=false", f"seed={number}"]
            base = [*sweep.trial_overrides, *base_overrides]
            first = trial_config(arm, base, sampled)
            for seed in range(1, k + 1):
                cfg = trial_config(arm, base, [*sampled, *seed_overrides(first, seed)])
                log.info("re-evaluating %s (trial %d) on seed %d of %d", arm, number, seed, k)
                tags = {"hyco.study": sweep.study_name, "hyco.arm": arm, "hyco.reeval": str(number),
                        "hyco.seed": str(seed)}
                try:
                    outcome = train_run(cfg, parent_run_id=parent_run_id, extra_tags=tags)
                    scores = score_run(cfg, arm, outcome.run_id)
                except (FloatingPointError, RuntimeError) as err:  # a diverged retraining is a result too
                    log.warning("re-evaluation of %s on seed %d failed: %s", arm, seed, err)
                    scores = {q: math.nan for q in QUANTITIES}
                record["seeds"].append(seed)
                for q in QUANTITIES:
                    record[q].append(float(scores[q]))
            stored[arm] = record
            study.set_user_attr(REEVAL_ATTR, json.dumps(stored))
    return {arm: stored[arm] for arm in best if arm in stored}
