"""One study over two "hosts" against a real PostgreSQL and a real ``mlflow server``.

The servers are real (see ``servers.py``); the two hosts are two launchers of the same command
on this machine with distinct host identities (``HYCO_HOST``) and their own empty local folders
(``HYCO_MLRUNS``): see ``remote_helpers.py``. Skipped, with what to install, where PostgreSQL's
binaries are absent; ``.ci/run`` installs them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from optuna.trial import TrialState
from remote_helpers import wait_all
from servers import free_port, http_ok, http_text, stop_group
from sweep_helpers import project_root

pytestmark = pytest.mark.slow
ENDED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
RUN_SCRIPT = [sys.executable, str(project_root() / "experiments" / "run.py")]


def _retried(trials) -> set:
    return {n for t in trials for n in t.system_attrs.get("retry_history", [])}


def _check_one_parent_one_child_per_trial(remote, study, n):
    trials = study.get_trials()
    retried = _retried(trials)
    counted = [t for t in trials if t.number not in retried]
    assert len(counted) == n and all(t.state in ENDED for t in counted), [(t.number, t.state) for t in trials]
    assert sorted(t.number for t in trials) == list(range(len(trials)))  # unique numbers
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    runs = remote.runs()
    parents = [r for r in runs if r.tags.get("hyco.role") == "sweep-parent"]
    assert len(parents) == 1 and parents[0].status == "FINISHED"
    assert parents[0].run_id == study.user_attrs["mlflow_parent_run_id"]
    assert study.user_attrs["summary_written"] is True
    children = [r for r in runs if r.tags.get("mlflow.parentRunId") == parents[0].run_id]
    assert Counter(r.tags["hyco.trial"] for r in children) == Counter(str(t.number) for t in trials)
    assert not [r for r in runs if r.status == "RUNNING"], {r.run_id: r.status for r in runs}
    return trials, parents[0], children


def test_two_hosts_share_one_study_with_an_exact_budget(remote_sweep):
    n, name = 4, "two_hosts"
    overrides = remote_sweep.overrides(f"sweep.study_name={name}", f"sweep.n_trials={n}", "sweep.workers=1",
                                       "sweep.arms=[synthetic_only,physical_only]")
    procs = {host: remote_sweep.start(host, overrides) for host in ("host-a", "host-b")}
    codes = wait_all(procs)
    assert codes == {"host-a": 0, "host-b": 0}, remote_sweep.log("host-a") + remote_sweep.log("host-b")

    study = remote_sweep.study(name)
    trials, parent, children = _check_one_parent_one_child_per_trial(remote_sweep, study, n)
    assert len(trials) == n  # nothing died: exactly n trials, not n per host
    assert {t.system_attrs["hyco_host"] for t in trials} <= {"host-a", "host-b"}
    assert len({t.system_attrs["hyco_pid"] for t in trials}) >= 1
    # every child's checkpoint comes back through the server, into a folder that had nothing
    for run in children:
        folder = remote_sweep.download(run.run_id, "checkpoints", remote_sweep.root / "reader" / run.run_id)
        assert {"synthetic_last.pt", "physical_params.json"} & {p.name for p in folder.iterdir()}, run.run_id
    summary = remote_sweep.download(parent.run_id, "sweep/summary.md", remote_sweep.root / "reader" / "parent")
    assert "synthetic_only" in summary.read_text() or "physical_only" in summary.read_text()

    # optuna-dashboard and the MLflow UI read the shared stores over HTTP on loopback
    port = free_port()
    dashboard = subprocess.Popen([str(Path(sys.executable).parent / "optuna-dashboard"), remote_sweep.storage, "--host",
                                  "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not http_ok(f"http://127.0.0.1:{port}/api/studies") and time.monotonic() < deadline:
            assert dashboard.poll() is None, "optuna-dashboard exited"
            time.sleep(0.5)
        studies = json.loads(http_text(f"http://127.0.0.1:{port}/api/studies"))["study_summaries"]
        assert name in [s["study_name"] for s in studies]
    finally:
        stop_group(dashboard)
    assert "<html" in http_text(remote_sweep.tracking_uri + "/").lower()
    exp = json.loads(http_text(f"{remote_sweep.tracking_uri}/api/2.0/mlflow/experiments/get-by-name?"
                               f"experiment_name={remote_sweep.experiment}"))["experiment"]
    found = json.loads(http_text(f"{remote_sweep.tracking_uri}/api/2.0/mlflow/runs/search",
                                 json.dumps({"experiment_ids": [exp["experiment_id"]]}).encode()))["runs"]
    assert len(found) == n + 1  # the parent and one child per trial


def test_worker_role_waits_for_the_study_and_joins_it(remote_sweep):
    n, name = 3, "worker_role"
    alone = remote_sweep.start("host-w", remote_sweep.overrides(
        "sweep.study_name=nobody_creates_this", "sweep.n_trials=1", "sweep.workers=1", "sweep.role=worker",
        "sweep.attach_timeout=3", "sweep.arms=[physical_only]"))  # every arm's space would not fit 2 epochs
    assert alone.wait(timeout=120) == 3
    log = remote_sweep.log("host-w")
    assert "nobody_creates_this does not exist after 3 s" in log and "Traceback" not in log, log

    overrides = remote_sweep.overrides(f"sweep.study_name={name}", f"sweep.n_trials={n}", "sweep.workers=1",
                                       "sweep.arms=[physical_only]")
    worker = remote_sweep.start("host-b", [*overrides, "sweep.role=worker", "sweep.attach_timeout=240"])
    time.sleep(5)  # the worker is up and polling before any study exists
    assert worker.poll() is None, remote_sweep.log("host-b")
    first = remote_sweep.start("host-a", overrides)
    codes = wait_all({"host-a": first, "host-b": worker})
    assert codes == {"host-a": 0, "host-b": 0}, remote_sweep.log("host-a") + remote_sweep.log("host-b")
    trials, _, _ = _check_one_parent_one_child_per_trial(remote_sweep, remote_sweep.study(name), n)
    assert len(trials) == n


def _kill_running_trial_of(remote, study_name: str, host: str, proc: subprocess.Popen):
    """Kill ``proc``'s process group while one of ``host``'s trials runs inside its MLflow run.

    Both tables are locked (EXCLUSIVE: reads pass, writes wait) while looking and killing, so the
    trial cannot end between the look and the kill. Returns (trial number, run id) or None."""
    import psycopg

    def connect(url):
        return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))

    mlflow_url = remote.cluster.url("mlflow")
    with connect(remote.storage) as optuna_con, connect(mlflow_url) as mlflow_con:
        try:
            optuna_con.execute("LOCK TABLE trials IN EXCLUSIVE MODE")
        except psycopg.errors.UndefinedTable:
            return None
        rows = optuna_con.execute(
            "SELECT t.number, a.value_json FROM trials t JOIN studies s ON s.study_id = t.study_id "
            "JOIN trial_user_attributes a ON a.trial_id = t.trial_id "
            "JOIN trial_system_attributes h ON h.trial_id = t.trial_id "
            "WHERE s.study_name = %s AND t.state = 'RUNNING' AND a.key = 'mlflow_run_id' "
            "AND h.key = 'hyco_host' AND h.value_json = %s", (study_name, json.dumps(host))).fetchall()
        if not rows:
            return None
        mlflow_con.execute("LOCK TABLE runs IN EXCLUSIVE MODE")
        for number, value in rows:
            run_id = json.loads(value)
            status = mlflow_con.execute("SELECT status FROM runs WHERE run_uuid = %s", (run_id,)).fetchone()
            if status is not None and status[0] == "RUNNING":
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return int(number), run_id
    return None


def test_kill9_of_one_host_is_failed_by_heartbeat_and_retried_on_the_other(remote_sweep):
    n, name = 3, "killed_host"
    overrides = remote_sweep.overrides(f"sweep.study_name={name}", f"sweep.n_trials={n}", "sweep.workers=1",
                                       "sweep.arms=[synthetic_only]", "sweep.heartbeat_interval=1",
                                       "sweep.grace_period=4", "trainer.epochs=6")
    victim = remote_sweep.start("host-a", overrides)
    survivor = remote_sweep.start("host-b", overrides)
    killed = None
    deadline = time.monotonic() + 240
    try:
        while killed is None and victim.poll() is None and time.monotonic() < deadline:
            killed = _kill_running_trial_of(remote_sweep, name, "host-a", victim)
            time.sleep(0.05)
        assert killed is not None, "host-a ran no trial that could be killed\n" + remote_sweep.log("host-a")
        assert victim.returncode == -signal.SIGKILL
        code = wait_all({"host-b": survivor})["host-b"]
    finally:
        for proc in (victim, survivor):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert code == 0, remote_sweep.log("host-b")
    number, run_id = killed

    study = remote_sweep.study(name)
    trials, parent, children = _check_one_parent_one_child_per_trial(remote_sweep, study, n)
    dead = trials[number]
    assert dead.state == TrialState.FAIL and dead.system_attrs["hyco_host"] == "host-a"
    retries = [t for t in trials if number in t.system_attrs.get("retry_history", [])]
    assert len(retries) == 1
    retry = retries[0]
    assert retry.params == dead.params and retry.state in ENDED
    assert retry.system_attrs["hyco_host"] == "host-b"  # the other host ran it
    runs = {r.run_id: r for r in remote_sweep.runs()}
    # host-b's process check never judges host-a's trials: the heartbeat failed it, and the
    # stale-trial clean-up ended its MLflow run
    assert runs[run_id].status == "KILLED" and "heartbeats" in runs[run_id].tags.get("hyco.stopped", "")
    assert runs[retry.user_attrs["mlflow_run_id"]].tags["mlflow.parentRunId"] == parent.run_id


def test_another_host_resumes_and_evaluates_a_run_from_the_server_alone(remote_sweep):
    from hyco import tracking

    command = [*RUN_SCRIPT, "task=[train]", "trainer=synthetic_only",
               *[o for o in remote_sweep.overrides() if not o.startswith(("sweep.", "torch_threads"))]]
    first = remote_sweep.start("host-a", [], script=command)
    assert first.wait(timeout=240) == 0, remote_sweep.log("host-a")
    run = [r for r in remote_sweep.runs() if r.tags.get("hyco.variant") == "synthetic_only"][0]
    tracking.end_shared_run(run.run_id, "KILLED", remote_sweep.tracking_uri)  # as if host-a had died

    again = remote_sweep.start("host-b", [], script=command)  # host-b: an empty local folder
    assert again.wait(timeout=240) == 0, remote_sweep.log("host-b")
    log = remote_sweep.log("host-b")
    assert f"resuming run {run.run_id}" in log and "resumed synthetic training from" in log, log
    assert str(remote_sweep.root / "host-b") in log  # from checkpoints downloaded into host-b's folder

    evaluate = [*RUN_SCRIPT, "task=[evaluate]", f"evaluation.run_id={run.run_id}",
                *[o for o in remote_sweep.overrides() if o.startswith(("tracking.", "data.cache_dir"))]]
    third = remote_sweep.start("host-c", [], script=evaluate)
    assert third.wait(timeout=240) == 0, remote_sweep.log("host-c")
    metrics = remote_sweep.download(run.run_id, "evaluation/metrics.json", remote_sweep.root / "reader")
    assert "rel_l2" in metrics.read_text()
    assert tracking.get_run(run.run_id, remote_sweep.tracking_uri).status == "FINISHED"


def test_a_run_this_process_writes_is_read_back_from_its_mirror_without_a_download(remote_sweep, tmp_path,
                                                                                     monkeypatch):
    from mlflow.tracking import MlflowClient

    from hyco import tracking

    monkeypatch.setenv("HYCO_MLRUNS", str(tmp_path / "local"))
    with tracking.tracked_run(remote_sweep.tracking_uri, remote_sweep.experiment, run_name="mirror") as logger:
        folder = tracking.writable_artifact_dir(logger.run_id, remote_sweep.tracking_uri)
        assert folder == tmp_path / "local" / "downloads" / logger.run_id
        (folder / "checkpoints").mkdir()
        (folder / "checkpoints" / "state.json").write_text('{"epoch": 3}')
        logger.log_artifact(folder / "checkpoints", "checkpoints")
        logger.log_text("a: 1\n", "config/resolved_config.yaml")
    run_id = logger.run_id

    def no_download(*args, **kwargs):
        raise AssertionError("downloaded a run that this process wrote")

    with monkeypatch.context() as patch:
        patch.setattr(MlflowClient, "download_artifacts", no_download)
        assert tracking.download_artifact(run_id, "checkpoints", remote_sweep.tracking_uri) == folder / "checkpoints"
        config = tracking.download_artifact(run_id, "config/resolved_config.yaml", remote_sweep.tracking_uri)
        assert config.read_text() == "a: 1\n"
    # and the server holds the same files, for every other host
    fetched = remote_sweep.download(run_id, "checkpoints", tmp_path / "elsewhere")
    assert (fetched / "state.json").read_text() == '{"epoch": 3}'
    assert tracking.download_artifact(run_id, "missing/file.pt", remote_sweep.tracking_uri).exists() is False
