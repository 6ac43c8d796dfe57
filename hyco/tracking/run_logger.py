"""What a run records, without MLflow: the :class:`RunLogger` interface, an in-memory recorder,
config flattening for params, and the provenance of the current process (git commit, owner).

Trainers and evaluation depend on this module only; :mod:`hyco.tracking` provides the MLflow
implementation. Importing it is cheap (no mlflow import).
"""

from __future__ import annotations

import abc
import os
import socket
import subprocess
import uuid
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from hyco.core.paths import project_root
from hyco.core.plain import to_plain

__all__ = [
    "DatasetRef",
    "MemoryRunLogger",
    "RunLogger",
    "flatten_config",
    "git_commit",
    "owner_is_alive",
    "owner_tags",
]

# MLflow's limits (mlflow.utils.validation), repeated here to keep mlflow out of import time.
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
TAG_PID, TAG_HOST, TAG_PID_START, TAG_GIT, TAG_ERROR = (
    "hyco.pid", "hyco.host", "hyco.pid_start", "hyco.git_commit", "hyco.error",
)


# ------------------------------------------------------------------------------------------------
# params
# ------------------------------------------------------------------------------------------------
def to_str(value: Any) -> str:
    """A param/tag value as text: enums by value, lists as ``[a, b]``."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(to_str(v) for v in value) + "]"
    return str(value)


def flatten_config(cfg: Any, prefix: str = "", max_length: int = MAX_PARAM_VALUE_LENGTH) -> Dict[str, str]:
    """Nested dict / DictConfig / dataclass -> ``{"a.b.c": "value"}`` for MLflow params.

    Lists become strings (``"[32, 32]"``), enums their value, an empty dict ``"{}"``; values
    longer than MLflow's param limit are truncated (ending in ``...``).
    """
    out: Dict[str, str] = {}
    plain = to_plain(cfg)
    if not isinstance(plain, Mapping):
        raise TypeError(f"flatten_config: expected a mapping, got {type(cfg).__name__}")
    for key, value in plain.items():
        name = f"{prefix}{key}"
        value = to_plain(value)
        if isinstance(value, Mapping) and value:
            out.update(flatten_config(value, name + ".", max_length))
        else:
            text = "{}" if isinstance(value, Mapping) else to_str(value)
            out[name] = text if len(text) <= max_length else text[: max_length - 3] + "..."
    return out


@dataclass(frozen=True)
class DatasetRef:
    """A data cache entry as a run's dataset input: a readable ``name``, the cache key as
    ``digest`` and the entry's directory as ``source``."""

    name: str
    digest: str
    source: str


