"""The browsers a researcher opens after a sweep, started for real on loopback against a tiny
sweep, with the commands the sweep prints (run as printed, from a shell without ``.venv`` on its
PATH) and with ``make ui`` (``experiments/ui.py``): optuna-dashboard shows the sweep's study and
one study per arm; the MLflow runs carry their names, their data and a network that loads from
``runs:/<id>/model``; the saved runs-table view groups the sweep's runs by arm.

With Debian's ``chromium`` installed (``.ci/run`` installs it), each page is also screenshot into
``test-artifacts/screenshots/``: one arm's study (history, importances), the MLflow runs table of
the sweep with named runs, a registered network's page. Without it, that test is skipped.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

import pytest
from hydra import compose, initialize_config_dir
from ui_servers import chromium, free_port, get_json, screenshot, server

from hyco import tracking
from hyco.config import validate
from hyco.core.paths import conf_dir, project_root
from hyco.sweep.arm_studies import arm_study_name
from hyco.sweep.labels import dashboard_url

STUDY = "ui_check"
ARMS = ["synthetic_only", "cooperative"]
TINY = ["experiment=burgers_1d_quick", "physics.resolution=[16]", "data.num_frames=6", "data.num_train=2",
        "data.num_val=1", "data.num_test=1", "trainer.epochs=4", "trainer.rollout_steps=2", "synthetic.unet.levels=1",
        "synthetic.unet.filters=4", "torch_threads=1", "device=cpu", "tracking.log_memory=false",
        "evaluation.figures=false"]
SCREENSHOTS = project_root() / "test-artifacts" / "screenshots"
FRESH_SHELL = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}  # no .venv

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory, mlflow_db_template):
    """A finished two-arm sweep (networks logged as models, one fresh seed registered) with its
    state in a temporary folder, and what it printed."""
    from hyco.sweep.runner import run_sweep

    root = tmp_path_factory.mktemp("ui_sweep")
    db = root / "mlflow.db"
    shutil.copyfile(mlflow_db_template, db)
    paths = {"tracking_uri": f"sqlite:///{db}", "storage": f"sqlite:///{root / 'optuna.db'}"}
    trial_overrides = [f"tracking.tracking_uri={paths['tracking_uri']}",
                       f"tracking.artifact_location={root / 'artifacts'}",
                       f"data.cache_dir={root / 'cache'}", "tracking.log_model=true", *TINY]
    sweep = [f"sweep.study_name={STUDY}", f"sweep.storage={paths['storage']}", f"sweep.n_trials={len(ARMS)}",
             f"sweep.arms=[{','.join(ARMS)}]", "sweep.trial_overrides=[]", "sweep.pruner=none",
             "sweep.reeval_seeds=1"]
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*trial_overrides, *sweep])
    validate(cfg)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        outcome = run_sweep(cfg, trial_overrides)
    assert sorted(row["arm"] for row in outcome.summary.rows) == sorted(ARMS)
    return {**paths, "root": root, "parent": outcome.parent_run_id, "printed": printed.getvalue()}


def printed_command(printed: str, program: str, port: int) -> str:
    """The browse command the sweep printed for ``program``, on ``port`` instead of its default."""
    line = next(line.strip() for line in printed.splitlines() if re.search(rf"/{program} ", line))
    return re.sub(r"--port \d+", f"--port {port}", line)


@pytest.fixture(scope="module")
def servers(tiny_sweep):
    """Both browsers, started with the commands the sweep printed, from a fresh shell's PATH."""
    root = tiny_sweep["root"]
    mlflow_port, dashboard_port = free_port(), free_port()
    mlflow = printed_command(tiny_sweep["printed"], "mlflow", mlflow_port)
    dashboard = printed_command(tiny_sweep["printed"], "optuna-dashboard", dashboard_port)
    assert mlflow.startswith(str(project_root())) or mlflow.startswith("/"), mlflow  # by path, not by PATH
    with server(["env", "-i", *(f"{k}={v}" for k, v in FRESH_SHELL.items()), "bash", "-c", mlflow],
                f"http://127.0.0.1:{mlflow_port}/health", root / "mlflow_ui.log"), \
            server(["env", "-i", *(f"{k}={v}" for k, v in FRESH_SHELL.items()), "bash", "-c", dashboard],
                   f"http://127.0.0.1:{dashboard_port}/api/studies", root / "dashboard.log"):
        yield {"mlflow": f"http://127.0.0.1:{mlflow_port}", "dashboard": f"http://127.0.0.1:{dashboard_port}"}


def _studies(servers) -> dict:
    return {s["study_name"]: s["study_id"] for s in get_json(f"{servers['dashboard']}/api/studies")["study_summaries"]}


def test_dashboard_holds_the_sweep_and_one_study_per_arm(servers):
    studies = _studies(servers)
    assert {STUDY, *(arm_study_name(STUDY, arm) for arm in ARMS)} <= set(studies)
    study = get_json(f"{servers['dashboard']}/api/studies/{studies[STUDY]}")
    assert study["objective_names"] == ["forecast_error"]  # not "Objective 0"
    for arm in ARMS:
        view = get_json(f"{servers['dashboard']}/api/studies/{studies[arm_study_name(STUDY, arm)]}")
        assert view["objective_names"] == ["forecast_error (synthetic player)"]
        [trial] = view["trials"]
        hyco = {"trainer.hyco.lambda_s_int", "trainer.hyco.lambda_p_int", "trainer.hyco.ghost_ics",
                "trainer.hyco.warmstart_epochs", "trainer.physical_iterations_per_epoch"}
        assert {p["name"] for p in trial["params"]} == {"trainer.lr"} | (hyco if arm == "cooperative" else set())
        attrs = {a["key"]: a["value"] for a in trial["user_attrs"]}
        assert attrs["mlflow_run_name"].startswith(f"{arm}-t")


