"""How the study looks in its browsers: named objectives, the arm as a trial attribute, and the
addresses of the views that show the sweep.

* Optuna's ``study.set_metric_names`` names the objectives, so optuna-dashboard (and
  ``study.metric_names`` in the notebook) says ``forecast_error`` instead of "Objective 0".
* Each trial's arm is a user attribute (``arm``) besides the ``arm`` parameter the sampler
  chose, so the dashboard's trial table can show and filter it as a column.
* MLflow 3.17's UI opens an experiment in its GenAI view; the runs table of the sweep's parent
  and child runs is the ``runs`` tab of the "Model training" workflow.
"""

from __future__ import annotations

import warnings
from typing import Optional, Sequence

import optuna
from optuna.exceptions import ExperimentalWarning

ARM_ATTR = "arm"
MLFLOW_UI = "http://127.0.0.1:5000"
DASHBOARD = "http://127.0.0.1:8080"


def name_objectives(study: optuna.Study, names: Sequence[str]) -> None:
    """Name the study's objectives once (a resumed study already has the same names)."""
    if list(study.metric_names or []) != list(names):
        with warnings.catch_warnings():  # "experimental" in some Optuna releases
            warnings.simplefilter("ignore", ExperimentalWarning)
            study.set_metric_names(list(names))


def mark_arm(trial: optuna.Trial, arm: str) -> None:
    """Record the trial's arm as a user attribute (shown and filterable in optuna-dashboard)."""
    trial.set_user_attr(ARM_ATTR, arm)


def runs_table_url(experiment_id: str, base: str = MLFLOW_UI) -> str:
    """The MLflow UI's runs table of an experiment in the "Model training" view."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def dashboard_url(study_id: Optional[int] = None, base: str = DASHBOARD) -> str:
    """optuna-dashboard's page of a study (its history plot), or the list of studies."""
    root = f"{base.rstrip('/')}/dashboard"
    return root if study_id is None else f"{root}/studies/{study_id}"
