"""The numbers a comparison or a sweep reads off an evaluated run: the arm's forecast error and
the parameter error, on the validation split (what is optimised) and the test split (what is
reported)."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Sequence

from omegaconf import DictConfig

from hyco import metrics as M
from hyco.arms import get_arm
from hyco.evaluation.evaluate import evaluate_splits


def learnable_params(cfg: Any) -> List[str]:
    """Names of the physical parameters a run learns (``physics.params.<name>.learnable``)."""
    return [str(name) for name, spec in cfg.physics.params.items() if spec.learnable]


def param_error(metrics: Mapping[str, float], split: str, names: Sequence[str]) -> float:
    """Mean of ``eval/<split>/param/<name>_rel_error`` over ``names``: one number for an objective
    that weighs every learnable parameter equally (NaN if any is missing or none)."""
    errors = [metrics.get(M.eval_param_rel_error(split, n), math.nan) for n in names]
    return float(sum(errors) / len(errors)) if errors else math.nan


def score_run(cfg: DictConfig, arm: str, run_id: str) -> Dict[str, Any]:
    """Evaluate a trained run on the validation split (the objectives) and the test split (the
    report): ``forecast_error`` (the arm's forecast player), ``param_error``, their ``test_``
    twins and, under ``params``, every learnable parameter's error keyed as the trial's user
    attribute."""
    cfg.evaluation.run_id = run_id
    results = evaluate_splits(cfg, ("val", "test"))  # test: recorded for the report, never optimised
    val, test = results["val"].metrics, results["test"].metrics
    player = get_arm(arm).forecast
    params = learnable_params(cfg)
    per_param = {M.trial_param_rel_error(split, name): metrics[M.eval_param_rel_error(split, name)]
                 for split, metrics in (("val", val), ("test", test)) for name in params
                 if M.eval_param_rel_error(split, name) in metrics}
    return {"forecast_error": val.get(M.rel_l2_mean("val", player), math.nan),
            "param_error": param_error(val, "val", params),
            "test_forecast_error": test.get(M.rel_l2_mean("test", player), math.nan),
            "test_param_error": param_error(test, "test", params), "params": per_param}
