"""Helpers of the sweep tests: a tiny 1D sweep, ``experiments/sweep.py`` in a subprocess, and
read-only looks into the Optuna and MLflow databases it wrote.

Everything a sweep writes (Optuna DB, MLflow DB -- a copy of the session's migrated template --,
artifacts, data cache) lives in pytest's temporary directories, never in the repository's
``mlruns/`` or ``data/cache``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import optuna
from omegaconf import DictConfig
from training_helpers import cli_env

import hyco.config  # noqa: F401  (registers the schema in Hydra's ConfigStore)
from hyco.compose import compose_config
from hyco.core.paths import project_root

SWEEP_SCRIPT = project_root() / "experiments" / "sweep.py"
EXPERIMENT = "burgers_1d_quick"  # the MLflow experiment every trial of these sweeps logs to

# Every trial: 1D Burgers, 16 cells, 6 frames, 2+1+1 simulations, 2 epochs of a one-level UNet
# with 4 filters (or 2 L-BFGS-B epochs for physical_only): about a second per trial.
TINY = [
    f"experiment={EXPERIMENT}",
    "physics.resolution=[16]",
    "data.num_frames=6",
    "data.num_train=2",
    "data.num_val=1",
    "data.num_test=1",
    "trainer.epochs=2",
    "trainer.rollout_steps=2",
    "trainer.batch_size=4",
    "trainer.physical_sims_per_fit=2",
    "synthetic.unet.levels=1",
    "synthetic.unet.filters=4",
    "torch_threads=1",
    "device=cpu",
    "tracking.log_memory=false",
    "evaluation.figures=false",
    "sweep.trial_overrides=[]",
    "sweep.reeval_seeds=0",  # tests that want the fresh-seed re-evaluation ask for it
]


@dataclass
class SweepPaths:
    """Where one test's sweep keeps its state (all under tmp_path)."""

    root: Path
    optuna_db: Path
    mlflow_db: Path
    artifacts: Path
    cache: Path

    @property
    def storage(self) -> str:
        return f"sqlite:///{self.optuna_db}"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_db}"

    def overrides(self, *extra: str) -> List[str]:
        """The tiny sweep's command-line overrides pointing at these paths, then ``extra``."""
        return [*TINY, f"sweep.storage={self.storage}", f"tracking.tracking_uri={self.tracking_uri}",
                f"tracking.artifact_location={self.artifacts}", f"data.cache_dir={self.cache}", *extra]


def sweep_command(overrides: Sequence[str]) -> List[str]:
    return [sys.executable, str(SWEEP_SCRIPT), *overrides]


def run_sweep_cli(overrides: Sequence[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    """``experiments/sweep.py`` to completion (cwd: a temporary directory); the result also
    has the launcher's ``pid``."""
    with subprocess.Popen(sweep_command(overrides), cwd=cwd, env=cli_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # the launcher and its workers
            raise
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    result.pid = proc.pid
    return result


def start_sweep_cli(overrides: Sequence[str], cwd: Path, log: Path) -> subprocess.Popen:
    """``experiments/sweep.py`` in its own process group (so the test can kill all of it)."""
    out = open(log, "w")
    return subprocess.Popen(sweep_command(overrides), cwd=cwd, env=cli_env(), stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)


def compose_sweep(overrides: Sequence[str]) -> DictConfig:
    """The config the sweep command composes from ``overrides`` (Hydra only, no compute)."""
    return compose_config(list(overrides), check=False)


def load_study(paths: SweepPaths, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=paths.storage)


def tail(proc: subprocess.CompletedProcess, n: int = 4000) -> str:
    return f"rc={proc.returncode}\n--- stdout ---\n{proc.stdout[-n:]}\n--- stderr ---\n{proc.stderr[-n:]}"


class RunningTrialProbe:
    """Finds a RUNNING trial whose MLflow run is RUNNING while holding SQLite's write lock on both
    databases, so no worker can end the trial or its run between the look and the kill."""

    def __init__(self, optuna_db: Path, mlflow_db: Path, study_name: str) -> None:
        self.optuna_db, self.mlflow_db, self.study_name = optuna_db, mlflow_db, study_name

    @staticmethod
    def _lock(db: Path) -> Optional[sqlite3.Connection]:
        con = sqlite3.connect(str(db), timeout=30, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")  # blocks the workers' writes, not their reads
        except sqlite3.OperationalError:
            con.close()
            return None
        return con

    @staticmethod
    def _release(con: Optional[sqlite3.Connection]) -> None:
        if con is not None:
            con.execute("ROLLBACK")
            con.close()

    def kill_during_trial(self, proc: subprocess.Popen, kill) -> Optional[tuple]:
        """If a trial is running inside its MLflow run: ``kill(proc)`` under the locks and return
        ``(trial number, mlflow run id)``; else None."""
        if not self.optuna_db.exists():
            return None
        optuna_con = mlflow_con = None
        try:
            optuna_con = self._lock(self.optuna_db)
            if optuna_con is None:
                return None
            try:
                rows = optuna_con.execute(
                    "SELECT t.number, a.value_json FROM trials t JOIN studies s ON s.study_id = t.study_id "
                    "JOIN trial_user_attributes a ON a.trial_id = t.trial_id "
                    "WHERE s.study_name = ? AND t.state = 'RUNNING' AND a.key = 'mlflow_run_id'",
                    (self.study_name,)).fetchall()
            except sqlite3.OperationalError:  # tables not created yet
                return None
            if not rows:
                return None
            mlflow_con = self._lock(self.mlflow_db)
            if mlflow_con is None:
                return None
            for number, value in rows:
                run_id = json.loads(value)
                status = mlflow_con.execute("SELECT status FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()
                if status is not None and status[0] == "RUNNING":  # still training, not evaluating
                    kill(proc)
                    return int(number), run_id
            return None
        finally:
            self._release(mlflow_con)
            self._release(optuna_con)


def mlflow_runs(paths: SweepPaths, experiment: str = EXPERIMENT) -> list:
    """Every run of ``experiment`` as :class:`hyco.tracking.RunRecord`."""
    from hyco import tracking

    return tracking.search_runs(experiment, tracking=paths.tracking_uri)
