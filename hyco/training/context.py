"""What a trainer needs from its run: a metric logger and a place for checkpoints.

Trainers never import the tracking backend. They report each epoch to a :class:`RunContext`,
which checkpoints first and then logs, so that a run killed at any instant resumes without
duplicate metric steps: steps already in the tracker are not logged again, and metrics of a
checkpointed epoch that never reached the tracker are replayed from the checkpoint.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Tuple,
)

from hyco.core.memory import MemoryMonitor

log = logging.getLogger(__name__)


class MetricLogger(Protocol):
    """The slice of :class:`hyco.tracking.RunLogger` that trainers use."""

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None: ...

    def log_history(self, points: Sequence[Tuple[str, float, int]]) -> None: ...

    def log_artifact(self, path: str | Path, artifact_path: Optional[str] = None) -> None: ...

    def last_step(self, key: str) -> Optional[int]: ...


@dataclass
class RunContext:
    """A run's logger, checkpoint directory and memory monitor.

    Parameters
    ----------
    logger
        Where metrics go (MLflow in runs, an in-memory recorder in tests).
    checkpoint_dir
        Local directory for checkpoints (the run's artifact directory in MLflow runs).
    log_memory
        Add process RSS / CUDA memory to every epoch's metrics.
    """

    logger: MetricLogger
    checkpoint_dir: Path
    log_memory: bool = True
    resumed: bool = False  # only a resumed run can already hold metrics (fresh runs skip the look-ups)
    monitor: MemoryMonitor = field(default_factory=MemoryMonitor)
    # Called with (step, metrics) after each epoch/round is recorded, e.g. a sweep's pruner;
    # an observer may raise hyco.tracking.run_logger.RunStopped to end training early.
    observers: List[Callable[[int, Dict[str, float]], None]] = field(default_factory=list)
    # Called with the checkpoint directory after every save when the run's artifact store is not
    # a local directory (a tracking server): uploads the checkpoints, so that any host can resume
    # or evaluate the run. None: the directory *is* the artifact store (the local default).
    publish: Optional[Callable[[Path], None]] = None
    publish_every_s: float = 0.0  # at most one upload per this many seconds; flush() uploads the rest
    _published_at: float = 0.0
    _unpublished: bool = False
    _logged_up_to: Dict[str, int] = field(default_factory=dict)
    # With a remote store (publish set) epoch metrics travel with the checkpoints: held here and
    # sent in one batch after each upload, so the tracker never waits on one HTTP call per epoch
    # and never holds an epoch whose checkpoint another host could not resume from.
    _held: List[tuple] = field(default_factory=list)

    def __post_init__(self) -> None:
        # the first upload waits publish_every_s too: a trial shorter than that uploads once, at
        # the end (a host lost before then costs the work since the start, never correctness)
        self._published_at = time.monotonic()
        self.checkpoint_dir = Path(self.checkpoint_dir)
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.checkpoint_dir / name

    def resume_from(self, name: str, enabled: bool) -> Optional[Path]:
        """The checkpoint ``name`` to continue from: None if resuming is off or there is none."""
        path = self.path(name)
        return path if enabled and path.is_file() else None

    def _already_logged(self, key: str, step: int) -> bool:
        if not self.resumed:
            return step <= self._logged_up_to.get(key, -1)
        if key not in self._logged_up_to:
            last = self.logger.last_step(key)
            self._logged_up_to[key] = -1 if last is None else int(last)
        return step <= self._logged_up_to[key]

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Log ``metrics`` at ``step``, skipping any (key, step) the tracker already holds."""
        fresh = {k: float(v) for k, v in metrics.items() if not self._already_logged(k, step)}
        if fresh:
            if self.publish is not None:
                self._held.extend((key, value, int(step)) for key, value in fresh.items())
            else:
                self.logger.log_metrics(fresh, step=step)
            for key in fresh:
                self._logged_up_to[key] = step

    def defer(self, metrics: Mapping[str, float], step: int) -> None:
        """Hold ``metrics`` of ``step`` (an epoch without a checkpoint) until the next
        :meth:`report`, which sends them in one batch with its own: a long run of cheap epochs
        then costs one tracker call per checkpoint, not per epoch. A run killed in between loses
        only metrics of epochs it will train again. Observers are notified at once."""
        fresh = {k: float(v) for k, v in metrics.items() if not self._already_logged(k, step)}
        self._held.extend((key, value, int(step)) for key, value in fresh.items())
        for key in fresh:
            self._logged_up_to[key] = step
        self.notify(step, metrics)

    def report(self, step: int, metrics: Dict[str, float], save: Callable[[Dict[str, Any]], None]) -> None:
        """Checkpoint (``save(extra)``, which stores the metrics as pending) and then log them."""
        if self.log_memory:
            metrics = {**metrics, **self.monitor.snapshot()}
        save({"pending_metrics": dict(metrics), "pending_step": int(step)})
        self._unpublished = True
        # Uploads cost HTTP round trips per file: throttled, so that a remote store stays a small
        # share of a trial; a resumed run replays the epochs after the last upload exactly.
        self.log(metrics, step)
        if self.publish is None and self._held:  # deferred epochs, in one call
            held, self._held = self._held, []
            self.logger.log_history(held)
        if self.publish is not None and time.monotonic() - self._published_at >= self.publish_every_s:
            self.flush()
        self.notify(step, metrics)

    def flush(self) -> None:
        """Upload the checkpoints saved since the last upload, then the epoch metrics held since
        (remote artifact stores only)."""
        if self.publish is not None and self._unpublished:
            self.publish(self.checkpoint_dir)
            self._published_at, self._unpublished = time.monotonic(), False
        if self._held:
            held, self._held = self._held, []
            self.logger.log_history(held)

    def notify(self, step: int, metrics: Mapping[str, float]) -> None:
        """Hand an epoch's metrics to the observers (after they are safely recorded)."""
        for observer in self.observers:
            observer(step, dict(metrics))

    def replay_pending(self, state: Mapping[str, Any]) -> None:
        """After loading a checkpoint: log its epoch's metrics if the tracker never got them.

        Marks the context as resumed: from now on the tracker is asked what it already holds.
        """
        self.resumed = True
        self._logged_up_to.clear()
        pending = state.get("pending_metrics")
        if pending:
            self.log(pending, int(state["pending_step"]))
