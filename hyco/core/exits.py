"""The one error path of every entry point: a failure is one line naming the culprit and what to
do, with the exit status of its class; a traceback only with ``-v`` or for a genuine bug.

Every command (``experiments/run.py``, ``sweep.py``, ``compare.py``, the benchmarks that take
configs) runs its work through :func:`run_guarded`, which

* turns SIGINT (Ctrl-C) and SIGTERM (``kill``, ``timeout``, ``scancel``, pre-emption) into
  :class:`~hyco.errors.Interrupted`, a ``KeyboardInterrupt``: the open run ends KILLED with its
  last checkpoint, a sweep's current trial is queued for its retry, and the process exits with
  ``128 + signum`` (130, 143). A stop that arrives during a call to the tracking store or the
  study storage waits for that call to return (:func:`deferred_signals`), so no database
  transaction is cut in half. A second signal while the clean-up runs is ignored (it takes a
  second or two); ``kill -9`` still ends the process at once, and the next start cleans up after it;
* prints a deliberate error (:class:`~hyco.errors.HycoError`) as ``<kind>: <message>`` and returns
  its class's status (:func:`hyco.errors.exit_code`);
* recognises the failures of what the platform runs on that are not bugs either, anywhere in an
  exception's chain: a file system that is full or read-only (``OSError``), a database that
  refuses a write or a connection (SQLAlchemy / sqlite3 ``OperationalError``), a tracking server
  that cannot be reached (MLflow's exception): :data:`~hyco.errors.EXIT_STORE`, one line. They are
  recognised by class name, so this module imports none of those libraries;
* prints anything else with its traceback, as a bug, with status 1.

The codes are documented in ``docs/reliability.md``.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import signal
import sys
import threading
import traceback
from typing import Callable, Iterator, Optional, Tuple

from hyco.errors import (
    EXIT_CONFIG,
    EXIT_INTERNAL,
    EXIT_NOT_FOUND,
    EXIT_STORE,
    KINDS,
    HycoError,
    Interrupted,
    exit_code,
)

log = logging.getLogger(__name__)

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# errno values of a file system that cannot take a write: not a bug, a storage problem
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}
# third-party exceptions that mean "the store is unreachable or refuses", by qualified class name
_STORE_CLASSES = ("sqlalchemy.exc.OperationalError", "sqlite3.OperationalError", "psycopg.OperationalError",
                  "requests.exceptions.ConnectionError", "mlflow.exceptions.MlflowException",
                  "optuna.exceptions.StorageInternalError")


class _SignalState:
    """Which signal, if any, asked this process to stop (the first one only), and whether the main
    thread is inside a store call, where raising would leave a database transaction half done."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None
        self.depth = 0  # nesting of deferred_signals() in the main thread
        self.pending = False

    def handler(self, signum: int, frame) -> None:  # the signal module calls it so
        if self.signum is not None:
            return  # already stopping: let the clean-up of the first signal finish
        self.signum = signum
        if self.depth > 0:
            self.pending = True  # raised when the store call returns (deferred_signals)
            return
        raise Interrupted(signum)


_STATE = _SignalState()


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Inside, SIGINT/SIGTERM wait: the interruption is raised when the block ends. The tracking
    store's and the study storage's calls run inside it (a stop landing in the middle of a database
    transaction left runs RUNNING and locks held); compute never does, so a stop stays immediate."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _STATE.depth += 1
    try:
        yield
    finally:
        _STATE.depth -= 1
        if _STATE.depth == 0 and _STATE.pending:
            _STATE.pending = False
            raise Interrupted(_STATE.signum or signal.SIGINT)


def defer_calls(target: object) -> object:
    """``target`` (a store client) with every public method run inside :func:`deferred_signals`."""
    return _Deferring(target)


class _Deferring:
    """A proxy of a store client whose public methods run inside :func:`deferred_signals`."""

    def __init__(self, target: object) -> None:
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str):
        value = getattr(self._target, name)
        if name.startswith("_") or not callable(value):
            return value

        @functools.wraps(value)
        def call(*args, **kwargs):
            with deferred_signals():
                return value(*args, **kwargs)

        return call


