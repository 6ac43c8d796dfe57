"""Helpers of the several-machines tests: "hosts" as processes with their own identity and their
own empty local folder, against the session's real PostgreSQL and MLflow server.

Host identity: each launcher gets ``HYCO_HOST=<name>`` (the platform's host-identity override)
and ``HYCO_MLRUNS=<tmp>/<name>`` (its own, initially empty, local folder for downloads and
checkpoints being written), so two launchers on this machine are two hosts to every owner check
and share nothing but the servers and the data cache.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence

import optuna
from sweep_helpers import TINY, cli_env, sweep_command


@dataclass
class RemoteSweep:
    """Where one test's study and runs live on the shared servers."""

    root: Path
    storage: str
    tracking_uri: str
    experiment: str
    cache: Path
    cluster: Any
    server: Any

    def overrides(self, *extra: str) -> List[str]:
        return [*TINY, f"sweep.storage={self.storage}", f"tracking.tracking_uri={self.tracking_uri}",
                f"tracking.experiment_name={self.experiment}", f"data.cache_dir={self.cache}", *extra]

    def host_env(self, host: str) -> Dict[str, str]:
        local = self.root / host
        local.mkdir(exist_ok=True)
        return {**cli_env(), "HYCO_HOST": host, "HYCO_MLRUNS": str(local)}

    def start(self, host: str, overrides: Sequence[str], script: Sequence[str] = ()) -> subprocess.Popen:
        """A command on ``host`` in its own process group (its log in ``<root>/<host>.log``)."""
        cmd = list(script) + list(overrides) if script else sweep_command(overrides)
        out = open(self.root / f"{host}.log", "a")
        return subprocess.Popen(cmd, cwd=self.root,
                                env=self.host_env(host), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def log(self, host: str) -> str:
        path = self.root / f"{host}.log"
        return path.read_text()[-5000:] if path.exists() else ""

    def study(self, name: str) -> optuna.Study:
        return optuna.load_study(study_name=name, storage=self.storage)

    def runs(self) -> list:
        """Every run of the test's experiment, through the tracking server."""
        from hyco import tracking

        return tracking.search_runs(self.experiment, tracking=self.tracking_uri)

    def download(self, run_id: str, path: str, dst: Path) -> Path:
        """An artifact through the server into ``dst`` (as a host with no local copy would)."""
        from hyco import tracking

        dst.mkdir(parents=True, exist_ok=True)
        return Path(tracking.get_client(self.tracking_uri).download_artifacts(run_id, path, str(dst)))


def wait_all(procs: Dict[str, subprocess.Popen], timeout: float = 300) -> Dict[str, int]:
    """Exit codes by host; kills the groups of any still running after ``timeout``."""
    codes = {}
    for host, proc in procs.items():
        try:
            codes[host] = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            codes[host] = proc.wait()
    return codes
