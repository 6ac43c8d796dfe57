"""The browsers of a study, as real processes on loopback: ``mlflow server`` and
``optuna-dashboard``, plus a headless Chromium screenshot when Debian's ``chromium`` is installed.

Servers run in their own process group and are stopped by that id (never by name).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, List, Optional

BIN = Path(sys.executable).parent
READY_TIMEOUT_S = 120  # first start of the MLflow server on a busy 2-core machine
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--window-size=1400,900", "--virtual-time-budget=15000"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str, payload: Optional[dict] = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read().decode())


def _wait_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {READY_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@contextmanager
def server(command: List[str], ready_url: str, log: Path) -> Iterator[subprocess.Popen]:
    """Run ``command`` until the block ends; ``ready_url`` answers 200 when it is up."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        _wait_ready(ready_url, proc, log)
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and its workers, by our own pid
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def mlflow_server(tracking_uri: str, port: int, log: Path):
    return server([str(BIN / "mlflow"), "server", "--backend-store-uri", tracking_uri, "--host", "127.0.0.1",
                   "--port", str(port), "--workers", "1"], f"http://127.0.0.1:{port}/health", log)


def optuna_dashboard(storage: str, port: int, log: Path):
    return server([str(BIN / "optuna-dashboard"), storage, "--host", "127.0.0.1", "--port", str(port)],
                  f"http://127.0.0.1:{port}/api/studies", log)


def chromium() -> Optional[str]:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(url: str, path: Path, height: int = 900) -> Path:
    """A headless Chromium screenshot of ``url`` (a fresh profile, nothing reaches the network)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = [f if not f.startswith("--window-size") else f"--window-size=1400,{height}" for f in CHROMIUM_FLAGS]
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium(), *flags, f"--user-data-dir={profile}", f"--screenshot={path}", url],
                       check=True, capture_output=True, timeout=180)
    return path