def install_signal_handlers() -> None:
    """SIGINT and SIGTERM raise :class:`~hyco.errors.Interrupted` (once) in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    _STATE.signum, _STATE.pending, _STATE.depth = None, False, 0
    for signum in HANDLED_SIGNALS:
        signal.signal(signum, _STATE.handler)


def stop_requested() -> Optional[int]:
    """The signal that asked this process to stop, or None."""
    return _STATE.signum


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def _qualnames(err: BaseException) -> set:
    return {f"{c.__module__}.{c.__qualname__}" for c in type(err).__mro__}


def _first_line(text: str, limit: int = 400) -> str:
    line = " ".join(str(text).split("[SQL:")[0].split())  # SQLAlchemy appends the statement
    return line if len(line) <= limit else line[:limit - 1] + "…"


def classify(err: BaseException) -> Tuple[int, str]:
    """``(exit status, one-line message)`` of ``err`` (module docstring); status 1 is a bug."""
    if isinstance(err, KeyboardInterrupt):
        interrupted = err if isinstance(err, Interrupted) else Interrupted(signal.SIGINT)
        what = interrupted.message or "stopped; rerun the same command to continue where it stopped"
        return exit_code(interrupted), f"interrupted ({interrupted.signal_name}): {what}"
    for link in _chain(err):
        if isinstance(link, HycoError):
            code = exit_code(link)
            return code, f"{KINDS.get(code, 'error')}: {_first_line(str(link), 2000)}"
    for link in _chain(err):
        names = _qualnames(link)
        if isinstance(link, OSError) and link.errno in _STORAGE_ERRNOS:
            where = link.filename or ""
            return EXIT_STORE, (f"{KINDS[EXIT_STORE]}: {link.strerror}{': ' + str(where) if where else ''} — "
                                "free space, fix the permissions, or point data.cache_dir / HYCO_MLRUNS elsewhere")
        if "mlflow.exceptions.MlflowException" in names and "RESOURCE_DOES_NOT_EXIST" in str(
                getattr(link, "error_code", "")):
            return EXIT_NOT_FOUND, f"{KINDS[EXIT_NOT_FOUND]}: {_first_line(str(link))}"
        if names & set(_STORE_CLASSES):
            return EXIT_STORE, (f"{KINDS[EXIT_STORE]}: {_first_line(str(link))} — check that the tracking store "
                                "and the study storage are reachable and writable (rerun with -v for details)")
    return EXIT_INTERNAL, f"internal error: {type(err).__name__}: {_first_line(str(err))}"


def report(err: BaseException, verbose: bool = False, stream=None) -> int:
    """Print ``err`` the platform's way (module docstring) and return its exit status."""
    stream = stream or sys.stderr
    code, line = classify(err)
    if verbose or code == EXIT_INTERNAL:
        traceback.print_exception(type(err), err, err.__traceback__, file=stream)
    if code == EXIT_INTERNAL:
        line += " — this is a bug in HYCO (or a case it does not handle yet); please report it with the traceback"
    print(line, file=stream)
    stream.flush()
    return code


def run_guarded(main: Callable[[], Optional[int]], verbose: bool = False) -> int:
    """Run ``main()`` with the signal handlers installed; every failure goes through :func:`report`.

    Returns ``main()``'s status (None counts as 0) or the failure's; restores the previous signal
    handlers afterwards (tests call entry points in-process).
    """
    previous = {s: signal.getsignal(s) for s in HANDLED_SIGNALS} \
        if threading.current_thread() is threading.main_thread() else {}
    install_signal_handlers()
    try:
        status = main()
        return 0 if status is None else int(status)
    except SystemExit as done:  # argparse and friends: their own message is already printed
        return done.code if isinstance(done.code, int) else (EXIT_CONFIG if done.code else 0)
    except BaseException as err:  # the one place that turns every failure into a status
        return report(err, verbose)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def wants_verbose(args) -> bool:
    """``-v`` / ``--verbose`` among command-line arguments."""
    return any(a in ("-v", "--verbose") for a in args)
