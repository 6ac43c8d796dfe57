"""MLflow tracking: run lifecycle, resume, metrics, stale runs, in-memory logger, config flattening.

Every test gets a fresh copy of one migrated SQLite DB (``mlflow_tracking_cfg`` in conftest).
"""

import os
import socket
import subprocess
import sys
import threading
from enum import Enum
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from hyco import tracking
from hyco.config import HycoConfig, TrackingConfig
from hyco.core.paths import project_root
from hyco.tracking import MemoryRunLogger, flatten_config, tracked_run

EXP = "unit_test_exp"


def _client(cfg: TrackingConfig) -> MlflowClient:
    return MlflowClient(tracking_uri=cfg.tracking_uri)


def test_run_finished_with_params_tags_metrics_and_artifacts(mlflow_tracking_cfg, tmp_path):
    cfg = mlflow_tracking_cfg
    ckpt = tmp_path / "model.pth"
    ckpt.write_bytes(b"weights")
    with tracked_run(cfg, EXP, run_name="r", tags={"variant": "mixed"}, params={"trainer": {"lr": 1e-3}}) as logger:
        assert _client(cfg).get_run(logger.run_id).info.status == "RUNNING"
        for epoch in range(3):
            logger.log_metrics({"train/loss": 1.0 / (epoch + 1), "val/loss": 2.0 * epoch}, step=epoch)
        logger.log_artifact(ckpt, "checkpoints")
        logger.log_text("a: 1\n", "config.yaml")
        logger.set_tags({"hyco.cache_key": "abc"})
    run = _client(cfg).get_run(logger.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"trainer.lr": "0.001"}
    assert run.data.tags["variant"] == "mixed" and run.data.tags["hyco.cache_key"] == "abc"
    assert run.data.tags["hyco.pid"] == str(os.getpid()) and run.data.tags["hyco.host"] == socket.gethostname()
    assert run.data.tags["mlflow.runName"] == "r"
    history = _client(cfg).get_metric_history(logger.run_id, "train/loss")
    assert sorted((m.step, m.value) for m in history) == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    assert tracking.get_metric_history(logger.run_id, "val/loss", cfg) == [(0, 0.0), (1, 2.0), (2, 4.0)]
    art = tracking.artifact_dir(logger.run_id, cfg)
    assert art.is_relative_to(tmp_path / "mlruns" / "artifacts" / EXP)
    assert (art / "checkpoints" / "model.pth").read_bytes() == b"weights"
    assert (art / "config.yaml").read_text() == "a: 1\n"
    assert tracking.download_artifact(logger.run_id, "config.yaml", cfg) == art / "config.yaml"


