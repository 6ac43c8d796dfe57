"""What a person sees in the terminal: log lines routed through tqdm, levels, per-run log files.

* :func:`setup_logging` installs one :class:`TqdmLoggingHandler` on the root logger, so log lines
  are written with ``tqdm.write`` *above* any progress bar instead of through it. The console
  level comes from ``-v`` / ``log_level`` / ``HYCO_LOG_LEVEL`` (default ``INFO``). Per-epoch
  detail is logged at DEBUG: it reaches the console only with ``-v``, but always the run's log
  file (:func:`capture_run_log`), which is logged with the run.
* Libraries that talk too much (Optuna's per-trial INFO line, Alembic's migration steps) are held
  at WARNING unless the console level is DEBUG: the sweep's own progress display says the same.
* :func:`phase_bar` is the one progress bar per phase of a single run, named by its arm and
  showing :func:`bar_metrics` (loss, validation misfit, parameter errors). A sweep turns these
  off (:func:`set_run_bars`), because its study display is the one thing that should move on screen.
* PhiML's logger has a console handler of its own (a second copy of each line, with a stray
  ``n``): :func:`setup_logging` removes it and holds the logger at WARNING unless ``-v``.

The level and the bar switch travel to spawned sweep workers through environment variables
(``HYCO_LOG_LEVEL``, ``HYCO_RUN_BARS``), which child processes inherit.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, Mapping, Optional, Union

from tqdm.auto import tqdm

from hyco import metrics as M

LEVEL_ENV, BARS_ENV = "HYCO_LOG_LEVEL", "HYCO_RUN_BARS"
DEFAULT_LEVEL = "INFO"
FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] %(message)s"
# Loggers of libraries whose INFO lines repeat what the platform's own display already says.
CHATTY = ("optuna", "alembic", "mlflow", "urllib3", "matplotlib", "numexpr", "PIL", "Φ-ML")
PROJECT_LOGGER = "hyco"


class TqdmLoggingHandler(logging.Handler):
    """Writes records with ``tqdm.write`` so that open progress bars are redrawn below them."""

    def __init__(self, level: int = logging.NOTSET, stream: Any = None) -> None:
        super().__init__(level)
        self.stream = stream  # None: sys.stderr at the time of writing (pytest swaps it)

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and self.level > logging.DEBUG:
            # a library's traceback (Optuna logs one per failed trial) is detail: the console shows
            # the message, -v the traceback; the run's log file keeps it either way
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        try:
            tqdm.write(self.format(record), file=self.stream or sys.stderr)
        except Exception:  # a broken terminal must not end a run
            self.handleError(record)


def parse_level(level: Union[str, int, None]) -> int:
    """``"DEBUG"``/``"info"``/``10``/None (-> ``HYCO_LOG_LEVEL`` or INFO) as a logging level."""
    if level is None or level == "":
        level = os.environ.get(LEVEL_ENV, DEFAULT_LEVEL)
    if isinstance(level, int):
        return level
    text = str(level).strip().upper()
    if text.isdigit():
        return int(text)
    value = logging.getLevelName(text)
    if not isinstance(value, int):
        raise ValueError(f"log_level: unknown level {level!r}; choose DEBUG, INFO, WARNING or ERROR")
    return value


def setup_logging(level: Union[str, int, None] = None, propagate_env: bool = True) -> int:
    """Route every log record through one tqdm-aware handler at ``level``; returns the level.

    Replaces the root logger's stream handlers (``basicConfig``'s, Hydra's job logging) and
    Optuna's own stderr handler. ``propagate_env`` exports the level to processes started later
    (sweep workers).
    """
    value = parse_level(level)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if (isinstance(handler, (logging.StreamHandler, TqdmLoggingHandler))
                and not isinstance(handler, logging.FileHandler)):
            root.removeHandler(handler)
    handler = TqdmLoggingHandler(value)
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(min(value, logging.INFO))
    logging.captureWarnings(True)  # Python warnings too: through the handler, above the bars
    # the project's records are always created down to DEBUG: a run's log file wants them all,
    # and the console handler's own level decides what is shown
    logging.getLogger(PROJECT_LOGGER).setLevel(logging.DEBUG)
    # -v brings their INFO lines back; their DEBUG (font look-ups, SQL) helps nobody here
    quiet = logging.INFO if value <= logging.DEBUG else logging.WARNING
    for name in CHATTY:
        logging.getLogger(name).setLevel(quiet)
    # MLflow installs its own stderr handler when imported and sets its level from this variable
    # (a value the user exported wins)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", logging.getLevelName(quiet))
    _route_optuna()
    quiet_phiml(quiet)
    if propagate_env:
        os.environ[LEVEL_ENV] = logging.getLevelName(value)
    return value


PHIML_LOGGER = "Φ-ML"


def quiet_phiml(level: int = logging.WARNING) -> None:
    """PhiML's records through the root handler only, at ``level``: its own stdout handler
    (installed when phiml is imported) printed each line a second time, with a stray ``n``."""
    logger = logging.getLogger(PHIML_LOGGER)
    logger.setLevel(level)
    for handler in list(logger.handlers):
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            logger.removeHandler(handler)


def _route_optuna() -> None:
    """Optuna writes through its own stderr handler; send its records to ours instead."""
    try:
        import optuna
    except ImportError:  # pragma: no cover  (a dependency; keep the console usable without it)
        return
    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()
    optuna.logging.set_verbosity(logging.getLogger("optuna").level or logging.WARNING)


def set_run_bars(enabled: bool) -> None:
    """Show (True) or hide (False) the per-phase bars of runs in this process and its children."""
    os.environ[BARS_ENV] = "1" if enabled else "0"


@contextmanager
def study_display() -> Iterator[None]:
    """Inside: the runs' own bars are hidden (a sweep's study display replaces them)."""
    previous = os.environ.get(BARS_ENV)
    set_run_bars(False)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(BARS_ENV, None)
        else:
            os.environ[BARS_ENV] = previous


def run_bars_enabled() -> bool:
    return os.environ.get(BARS_ENV, "1") != "0"


def bar_metrics(metrics: Mapping[str, float]) -> Dict[str, str]:
    """What a run's bar shows after each epoch: each player's loss (``S loss``, ``P loss``, or an
    arm's own ``loss``), the validation misfit (``val``) and each parameter's error (``<name> err``)."""
    out: Dict[str, str] = {}
    labels = {"synthetic": "S loss", "physical": "P loss"}
    for key in sorted(metrics, key=lambda k: (k.split("/", 1)[0] not in labels, k)):
        if key in M.VALIDATION_LOSSES or not key.endswith(("/total_loss", "/train_loss")):
            continue
        label = labels.get(key.split("/", 1)[0], "loss")
        out.setdefault(label, f"{metrics[key]:.3g}")
    validation = next((k for k in M.VALIDATION_LOSSES if k in metrics), None)
    if validation is not None:
        out["val"] = f"{metrics[validation]:.3g}"
    for name in M.param_names(metrics):
        if M.param_rel_error(name) in metrics:
            out[f"{name} err"] = f"{metrics[M.param_rel_error(name)]:.3g}"
    return out


def phase_bar(iterable: Iterable, desc: str, initial: int = 0, total: Optional[int] = None) -> tqdm:
    """The progress bar of one phase of a run (data generation, epochs, HYCO rounds).

    Hidden inside sweeps (:func:`set_run_bars`) and when the output is not a terminal
    (``disable=None``: tqdm's own check), where redrawn bars would only be noise in a log.
    """
    disable = True if not run_bars_enabled() else None
    return tqdm(iterable, desc=desc, initial=initial, total=total, leave=True, dynamic_ncols=True,
                disable=disable)


@contextmanager
def capture_run_log(path: Union[str, os.PathLike]) -> Iterator[Path]:
    """Write every record of the project's loggers, DEBUG included, to ``path`` while inside.

    The file is what a run's ``logs/`` artifact holds: the per-epoch lines the console hides.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(FORMAT))
    project = logging.getLogger(PROJECT_LOGGER)
    previous = project.level
    project.setLevel(logging.DEBUG)  # records below the console's level must still be created
    project.addHandler(handler)
    try:
        yield path
    finally:
        project.removeHandler(handler)
        project.setLevel(previous)
        handler.close()