def test_mlflow_runs_are_named_and_carry_their_dataset_and_a_loadable_network(servers, tiny_sweep):
    api = f"{servers['mlflow']}/api/2.0/mlflow"
    experiment = get_json(f"{api}/experiments/get-by-name?experiment_name=burgers_1d_quick")["experiment"]
    runs = get_json(f"{api}/runs/search", {"experiment_ids": [experiment["experiment_id"]],
                                          "filter": f"tags.`hyco.study` = '{STUDY}'"})["runs"]
    children = [r for r in runs if any(t["key"] == "hyco.trial" for t in r["data"]["tags"])]
    assert len(children) == len(ARMS)
    for run in children:
        tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
        assert run["info"]["run_name"] == f"{tags['hyco.arm']}-t{tags['hyco.trial']}"
        [entry] = run["inputs"]["dataset_inputs"]
        assert entry["dataset"]["digest"] == tags["hyco.data_key"]
        [output] = run["outputs"]["model_outputs"]
        model = get_json(f"{api}/logged-models/{output['model_id']}")["model"]
        assert model["info"]["name"] == "model" and model["info"]["source_run_id"] == run["info"]["run_id"]
        assert callable(tracking.load_torch_model(tracking.model_uri(run["info"]["run_id"]), servers["mlflow"]))
    reevals = sorted(r["info"]["run_name"] for r in runs if any(t["key"] == "hyco.reeval" for t in r["data"]["tags"]))
    assert reevals == sorted(f"{arm}-seed1" for arm in ARMS)
    # the address the sweep printed opens its saved view: the sweep's runs, grouped by arm
    url = next(line.split(": ", 1)[1] for line in tiny_sweep["printed"].splitlines() if "runs of this sweep" in line)
    key = urllib.parse.parse_qs(url.split("?", 1)[1])["viewStateShareKey"][0]
    tags = {t["key"]: t["value"] for t in experiment["tags"]}
    assert '"groupByData": "hyco.arm"' in tags[f"mlflow.sharedViewState.{key}"]
    model = get_json(f"{api}/registered-models/get?name={STUDY}-cooperative")["registered_model"]
    assert [a["alias"] for a in model["aliases"]] == ["best"]


def test_make_ui_serves_both_and_stops_both_on_ctrl_c(tiny_sweep):
    mlflow_port, dashboard_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, str(project_root() / "experiments" / "ui.py"),
                             "--tracking-uri", tiny_sweep["tracking_uri"], "--storage", tiny_sweep["storage"],
                             "--mlflow-port", str(mlflow_port), "--dashboard-port", str(dashboard_port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        assert lines[0].startswith("MLflow UI:") and f"127.0.0.1:{mlflow_port}" in lines[0], lines
        assert lines[1].startswith("optuna-dashboard:") and f"127.0.0.1:{dashboard_port}/dashboard" in lines[1]
        assert get_json(f"http://127.0.0.1:{dashboard_port}/api/studies")["study_summaries"]
        assert get_json(f"http://127.0.0.1:{mlflow_port}/api/2.0/mlflow/experiments/search?max_results=5")
        os.kill(proc.pid, signal.SIGINT)  # Ctrl-C reaches the launcher; it stops both servers
        assert proc.wait(timeout=180) == 0  # generous: both servers stop in seconds, a loaded machine is slow
    finally:
        if proc.poll() is None:
            # SIGTERM first: the launcher's handler stops both servers, which run in sessions of their own
            # and would outlive a SIGKILL of the launcher's group
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    deadline = time.monotonic() + 30
    for port in (mlflow_port, dashboard_port):  # both gone: nothing answers on their ports
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
            except OSError:
                break
            assert time.monotonic() < deadline, f"port {port} still served after Ctrl-C"
            time.sleep(0.5)


def test_screenshots_of_both_browsers(servers):
    if chromium() is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does): no screenshots")
    studies = _studies(servers)
    api = f"{servers['mlflow']}/api/2.0/mlflow"
    experiment = get_json(f"{api}/experiments/get-by-name?experiment_name=burgers_1d_quick")["experiment"]
    arm = dashboard_url(studies[arm_study_name(STUDY, "cooperative")], servers["dashboard"])
    view = f"{servers['mlflow']}/#/experiments/{experiment['experiment_id']}/runs?workflowType=machine_learning"
    shots = [screenshot(arm, SCREENSHOTS / "optuna_arm_study_history_importances.png", height=1700),
             screenshot(f"{view}&viewStateShareKey=hyco-{STUDY}", SCREENSHOTS / "mlflow_runs_table_named_by_arm.png"),
             screenshot(tracking.model_page(servers["mlflow"], f"{STUDY}-cooperative"),
                        SCREENSHOTS / "mlflow_registered_model.png")]
    for shot in shots:
        assert shot.is_file() and shot.stat().st_size > 10_000, shot  # a rendered page, not a blank one
