"""The sweep's runs in the MLflow UI: a saved runs-table view of its trials and re-evaluations.

MLflow's runs table opens with the sweep's parent collapsed, no metric column (hundreds to choose
from) and charts of the first ten runs only. The sweep saves a view in its experiment (the way the
UI's own "share" button does, :func:`hyco.tracking.save_runs_view`) and prints its address:

* filter: the sweep's trial and re-evaluation runs (tag ``hyco.study``; runs with an arm), so
  they are listed flat, not under the collapsed parent;
* grouped by the tag ``hyco.arm``, so the table and the charts show one line per arm;
* columns: the arm's validation and test forecast errors of each player, the test error of each
  learned parameter, and the tags ``hyco.trial`` and ``hyco.seed``;
* every run drawn in the charts.
"""

from __future__ import annotations

import logging
from typing import List, Sequence

from omegaconf import DictConfig

from hyco import metrics as M
from hyco import tracking
from hyco.arms import get_arm
from hyco.evaluation.scores import learnable_params

log = logging.getLogger(__name__)


def view_key(study_name: str) -> str:
    """The saved view's key: ``hyco-<study>``."""
    return tracking.registered_name("hyco", study_name)


def view_columns(cfg: DictConfig, arms: Sequence[str]) -> List[str]:
    """The columns of the sweep's view (module docstring)."""
    players = list(dict.fromkeys(get_arm(a).forecast for a in arms))
    metrics = [M.rel_l2_mean(split, p) for split in ("val", "test") for p in players]
    metrics += [M.eval_param_rel_error("test", n) for n in learnable_params(cfg)]
    return [tracking.column("tags", "hyco.trial"), tracking.column("tags", "hyco.seed"),
            *(tracking.column("metrics", m) for m in metrics), tracking.column("attributes", "Models")]


def runs_view(cfg: DictConfig, experiment_id: str, arms: Sequence[str]) -> str:
    """Save the sweep's view in its experiment; the query parameter that opens it ("" if it failed)."""
    study = str(cfg.sweep.study_name).replace("'", "")
    search = f"tags.`hyco.study` = '{study}' and tags.`hyco.arm` LIKE '%'"
    try:
        return tracking.save_runs_view(str(experiment_id), view_key(study), search, view_columns(cfg, arms),
                                       group_by_tag="hyco.arm", tracking=cfg.tracking)
    except Exception as err:  # a view is a convenience: the runs are there without it
        log.warning("could not save the runs-table view of the sweep: %s", err)
        return ""