def test_exception_ends_failed_and_reraises(mlflow_tracking_cfg):
    with pytest.raises(RuntimeError, match="boom"):
        with tracked_run(mlflow_tracking_cfg, EXP) as logger:
            raise RuntimeError("boom")
    run = _client(mlflow_tracking_cfg).get_run(logger.run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["hyco.error"] == "RuntimeError: boom"


def test_keyboard_interrupt_ends_killed_and_reraises(mlflow_tracking_cfg):
    with pytest.raises(KeyboardInterrupt):
        with tracked_run(mlflow_tracking_cfg, EXP) as logger:
            raise KeyboardInterrupt
    assert _client(mlflow_tracking_cfg).get_run(logger.run_id).info.status == "KILLED"


def test_resume_continues_the_same_run(mlflow_tracking_cfg):
    cfg = mlflow_tracking_cfg
    with pytest.raises(KeyboardInterrupt):
        with tracked_run(cfg, EXP, params={"lr": 0.1}) as first:
            first.log_metrics({"loss": 3.0}, step=0)
            raise KeyboardInterrupt
    with tracked_run(cfg, EXP, params={"lr": 0.1, "epochs": 4}, resume_run_id=first.run_id) as second:
        assert second.run_id == first.run_id
        assert _client(cfg).get_run(first.run_id).info.status == "RUNNING"
        second.log_metrics({"loss": 2.0}, step=1)
    run = _client(cfg).get_run(first.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.1", "epochs": "4"}
    assert tracking.get_metric_history(first.run_id, "loss", cfg) == [(0, 3.0), (1, 2.0)]
    assert len(tracking.search_runs(EXP, tracking=cfg)) == 1


def test_child_runs_of_a_parent_in_threads(mlflow_tracking_cfg):
    cfg = mlflow_tracking_cfg
    with tracked_run(cfg, EXP, run_name="sweep") as parent:
        ids, errors = {}, []

        def trial(n):
            try:
                with tracked_run(cfg, EXP, run_name=f"trial-{n}", tags={"trial": n}, parent_run_id=parent.run_id) as lg:
                    lg.log_metrics({"objective": float(n)}, step=0)
                    ids[n] = lg.run_id
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=trial, args=(n,)) for n in range(2)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    assert not errors
    for n, run_id in ids.items():
        run = _client(cfg).get_run(run_id)
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == parent.run_id
        assert run.data.metrics == {"objective": float(n)}
        with tracked_run(cfg, EXP, run_name="same-thread", parent_run_id=parent.run_id) as child:
            pass  # the parent is active in this thread: nested automatically
    assert _client(cfg).get_run(child.run_id).data.tags["mlflow.parentRunId"] == parent.run_id
    assert _client(cfg).get_run(parent.run_id).info.status == "FINISHED"
    assert tracking.find_run_by_tag(EXP, "trial", "1", cfg).run_id == ids[1]
    assert tracking.latest_run(EXP, "tags.`mlflow.runName` = 'sweep'", cfg).status == "FINISHED"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_runs_of_dead_processes_marked_killed_live_ones_untouched(mlflow_tracking_cfg):
    cfg = mlflow_tracking_cfg
    client = _client(cfg)
    exp_id = tracking.get_or_create_experiment(EXP, cfg)
    host = socket.gethostname()
    me = tracking.owner_tags()
    runs = {
        "dead": {"hyco.pid": str(_dead_pid()), "hyco.host": host},
        "live": me,
        "reused_pid": {**me, "hyco.pid_start": str(float(me["hyco.pid_start"]) - 3600)},
        "other_host": {"hyco.pid": str(_dead_pid()), "hyco.host": host + "-elsewhere"},
        "foreign": {},
    }
    ids = {name: client.create_run(exp_id, tags=tags).info.run_id for name, tags in runs.items()}
    killed = tracking.mark_stale_runs_killed(EXP, cfg)
    assert sorted(killed) == sorted([ids["dead"], ids["reused_pid"]])
    status = {name: client.get_run(rid).info.status for name, rid in ids.items()}
    assert status == {"dead": "KILLED", "live": "RUNNING", "reused_pid": "KILLED", "other_host": "RUNNING",
                      "foreign": "RUNNING"}
    assert tracking.mark_stale_runs_killed(None, cfg) == []


def test_memory_logger_records_and_disabled_tracking_uses_it(tmp_path):
    mem = MemoryRunLogger()
    mem.log_params({"a": {"b": [1, 2]}})
    mem.log_metrics({"loss": 1.5, "err": 0.25}, step=0)
    mem.log_metrics({"loss": 1.0}, step=1)
    mem.log_artifact(tmp_path / "x.pth", "ckpt")
    mem.log_figure(object(), "figures/rollout")
    mem.set_tags({"variant": "full"})
    assert mem.params == {"a.b": "[1, 2]"}
    assert mem.metrics == {"loss": [(0, 1.5), (1, 1.0)], "err": [(0, 0.25)]}
    assert mem.history("loss") == [(0, 1.5), (1, 1.0)]
    assert mem.artifacts == [(str(tmp_path / "x.pth"), "ckpt")] and mem.figures == ["figures/rollout.png"]
    assert mem.tags == {"variant": "full"} and mem.run_id.startswith("memory-")
    with pytest.raises(TypeError, match="metric 'bad'"):
        mem.log_metrics({"bad": "x"}, step=0)
    with pytest.raises(ValueError):
        with tracked_run(TrackingConfig(enabled=False), EXP, params={"x": 1}) as logger:
            raise ValueError
    assert isinstance(logger, MemoryRunLogger) and logger.status == "FAILED" and logger.params == {"x": "1"}


def test_flatten_config():
    class Kind(str, Enum):
        box = "box"

    cfg = OmegaConf.structured(HycoConfig)
    flat = flatten_config(cfg.tracking)
    assert flat["tracking_uri"] == "" and flat["enabled"] == "True"
    flat = flatten_config({"physics": {"resolution": [32, 32], "params": {}}, "obs": Kind.box, "long": "x" * 7000})
    assert flat["physics.resolution"] == "[32, 32]" and flat["physics.params"] == "{}" and flat["obs"] == "box"
    assert len(flat["long"]) == 6000 and flat["long"].endswith("...")
    assert flatten_config(TrackingConfig())["log_memory"] == "True"


def test_default_backend_is_under_the_project_root(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the cwd must not matter
    root = project_root()
    backend = tracking.resolve_backend(None)
    assert backend.uri == f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    assert backend.artifact_root == (root / "mlruns" / "artifacts").as_uri()
    rel = tracking.resolve_backend(TrackingConfig(tracking_uri="sqlite:///mlruns/x.db", artifact_location="mlruns/a"))
    assert rel.uri == f"sqlite:///{root / 'mlruns' / 'x.db'}" and rel.artifact_root == (root / "mlruns" / "a").as_uri()
    assert tracking.resolve_backend("postgresql://u@h/db").uri == "postgresql://u@h/db"
    assert tracking.git_commit() != ""


@pytest.mark.slow
def test_parallel_first_ensure_backend_creates_one_valid_db(tmp_path):
    db = tmp_path / "fresh" / "mlflow.db"
    code = (
        "import sys; from hyco.tracking import ensure_backend, get_or_create_experiment;"
        "b = ensure_backend(sys.argv[1]); print(get_or_create_experiment('e', b))"
    )
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, f"sqlite:///{db}"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1].decode()[-2000:] for o in outs]
    assert len({o[0].strip() for o in outs}) == 1  # both see the same experiment
    assert not Path(str(db) + ".lock").exists()  # the creation lock's file went with its last holder


def test_importing_tracking_is_cheap_and_mlflow_free():
    code = "import sys, hyco.tracking, hyco.tracking.run_logger; assert 'mlflow' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
