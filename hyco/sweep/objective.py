"""One Optuna trial: compose its config, train as an MLflow child run, score it on validation data.

Objectives (``sweep.objective``), all minimised and all measured on the *validation*
simulations (the test simulations stay untouched for the final report):

* ``synthetic_error``: mean held-out rollout relative L2 of the arm's forecaster — the synthetic
  player, or the physical model for ``physical_only``, which has no network;
* ``param_error``: the mean, over the learnable physical parameters (``physics.params.<name>``
  with ``learnable: true``), of each one's relative error (relative L2 for a field parameter);
  arms that learn no parameter are left out. Each parameter's own error is recorded on the
  trial as user attributes ``eval/val/param/<name>_rel_error`` and ``eval/test/param/<name>_rel_error``;
* ``both``: the two above, a multi-objective study whose result is a Pareto front.

Each epoch's validation loss is reported to the trial for pruning; a non-finite or diverged
loss ends the trial FAIL with the reason in its ``fail_reason`` user attribute, and a pruned
trial's MLflow run ends KILLED with tag ``hyco.stopped``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Dict, List, Optional, Sequence

import optuna
from omegaconf import DictConfig

from hyco import metrics as M
from hyco.compose import compose_config, overrides_for_arm
from hyco.errors import DivergedError, Interrupted, NonFiniteLossError, RunStopped
from hyco.evaluation.scores import score_run
from hyco.runs.train import train_run
from hyco.sweep.labels import mark_arm
from hyco.sweep.space import OBJECTIVE_NAMES, arms_for, sample_overrides
from hyco.sweep.study import requeue_interrupted

log = logging.getLogger(__name__)

RUN_NAME_ATTR = "mlflow_run_name"
REPORTED_ATTR = "intermediate_values"  # what the trial reported per epoch (shown in the arm's study)

# the per-epoch validation metric each kind of arm reports, in order of preference
VALIDATION_KEYS = M.VALIDATION_LOSSES


class PruningObserver:
    """Reports each epoch's validation loss to the trial; stops diverged or pruned training."""

    def __init__(self, trial: optuna.Trial, divergence_factor: float, multi_objective: bool) -> None:
        self.trial = trial
        self.factor = divergence_factor
        self.multi = multi_objective
        self.first: Optional[float] = None

    def __call__(self, step: int, metrics: Dict[str, float]) -> None:
        key = next((k for k in VALIDATION_KEYS if k in metrics), None)
        if key is None:
            return
        value = float(metrics[key])
        if self.first is None:  # what the intermediate values are, for the arm's study
            self.trial.set_user_attr(REPORTED_ATTR, f"{key} (validation, per epoch)")
        if not math.isfinite(value):
            raise NonFiniteLossError(f"validation loss '{key}' = {value} at epoch {step}")
        self.first = value if self.first is None else self.first
        if self.first > 0 and value > self.factor * self.first:
            raise DivergedError(f"validation loss '{key}' = {value:.3g} at epoch {step} exceeds "
                                f"{self.factor:g} x its first value {self.first:.3g}")
        if self.multi:  # Optuna's pruners do not support multi-objective studies
            return
        self.trial.report(value, step)
        if self.trial.should_prune():
            raise RunStopped(f"pruned by the sweep's pruner at epoch {step} ({key}={value:.4g})")


def trial_run_name(arm: str, number: int) -> str:
    """The MLflow run name of a trial: ``<arm>-t<trial number>``."""
    return f"{arm}-t{number}"


def _started(trial: optuna.Trial, run_id: str, name: str) -> None:
    trial.set_user_attr("mlflow_run_id", run_id)
    trial.set_user_attr(RUN_NAME_ATTR, name)


def trial_config(arm: str, base_overrides: Sequence[str], overrides: Sequence[str], check: bool = True) -> DictConfig:
    """Compose (and check) a trial's config: the base overrides that act on ``arm`` (a sweep's
    command line applies to every arm; each reads its own knobs), then ``trainer=<arm>`` and the
    trial's own overrides."""
    return compose_config([*overrides_for_arm(base_overrides, arm), f"trainer={arm}", *overrides], check=check)


def run_trial(trial: optuna.Trial, sweep: DictConfig, base_overrides: Sequence[str],
              parent_run_id: str, study_name: str) -> float | List[float]:
    """The objective: train the sampled arm, then score it on the validation simulations.

    A trial stopped by SIGINT/SIGTERM (its MLflow run ends KILLED) is queued to run again with the
    same parameters before the stop goes on (:func:`hyco.sweep.study.requeue_interrupted`): the
    same command, run again, runs it, and the budget does not count it."""
    try:
        return _run_trial(trial, sweep, base_overrides, parent_run_id, study_name)
    except KeyboardInterrupt as stop:
        how = stop.signal_name if isinstance(stop, Interrupted) else "SIGINT"
        try:
            requeue_interrupted(trial.study, trial.storage.get_trial(trial._trial_id),
                                f"stopped by {how}; queued to run again with the same parameters")
        except Exception as err:  # the stop goes on; the next start fails the trial as a dead worker's
            log.warning("trial %d: could not queue it again (%s); the next start retries it", trial.number, err)
        raise


def _run_trial(trial: optuna.Trial, sweep: DictConfig, base_overrides: Sequence[str],
               parent_run_id: str, study_name: str) -> float | List[float]:
    arms = arms_for(sweep.objective, list(sweep.arms))
    arm, sampled = sample_overrides(trial, sweep.search_space, arms)
    mark_arm(trial, arm)
    # the sweep preset's per-trial budget first, so that the command line can override it
    cfg = trial_config(arm, [*sweep.trial_overrides, *base_overrides],
                       [*sampled, "trainer.resume=false", f"seed={trial.number}"])
    names = OBJECTIVE_NAMES[sweep.objective]
    observer = PruningObserver(trial, float(sweep.divergence_factor), len(names) > 1)
    tags = {"hyco.study": study_name, "hyco.trial": str(trial.number), "hyco.arm": arm}
    name = trial_run_name(arm, trial.number)
    start = time.perf_counter()
    try:
        outcome = train_run(cfg, parent_run_id=parent_run_id, extra_tags=tags, observers=[observer],
                            on_start=lambda run_id: _started(trial, run_id, name), run_name=name)
    except RunStopped as stop:
        trial.set_user_attr("pruned_reason", str(stop))
        raise optuna.TrialPruned(str(stop)) from stop
    except (NonFiniteLossError, DivergedError) as err:
        trial.set_user_attr("fail_reason", f"{type(err).__name__}: {err}")
        log.warning("trial %d failed: %s", trial.number, err)
        return [math.nan] * len(names) if len(names) > 1 else math.nan  # NaN marks the trial FAIL
    trial.set_user_attr("train_seconds", time.perf_counter() - start)
    scores = score_run(cfg, arm, outcome.run_id)
    trial.set_user_attr(M.TRIAL_TEST_FORECAST_ERROR, scores["test_forecast_error"])
    trial.set_user_attr(M.TRIAL_TEST_PARAM_ERROR, scores["test_param_error"])
    for key, value in scores["params"].items():
        trial.set_user_attr(key, value)
    result = [float(scores[n]) for n in names]
    if not all(math.isfinite(v) for v in result):
        trial.set_user_attr("fail_reason", f"non-finite objective {dict(zip(names, result))}")
        # Optuna would count an inf as COMPLETE; NaN makes the trial FAIL and never best
        result = [math.nan] * len(result)
    return result if len(result) > 1 else result[0]
