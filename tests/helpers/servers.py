"""Real servers for the several-machines tests: a throwaway PostgreSQL cluster and an
``mlflow server`` on loopback, both started from their binaries and stopped by process id.

Nothing is mocked: the cluster comes from Debian's ``postgresql`` package (``initdb``/``postgres``
under ``/usr/lib/postgresql/<version>/bin``), the tracking server is MLflow's own CLI with a
PostgreSQL backend and served artifacts in a temporary folder. :func:`missing` says what to
install when something is absent, so the tests skip with that reason instead of failing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

INSTALL = ("install Debian's PostgreSQL server (apt-get install -y postgresql, as .ci/run does) and the "
           "dev extra (pip install -e '.[dev]', which brings psycopg)")


def pg_bin() -> Optional[Path]:
    """The folder holding ``initdb``/``postgres`` (Debian keeps it off PATH), or None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def missing() -> Optional[str]:
    """Why the real-server tests cannot run here (with how to fix it), or None."""
    if pg_bin() is None:
        return f"PostgreSQL server binaries (initdb) not found: {INSTALL}"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return f"psycopg (PostgreSQL driver for SQLAlchemy) not installed: {INSTALL}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a 'postgres' user to run initdb as: " + INSTALL
    if shutil.which("mlflow", path=str(Path(sys.executable).parent)) is None:
        return "the mlflow CLI is not beside this Python: pip install -e '.[dev]'"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(cmd: List[str]) -> List[str]:
    # initdb refuses root; the cluster belongs to the postgres user when we are root
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _wait(check, what: str, timeout: float, proc: Optional[subprocess.Popen] = None, log: Optional[Path] = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
    raise RuntimeError(f"{what} did not come up\n{tail}")


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 only."""

    root: Path
    port: int
    pid: int = 0
    _databases: List[str] = field(default_factory=list)

    @classmethod
    def start(cls) -> "PostgresCluster":
        # /tmp, not pytest's tmp_path: that one is private to root, and the server runs as postgres
        root = Path(tempfile.mkdtemp(prefix="hyco-pg-"))
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        cluster = cls(root=root, port=free_port())
        bin_dir = pg_bin()
        subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U",
                                     "postgres", "-E", "UTF8", "--no-sync"]),
                       check=True, capture_output=True, text=True)
        # fsync off: a throwaway cluster; the socket folder inside the cluster, not /run
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"),
                                     "-o", f"-h 127.0.0.1 -p {cluster.port} -k {root} -F -c max_connections=200",
                                     "-w", "-t", "60", "start"]),
                       check=True, capture_output=True, text=True)
        cluster.pid = int((root / "data" / "postmaster.pid").read_text().split()[0])
        return cluster

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A fresh database (one per test: cheaper than a cluster); its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        self._databases.append(name)
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown by the postmaster's pid (SIGINT), then remove the folder."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGINT)
                _wait(lambda: not _alive(self.pid), "postgres shutdown", 60)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie child of ours counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@dataclass
class MlflowServer:
    """``mlflow server`` with a PostgreSQL backend and served artifacts, on loopback."""

    url: str
    proc: subprocess.Popen
    artifacts: Path

    @classmethod
    def start(cls, backend_uri: str, root: Path) -> "MlflowServer":
        port = free_port()
        artifacts = root / "mlflow-artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        log = root / "mlflow-server.log"
        cmd = [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri", backend_uri,
               "--artifacts-destination", str(artifacts), "--serve-artifacts", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "2", "--gunicorn-opts", "--timeout 120"]
        # gunicorn, as the README's command: MLflow 3's default uvicorn server answers every request
        # after the first on a kept-alive connection about 44 ms late (measured; gunicorn: 1-2 ms)
        # no background job consumers (GenAI evaluation jobs): seven idle processes on a small CI box
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
               "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with open(log, "w") as out:  # its own session: stop() ends the server and its workers
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        server = cls(url=f"http://127.0.0.1:{port}", proc=proc, artifacts=artifacts)
        _wait(lambda: http_ok(server.url + "/health"), "mlflow server", 120, proc, log)
        return server

    def stop(self) -> None:
        stop_group(self.proc)


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group led by ``proc.pid``, SIGKILL after 20 s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def http_text(url: str, data: Optional[bytes] = None) -> str:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.read().decode()
