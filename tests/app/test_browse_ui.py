"""The browsers a researcher opens after a sweep, started for real on loopback against a tiny
sweep: optuna-dashboard shows named objectives and each trial's arm; the MLflow server's runs
carry their data as a dataset input and a network that loads from ``runs:/<id>/model``.

With Debian's ``chromium`` installed (``.ci/run`` installs it), each UI is also screenshot into
``test-artifacts/screenshots/`` (the MLflow runs table in the "Model training" view, the study in
optuna-dashboard); without it, that test is skipped and says why.
"""

from __future__ import annotations

import shutil
import urllib.parse

import pytest
from hydra import compose, initialize_config_dir
from ui_servers import chromium, free_port, get_json, mlflow_server, optuna_dashboard, screenshot

from hyco import tracking
from hyco.config import validate
from hyco.core.paths import conf_dir, project_root
from hyco.sweep.labels import dashboard_url, runs_table_url

STUDY = "ui_check"
ARMS = ["synthetic_only", "cooperative"]
TINY = ["experiment=burgers_1d_quick", "physics.resolution=[16]", "data.num_frames=6", "data.num_train=2",
        "data.num_val=1", "data.num_test=1", "trainer.epochs=4", "trainer.rollout_steps=2", "synthetic.unet.levels=1",
        "synthetic.unet.filters=4", "torch_threads=1", "device=cpu", "tracking.log_memory=false",
        "evaluation.figures=false"]
SCREENSHOTS = project_root() / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory, mlflow_db_template):
    """A finished two-arm sweep (networks logged as models) with its state in a temporary folder."""
    from hyco.sweep.runner import run_sweep

    root = tmp_path_factory.mktemp("ui_sweep")
    db = root / "mlflow.db"
    shutil.copyfile(mlflow_db_template, db)
    paths = {"tracking_uri": f"sqlite:///{db}", "storage": f"sqlite:///{root / 'optuna.db'}"}
    trial_overrides = [f"tracking.tracking_uri={paths['tracking_uri']}",
                       f"tracking.artifact_location={root / 'artifacts'}",
                       f"data.cache_dir={root / 'cache'}", "tracking.log_model=true", *TINY]
    sweep = [f"sweep.study_name={STUDY}", f"sweep.storage={paths['storage']}", f"sweep.n_trials={len(ARMS)}",
             f"sweep.arms=[{','.join(ARMS)}]", "sweep.trial_overrides=[]", "sweep.pruner=none"]
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*trial_overrides, *sweep])
    validate(cfg)
    outcome = run_sweep(cfg, trial_overrides)
    assert sorted(row["arm"] for row in outcome.summary.rows) == sorted(ARMS)
    return {**paths, "root": root, "parent": outcome.parent_run_id}


@pytest.fixture(scope="module")
def servers(tiny_sweep):
    """Both browsers up for the module's tests: ``{"mlflow": url, "dashboard": url}``."""
    root = tiny_sweep["root"]
    mlflow_port, dashboard_port = free_port(), free_port()
    with mlflow_server(tiny_sweep["tracking_uri"], mlflow_port, root / "mlflow_server.log"), \
            optuna_dashboard(tiny_sweep["storage"], dashboard_port, root / "dashboard.log"):
        yield {"mlflow": f"http://127.0.0.1:{mlflow_port}", "dashboard": f"http://127.0.0.1:{dashboard_port}"}


def _study(servers):
    studies = get_json(f"{servers['dashboard']}/api/studies")["study_summaries"]
    [summary] = [s for s in studies if s["study_name"] == STUDY]
    return summary["study_id"], get_json(f"{servers['dashboard']}/api/studies/{summary['study_id']}")


def test_dashboard_names_the_objective_and_shows_each_trials_arm(servers):
    _, study = _study(servers)
    assert study["objective_names"] == ["forecast_error"]  # not "Objective 0"
    arms = []
    for trial in study["trials"]:
        attrs = {a["key"]: a["value"] for a in trial["user_attrs"]}
        arms.append(attrs["arm"])
        assert attrs["arm"] == next(p["param_external_value"] for p in trial["params"] if p["name"] == "arm")
    assert sorted(arms) == sorted(ARMS)


def test_mlflow_runs_carry_their_dataset_and_a_loadable_network(servers, tiny_sweep):
    api = f"{servers['mlflow']}/api/2.0/mlflow"
    experiment = get_json(f"{api}/experiments/get-by-name?experiment_name=burgers_1d_quick")["experiment"]
    runs = get_json(f"{api}/runs/search", {"experiment_ids": [experiment["experiment_id"]],
                                          "filter": f"tags.`hyco.study` = '{STUDY}'"})["runs"]
    children = [r for r in runs if any(t["key"] == "hyco.trial" for t in r["data"]["tags"])]
    assert len(children) == len(ARMS)
    for run in children:
        tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
        [entry] = run["inputs"]["dataset_inputs"]
        assert entry["dataset"]["digest"] == tags["hyco.data_key"]
        assert tags["hyco.data_key"] in entry["dataset"]["source"]
        [output] = run["outputs"]["model_outputs"]
        model = get_json(f"{api}/logged-models/{output['model_id']}")["model"]
        assert model["info"]["name"] == "model" and model["info"]["source_run_id"] == run["info"]["run_id"]
        network = tracking.load_torch_model(tracking.model_uri(run["info"]["run_id"]), servers["mlflow"])
        assert callable(network)
    # the runs-table route the sweep prints is the MLflow UI's own (the app answers it)
    url = runs_table_url(experiment["experiment_id"], servers["mlflow"])
    assert "#/experiments/" in url and urllib.parse.urlsplit(url).path in ("", "/")


def test_screenshots_of_both_browsers(servers):
    if chromium() is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does): no screenshots")
    study_id, _ = _study(servers)
    api = f"{servers['mlflow']}/api/2.0/mlflow"
    experiment = get_json(f"{api}/experiments/get-by-name?experiment_name=burgers_1d_quick")["experiment"]
    shots = [screenshot(runs_table_url(experiment["experiment_id"], servers["mlflow"]),
                        SCREENSHOTS / "mlflow_runs_table.png"),
             screenshot(dashboard_url(study_id, servers["dashboard"]), SCREENSHOTS / "optuna_dashboard_study.png")]
    for shot in shots:
        assert shot.is_file() and shot.stat().st_size > 10_000, shot  # a rendered page, not a blank one
