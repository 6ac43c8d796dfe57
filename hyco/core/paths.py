"""Where the project lives on disk, independent of the working directory."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The HYCO project root.

    ``HYCO_ROOT`` wins when set (clusters, containers). Otherwise the nearest parent of this
    package that holds ``pyproject.toml`` (an editable install or a checkout), and last the
    current working directory (a wheel install used from a project folder).
    """
    env = os.environ.get("HYCO_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    here = Path(__file__).resolve().parent
    for parent in (here, *here.parents):
        if (parent / "pyproject.toml").is_file() and (parent / "hyco").is_dir():
            return parent
    return Path.cwd().resolve()


def resolve_path(path: str | os.PathLike[str]) -> Path:
    """An absolute path: relative paths are taken from the project root, not the cwd."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (project_root() / p).resolve()


def conf_dir() -> Path:
    """The Hydra config directory ``conf/``."""
    return project_root() / "conf"


def mlruns_dir() -> Path:
    """Experiment state: MLflow database and artifacts, Optuna database, downloaded artifacts.

    ``HYCO_MLRUNS`` wins when set: a node-local folder on a cluster whose project root is shared
    (with a tracking server, this folder only holds downloads and checkpoints being written)."""
    env = os.environ.get("HYCO_MLRUNS")
    return Path(env).expanduser().resolve() if env else project_root() / "mlruns"
