"""``make ui``: the MLflow UI and optuna-dashboard on loopback for the local stores, until Ctrl-C.

Both are started from this Python's environment by path (a fresh shell has no activated
environment), each in a process group of its own:

* the MLflow UI with one worker and without MLflow 3's background job runner (a GenAI feature
  sweeps do not use; with it and the default four workers the UI started about 13 processes on a
  two-core machine); with a tracking server (``--tracking-uri http://...``) that server is the UI;
* optuna-dashboard on the Optuna storage (the sweep's study and one study per arm).

Both addresses are printed once both answer; Ctrl-C (or SIGTERM) stops both, and so does either
one exiting on its own.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Sequence

HOST = "127.0.0.1"
READY_S = 120.0  # a first MLflow start migrates nothing but imports a lot: up to a minute here


def venv_binary(name: str) -> str:
    """``name`` from this Python's environment by path, else the bare name (``PATH``)."""
    path = Path(sys.executable).parent / name
    return str(path) if path.is_file() else name


def default_stores() -> Dict[str, str]:
    """The stores ``make sweep`` writes: MLflow's database and the Optuna storage."""
    from hyco.core.paths import mlruns_dir
    from hyco.tracking import resolve_backend

    return {"tracking_uri": resolve_backend(None).uri, "storage": f"sqlite:///{mlruns_dir() / 'optuna.db'}"}


def commands(tracking_uri: str, storage: str, mlflow_port: int, dashboard_port: int) -> Dict[str, List[str]]:
    """The two commands (the MLflow UI left out when the tracking URI is a server)."""
    out = {}
    if not tracking_uri.startswith(("http:", "https:")):
        out["mlflow"] = [venv_binary("mlflow"), "ui", "--backend-store-uri", tracking_uri, "--host", HOST,
                         "--port", str(mlflow_port), "--workers", "1"]
    out["optuna-dashboard"] = [venv_binary("optuna-dashboard"), storage, "--host", HOST, "--port",
                               str(dashboard_port)]
    return out


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def port_free(port: int) -> bool:
    """Whether nothing listens on ``HOST:port`` (another ``make ui`` would answer in our place)."""
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: TIME_WAIT is free
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _stop(procs: Dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():  # the process groups this command started, by their ids
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for proc in procs.values():
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def serve(tracking_uri: str, storage: str, mlflow_port: int = 5000, dashboard_port: int = 8080,
          log_dir: Optional[Path] = None, ready_timeout: float = READY_S) -> int:
    """Start both browsers, print their addresses, wait for Ctrl-C; the exit status."""
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true",
           "DO_NOT_TRACK": "true"}
    ready = {"mlflow": f"http://{HOST}:{mlflow_port}/health",
             "optuna-dashboard": f"http://{HOST}:{dashboard_port}/api/studies"}
    if log_dir is None:
        from hyco.core.paths import mlruns_dir

        log_dir = mlruns_dir()
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    wanted = commands(tracking_uri, storage, mlflow_port, dashboard_port)
    busy = [str(p) for n, p in (("mlflow", mlflow_port), ("optuna-dashboard", dashboard_port))
            if n in wanted and not port_free(p)]
    if busy:
        print(f"port(s) {', '.join(busy)} on {HOST} already in use (another make ui?); stop it or choose "
              "others: make ui ARGS=\"--mlflow-port 5001 --dashboard-port 8081\"", file=sys.stderr)
        return 1
    procs: Dict[str, subprocess.Popen] = {}
    previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    # a shell starts background jobs with SIGINT ignored, and Python then installs no Ctrl-C handler:
    # install it, so that an interrupt (kill -INT) stops both servers however this was started
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        for name, command in wanted.items():
            with open(Path(log_dir) / f"{name}.log", "w") as out:
                procs[name] = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                               start_new_session=True)
        deadline = time.monotonic() + ready_timeout
        waiting = set(procs)
        while waiting:
            for name in sorted(waiting):
                if procs[name].poll() is not None:
                    print(f"{name} exited with {procs[name].returncode}; its log: {Path(log_dir) / (name + '.log')}",
                          file=sys.stderr)
                    return 1
                if _answers(ready[name]):
                    waiting.discard(name)
            if waiting and time.monotonic() > deadline:
                print(f"{', '.join(sorted(waiting))} did not answer within {ready_timeout:.0f} s", file=sys.stderr)
                return 1
            time.sleep(0.5)
        mlflow = f"http://{HOST}:{mlflow_port}" if "mlflow" in procs else tracking_uri
        print(f"MLflow UI:        {mlflow}   (an experiment, then 'Model training' for its runs)")
        print(f"optuna-dashboard: http://{HOST}:{dashboard_port}/dashboard   (the sweep's study and one per arm)")
        print("Ctrl-C stops both.", flush=True)
        while all(p.poll() is None for p in procs.values()):
            time.sleep(0.5)
        dead = [n for n, p in procs.items() if p.poll() is not None]
        print(f"{', '.join(dead)} stopped; stopping the other", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping both", flush=True)
        return 0
    finally:
        _stop(procs)
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def main(argv: Optional[Sequence[str]] = None) -> int:
    stores = default_stores()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracking-uri", default=stores["tracking_uri"], help="MLflow store (default: mlruns/)")
    parser.add_argument("--storage", default=stores["storage"], help="Optuna storage (default: mlruns/optuna.db)")
    parser.add_argument("--mlflow-port", type=int, default=5000)
    parser.add_argument("--dashboard-port", type=int, default=8080)
    args = parser.parse_args(argv)
    return serve(args.tracking_uri, args.storage, args.mlflow_port, args.dashboard_port)