# ------------------------------------------------------------------------------------------------
# loggers
# ------------------------------------------------------------------------------------------------
class RunLogger(abc.ABC):
    """What trainers and evaluation log to; tests substitute :class:`MemoryRunLogger`."""

    @property
    @abc.abstractmethod
    def run_id(self) -> str: ...

    @abc.abstractmethod
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log (flat or nested) params; nested dicts are flattened with dotted keys."""

    @abc.abstractmethod
    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Log several metrics at one step (e.g. ``step=epoch``) in one batch."""

    def log_history(self, points: Sequence[Tuple[str, float, int]]) -> None:
        """Log ``(key, value, step)`` points at many steps (e.g. an error per rollout step)."""
        by_step: Dict[int, Dict[str, float]] = {}
        for key, value, step in points:
            by_step.setdefault(int(step), {})[key] = value
        for step, metrics in sorted(by_step.items()):
            self.log_metrics(metrics, step)

    @abc.abstractmethod
    def log_artifact(self, path: Union[str, os.PathLike], artifact_path: Optional[str] = None) -> None:
        """Copy a file (or a directory's files) into the run's artifacts under ``artifact_path``."""

    @abc.abstractmethod
    def log_figure(self, fig: Any, name: str) -> None:
        """Save a matplotlib figure as an artifact ``name`` (``.png`` added if no extension)."""

    @abc.abstractmethod
    def log_text(self, text: str, artifact_file: str) -> None:
        """Save text (e.g. the resolved config as YAML) as an artifact file."""

    @abc.abstractmethod
    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set run tags (values become strings)."""

    @abc.abstractmethod
    def last_step(self, key: str) -> Optional[int]:
        """The highest step logged for metric ``key`` (None if never logged); resuming uses it
        so that no step is logged twice."""

    @abc.abstractmethod
    def log_dataset(self, dataset: DatasetRef) -> None:
        """Record the data the run trained on as its dataset input."""

    @abc.abstractmethod
    def log_model(self, model: Any, input_example: Any) -> str:
        """Log the trained network (an ``nn.Module``) with a signature from ``input_example``
        (a numpy batch of its real inputs); returns the URI it loads from."""


def figure_name(name: str) -> str:
    """``name`` with ``.png`` appended when it has no extension."""
    return name if os.path.splitext(name)[1] else name + ".png"


def to_float(key: str, value: Any) -> float:
    """A metric value as float; the error names the metric."""
    try:
        return float(value)  # python/numpy scalars and 0-d torch tensors
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metric '{key}': cannot log {type(value).__name__} {value!r} as a number") from exc


@dataclass
class MemoryRunLogger(RunLogger):
    """In-memory recorder with the :class:`RunLogger` interface (tests, tracking disabled).

    ``metrics`` is ``{name: [(step, value), ...]}`` in logging order; ``artifacts`` holds
    ``(path, artifact_path)``; ``figures`` the figure names; ``texts`` ``{file: text}``.
    """

    id: str = field(default_factory=lambda: f"memory-{uuid.uuid4().hex[:12]}")
    params: Dict[str, str] = field(default_factory=dict)
    metrics: Dict[str, List[Tuple[int, float]]] = field(default_factory=dict)
    artifacts: List[Tuple[str, Optional[str]]] = field(default_factory=list)
    figures: List[str] = field(default_factory=list)
    texts: Dict[str, str] = field(default_factory=dict)
    tags: Dict[str, str] = field(default_factory=dict)
    datasets: List[DatasetRef] = field(default_factory=list)
    models: List[Tuple[Any, Any]] = field(default_factory=list)  # (network, input example)
    status: str = "RUNNING"

    @property
    def run_id(self) -> str:
        return self.id

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.params.update(flatten_config(params))

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.metrics.setdefault(key, []).append((int(step), to_float(key, value)))

    def log_artifact(self, path: Union[str, os.PathLike], artifact_path: Optional[str] = None) -> None:
        self.artifacts.append((str(path), artifact_path))

    def log_figure(self, fig: Any, name: str) -> None:
        self.figures.append(figure_name(name))

    def log_text(self, text: str, artifact_file: str) -> None:
        self.texts[artifact_file] = text

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.tags.update({k: to_str(v) for k, v in tags.items()})

    def last_step(self, key: str) -> Optional[int]:
        steps = [step for step, _ in self.metrics.get(key, [])]
        return max(steps) if steps else None

    def log_dataset(self, dataset: DatasetRef) -> None:
        self.datasets.append(dataset)

    def log_model(self, model: Any, input_example: Any) -> str:
        self.models.append((model, input_example))
        return f"memory:/{self.id}/model"

    def history(self, key: str) -> List[Tuple[int, float]]:
        """``[(step, value)]`` of one metric (empty if never logged)."""
        return list(self.metrics.get(key, []))


# ------------------------------------------------------------------------------------------------
# provenance
# ------------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def git_commit() -> str:
    """The project's HEAD commit (``<sha>-dirty`` with uncommitted changes), or ``"unknown"``."""
    try:
        root = str(project_root())
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=10,
        )
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _process_start(pid: int) -> Optional[float]:
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None  # killed but not yet reaped by its parent: as dead as it gets
        return process.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def host_name() -> str:
    """This host's identity in owner tags and trial owners: ``HYCO_HOST`` when set, else the
    hostname. The override exists for hosts that share a hostname (containers started from one
    image, tests that play two hosts on one machine): owner checks must never confuse them."""
    return os.environ.get("HYCO_HOST") or socket.gethostname()


def owner_tags() -> Dict[str, str]:
    """Tags identifying the current process: pid, host and process start time."""
    pid = os.getpid()
    return {TAG_PID: str(pid), TAG_HOST: host_name(), TAG_PID_START: f"{_process_start(pid) or 0:.3f}"}


def owner_is_alive(tags: Mapping[str, str]) -> bool:
    """False only if the run's owner (tags from :func:`owner_tags`) ran on this host and is gone.

    Runs without owner tags or from another host count as alive: we cannot judge them.
    """
    if tags.get(TAG_HOST) != host_name():
        return True
    try:
        pid = int(tags[TAG_PID])
    except (KeyError, ValueError):
        return True  # not started by HYCO: not ours to judge
    started = _process_start(pid)
    if started is None:
        return False
    recorded = float(tags.get(TAG_PID_START, "0") or 0)
    # same pid but a later start time: the pid was reused by an unrelated process
    return recorded == 0 or abs(started - recorded) < 1.0
