"""One Optuna study per arm beside the sweep's study, so that optuna-dashboard's views mean
something for each arm.

The sweep's own study (``sweep.study_name``) holds every trial of every arm: it keeps the exact
budget across workers and hosts, the fingerprint, the parent run, the fresh-seed re-evaluations
and the summary (:mod:`hyco.sweep.roles`). Its history, importances and intermediate values mix
arms that are not comparable (one arm's best value is another player's error; ``arm`` explains
every difference). So every ended trial is also copied, once, into the study of its arm,
``<sweep.study_name>.<arm>``, as a view:

* its parameters under their config paths (``trainer.lr``, not ``cooperative/trainer.lr``), so
  the arm's history, parameter importances and slice plots read that arm's knobs alone;
* its objective named after the player that was scored (``forecast_error (synthetic player)``);
* its intermediate values (the validation misfit the pruner compared, per epoch) with the trial;
* its user attributes (MLflow run id and name, test errors) and, as system attribute
  ``hyco_sweep_trial``, its number in the sweep's study.

Copies are made under the study lock after each trial and again when the summary is written, so a
trial that ended while its worker died is copied by the next process; the source number makes it
idempotent. Each arm's study carries a note (shown on its dashboard page) naming the sweep, the
scored player and what the intermediate values are; the sweep's study gets the summary as its note.
"""

from __future__ import annotations

import logging
import warnings
from typing import Dict, List, Sequence

import optuna
from optuna.distributions import BaseDistribution
from optuna.exceptions import ExperimentalWarning
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from hyco import metrics as M
from hyco.arms import get_arm
from hyco.sweep.roles import study_lock
from hyco.sweep.study import ENDED, retried_numbers

log = logging.getLogger(__name__)

SEPARATOR = "."
SOURCE_ATTR = "hyco_sweep_trial"


def arm_study_name(study_name: str, arm: str) -> str:
    """The study of one arm of the sweep ``study_name``: ``<study_name>.<arm>``."""
    return f"{study_name}{SEPARATOR}{arm}"


def scored_player(arm: str, objective: str) -> str:
    """The player an arm's objective scores: its forecast player, or its parameters."""
    return "parameters" if objective == "param_error" else f"{get_arm(arm).forecast} player"


def objective_labels(arm: str, objective: str, names: Sequence[str]) -> List[str]:
    """The arm study's objective names, each saying what was scored."""
    player = get_arm(arm).forecast
    return [f"{n} ({player} player)" if n == "forecast_error" else n for n in names]


def _copy(trial: FrozenTrial, arm: str) -> FrozenTrial:
    """``trial`` as a trial of its arm's study (parameters under their config paths)."""
    prefix = f"{arm}/"
    params = {k[len(prefix):]: v for k, v in trial.params.items() if k.startswith(prefix)}
    distributions: Dict[str, BaseDistribution] = {k[len(prefix):]: d for k, d in trial.distributions.items()
                                                  if k.startswith(prefix)}
    values = trial.values if trial.state != TrialState.FAIL else None
    copy = optuna.trial.create_trial(state=trial.state, values=values, params=params, distributions=distributions,
                                     user_attrs=dict(trial.user_attrs), system_attrs={SOURCE_ATTR: trial.number},
                                     intermediate_values=dict(trial.intermediate_values))
    copy.datetime_start, copy.datetime_complete = trial.datetime_start, trial.datetime_complete
    return copy


def _arm_study(storage: RDBStorage, name: str, arm: str, objective: str, names: Sequence[str],
               directions: Sequence[str]) -> optuna.Study:
    study_name = arm_study_name(name, arm)
    study = optuna.create_study(storage=storage, study_name=study_name, directions=list(directions),
                                load_if_exists=True)
    if not study.user_attrs.get("sweep"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            study.set_metric_names(objective_labels(arm, objective, names))
        for key, value in {"sweep": name, "arm": arm, "objective": objective,
                           "scored": scored_player(arm, objective)}.items():
            study.set_user_attr(key, value)
        _save_note(study, arm_note(name, arm, objective))
    return study


def mirror_trials(storage: RDBStorage, study: optuna.Study, objective: str, names: Sequence[str],
                  locked: bool = False) -> int:
    """Copy every ended trial of the sweep's ``study`` that is not yet in its arm's study (module
    docstring) under the study lock (``locked``: the caller holds it); returns the number copied.
    Trials retried after their worker died are left out."""
    if not locked:
        with study_lock(storage, study.study_name):
            return mirror_trials(storage, study, objective, names, locked=True)
    trials = storage.get_all_trials(study._study_id, deepcopy=False)
    retried = retried_numbers(trials)
    by_arm: Dict[str, List[FrozenTrial]] = {}
    for trial in trials:
        if trial.state in ENDED and trial.number not in retried and "arm" in trial.params:
            by_arm.setdefault(str(trial.params["arm"]), []).append(trial)
    directions = [d.name.lower() for d in study.directions]
    copied = 0
    for arm, ended in sorted(by_arm.items()):
        target = _arm_study(storage, study.study_name, arm, objective, names, directions)
        done = {t.system_attrs.get(SOURCE_ATTR) for t in target.get_trials(deepcopy=False)}
        for trial in sorted(ended, key=lambda t: t.number):
            if trial.number not in done:
                target.add_trial(_copy(trial, arm))
                copied += 1
    return copied


def rdb(study: optuna.Study) -> RDBStorage:
    """The study's database storage (Optuna wraps it in a cache)."""
    return getattr(study._storage, "_backend", study._storage)


def mirror_callback(storage: RDBStorage, objective: str, names: Sequence[str]):
    """An ``optimize`` callback: the trial that just ended goes to its arm's study at once."""

    def callback(study: optuna.Study, trial: FrozenTrial) -> None:
        try:
            mirror_trials(storage, study, objective, names)
        except Exception as err:  # a view must never stop the sweep; the summary copies again
            log.warning("could not copy trial %d to its arm's study: %s", trial.number, err)

    return callback


def arm_note(name: str, arm: str, objective: str) -> str:
    """The Markdown note of an arm's study (optuna-dashboard shows it on the study's page)."""
    spec = get_arm(arm)
    reported = " or ".join(f"`{k}`" for k in M.VALIDATION_LOSSES)
    return (f"**Arm `{arm}` of the sweep `{name}`** (its trials only; the budget, the fresh-seed "
            f"re-evaluations and the summary are in the study `{name}`).\n\n"
            f"* Objective: `{objective}` of the {scored_player(arm, objective)} on the validation simulations"
            f"{' (this arm has no network: its physical model is scored)' if spec.forecast == 'physical' else ''}.\n"
            f"* Parameters: the arm's own knobs, under their config paths.\n"
            f"* Intermediate values: the validation data misfit per epoch ({reported}, a mean squared error, "
            "not the objective's relative L2), which the pruner compares between trials of this arm.\n"
            "* Each trial's MLflow run is its user attribute `mlflow_run_id` (run name `<arm>-t<trial>`).")


def save_summary_note(study: optuna.Study, markdown: str) -> None:
    """The sweep's summary as the note of its own study."""
    _save_note(study, markdown + f"\n\nEach arm's trials alone: the studies `{study.study_name}.<arm>`.")


def _save_note(study: optuna.Study, body: str) -> None:
    try:
        from optuna_dashboard import save_note
    except ImportError:  # pragma: no cover  (a dependency; the note is a nicety)
        return
    try:
        save_note(study, body)
    except Exception as err:  # a note must never stop the sweep
        log.debug("could not save the note of study %s: %s", study.study_name, err)
