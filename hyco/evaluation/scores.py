"""The numbers a comparison or a sweep reads off an evaluated run: the arm's forecast error and
the parameter error, on the validation split (what is optimised) and the test split (what is
reported). A reconstruction problem (scattered observations of one trajectory or of one static
solution) has no held-out split: its "forecast error" is the reconstruction error of the arm's
forecast player (``eval/recon/<player>/rel_l2_final``) and its parameter error the learned
parameters' (``eval/recon/param/<name>_rel_error``), the same numbers in both slots."""

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
    if any(k.startswith(f"eval/{M.RECON}/") for k in val):  # a reconstruction problem: nothing held out
        error = val.get(M.eval_recon(player, "final"), math.nan)
        found = {n: val[M.eval_recon_param(M.param_rel_error(n))] for n in params
                 if M.eval_recon_param(M.param_rel_error(n)) in val}
        mean = float(sum(found.values()) / len(found)) if found and len(found) == len(params) else math.nan
        return {"forecast_error": error, "param_error": mean, "test_forecast_error": error, "test_param_error": mean,
                "params": {M.trial_param_rel_error(split, n): v for split in ("val", "test") for n, v in found.items()}}
    per_param = {M.trial_param_rel_error(split, name): metrics[M.eval_param_rel_error(split, name)]
                 for split, metrics in (("val", val), ("test", test)) for name in params
                 if M.eval_param_rel_error(split, name) in metrics}
    return {"forecast_error": val.get(M.rel_l2_mean("val", player), math.nan),
            "param_error": param_error(val, "val", params),
            "test_forecast_error": test.get(M.rel_l2_mean("test", player), math.nan),
            "test_param_error": param_error(test, "test", params), "params": per_param}
