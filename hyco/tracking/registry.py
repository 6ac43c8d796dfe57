"""The MLflow model registry, and views of the runs table saved in the experiment.

* :func:`register_network`: a run's logged network (``runs:/<id>/model``) becomes a new version of
  a registered model with an alias, loadable from anywhere as ``models:/<name>@<alias>``.
* :func:`save_runs_view`: a runs-table view (filter, columns, grouping, sort) stored in the
  experiment the way the MLflow UI's own "share" button stores one (the experiment tag
  ``mlflow.sharedViewState.<key>``); the page ``...?viewStateShareKey=<key>`` opens with it.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Dict, Optional, Sequence

from hyco.tracking.backend import Tracking, get_client
from hyco.tracking.inputs import MODEL_NAME

log = logging.getLogger(__name__)

SHARED_VIEW_TAG = "mlflow.sharedViewState."  # the MLflow UI's prefix for saved runs-table views
VIEW_PARAM = "viewStateShareKey"


def registered_name(*parts: str) -> str:
    """A registered-model name from ``parts`` (``sweep-arm``): letters, digits, ``_``, ``-``, ``.``."""
    return "-".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", str(p)) for p in parts if str(p))


def registered_uri(name: str, alias: str) -> str:
    return f"models:/{name}@{alias}"


def register_network(run_id: str, name: str, alias: str, tracking: Tracking = None,
                     description: str = "") -> str:
    """Register the network ``run_id`` logged (``runs:/<run id>/model``) as a new version of the
    registered model ``name`` and point ``alias`` at it; returns ``models:/<name>@<alias>``."""
    from mlflow.exceptions import MlflowException

    client = get_client(tracking)
    try:
        client.create_registered_model(name, description=description or None)
    except MlflowException as err:
        if "RESOURCE_ALREADY_EXISTS" not in str(err.error_code):
            raise
    model_id = _logged_model_id(client, run_id)
    source = f"models:/{model_id}" if model_id else f"runs:/{run_id}/{MODEL_NAME}"
    version = client.create_model_version(name, source, run_id=run_id, model_id=model_id,
                                          tags={"hyco.run_id": run_id})
    client.set_registered_model_alias(name, alias, version.version)
    log.debug("registered %s version %s (run %s) as @%s", name, version.version, run_id, alias)
    return registered_uri(name, alias)


def _logged_model_id(client: Any, run_id: str) -> Optional[str]:
    """The id of the network the run logged (MLflow 3 logged models), or None."""
    outputs = getattr(client.get_run(run_id), "outputs", None)
    for output in getattr(outputs, "model_outputs", None) or []:
        model = client.get_logged_model(output.model_id)
        if model.name == MODEL_NAME:
            return model.model_id
    return None


def model_page(base_url: str, name: str, version: Optional[str] = None) -> str:
    """The MLflow UI's page of a registered model (or of one of its versions)."""
    root = f"{base_url.rstrip('/')}/#/models/{name}"
    return root if version is None else f"{root}/versions/{version}"


def alias_version(name: str, alias: str, tracking: Tracking = None) -> str:
    """The version number ``alias`` points at."""
    return str(get_client(tracking).get_model_version_by_alias(name, alias).version)


def column(kind: str, key: str) -> str:
    """A runs-table column as the UI names it: ``metrics.`eval/...```, ``tags.`hyco.arm```."""
    return f"{kind}.`{key}`"


def save_runs_view(experiment_id: str, key: str, search_filter: str, columns: Sequence[str],
                   group_by_tag: Optional[str] = None, order_by: Optional[str] = None,
                   tracking: Tracking = None) -> str:
    """Store a runs-table view in the experiment (module docstring); returns the query parameter
    ``viewStateShareKey=<key>`` that opens it. Every run is shown in the charts (the UI's default
    shows the first ten), and runs are grouped by the tag ``group_by_tag`` when given."""
    state: Dict[str, Any] = {"searchFilter": search_filter, "orderByKey": order_by or "attributes.start_time",
                             "orderByAsc": order_by is not None, "startTime": "ALL", "lifecycleFilter": "Active",
                             "modelVersionFilter": "All Runs", "datasetsFilter": [],
                             "selectedColumns": list(columns), "runsHiddenMode": "SHOW_ALL",
                             "useGroupedValuesInCharts": False, "hideEmptyCharts": True}
    if group_by_tag:
        state["groupBy"] = {"aggregateFunction": "average",
                            "groupByKeys": [{"mode": "tag", "groupByData": group_by_tag}]}
        state["groupsExpanded"] = {}
    get_client(tracking).set_experiment_tag(experiment_id, SHARED_VIEW_TAG + key, json.dumps(state))
    return f"{VIEW_PARAM}={key}"
