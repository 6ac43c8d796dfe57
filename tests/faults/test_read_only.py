"""Read-only databases: a sweep whose MLflow or Optuna SQLite file cannot be written stops in one
line naming the file, with the storage class's exit status, before it creates a study or a run.

A file's mode bits do not stop root, so as root the file is made read-only the way a read-only
mount does it: a bind mount of the file onto itself, remounted read-only, in a private mount
namespace (``unshare -m``) that lives only as long as the command. Elsewhere ``chmod 0444`` does."""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess

import optuna
import pytest
from fault_helpers import one_line
from sweep_helpers import cli_env, sweep_command

pytestmark = pytest.mark.slow


def _read_only_command(path, command):
    """``command`` run while ``path`` is read-only; None when this machine cannot do that."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        return command
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    probe = subprocess.run([unshare, "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        return None
    quoted = shlex.quote(str(path))
    script = (f"mount --bind {quoted} {quoted} && mount -o remount,bind,ro {quoted} && exec "
              + " ".join(shlex.quote(c) for c in command))
    return [unshare, "-m", "sh", "-c", script]


@pytest.mark.parametrize("which", ["mlflow", "optuna"])
def test_a_read_only_database_is_one_line_naming_the_file(fault_sweep, which):
    paths = fault_sweep
    if which == "optuna":
        optuna.create_study(study_name="existing", storage=paths.storage)
    target = paths.mlflow_db if which == "mlflow" else paths.optuna_db
    runs_before = sqlite3.connect(paths.mlflow_db).execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    command = _read_only_command(target, sweep_command(paths.overrides("sweep.study_name=ro", "sweep.n_trials=1",
                                                                       "sweep.arms=[synthetic_only]")))
    if command is None:
        pytest.skip("cannot make a file read-only for root here (needs unshare -m and mount)")
    proc = subprocess.run(command, cwd=paths.root, env=cli_env(), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    line = one_line(proc.stderr)
    what = "tracking store (tracking.tracking_uri)" if which == "mlflow" else "study storage (sweep.storage)"
    assert line.startswith(f"storage error: {what}: the database file {target} is read-only"), line
    # nothing was created: no study, no run, no artifacts
    if paths.optuna_db.exists():
        assert [s.study_name for s in optuna.get_all_study_summaries(paths.storage)] == ["existing"]
    assert sqlite3.connect(paths.mlflow_db).execute("SELECT COUNT(*) FROM runs").fetchone()[0] == runs_before
    assert not paths.artifacts.exists()
