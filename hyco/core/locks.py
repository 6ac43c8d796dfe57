"""File locks that leave no lock file behind: one ``flock`` utility for the data cache, the MLflow
database's creation and the SQLite study locks.

A lock is an ``flock`` on ``<name>.lock``. The kernel releases it when its holder dies (even by
``kill -9``), so a lock is never stale while held; only the *file* can outlive its holder. Deleting
a lock file is safe under one protocol, which every holder here follows:

* a holder deletes the file only while holding it exclusively (on release, if no one else holds
  it; or :func:`clean_stale_locks`, for files whose holder is gone);
* after acquiring, a process checks that the file it locked is still the one at that path (same
  inode); if it was deleted or replaced meanwhile, it locks the new file instead.

So a process that waited on a file deleted under it never believes it holds the lock, and the
folders (``data/cache``, ``mlruns``) keep no ``*.lock`` files once their users are done.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"
_POLL_S = 0.05


def _same_file(fd: int, path: Path) -> bool:
    try:
        at_path = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (at_path.st_dev, at_path.st_ino)


def _acquire(fd: int, mode: int, deadline: Optional[float], on_wait: Optional[Callable[[], None]],
             path: Path) -> None:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        if on_wait is not None:
            on_wait()
    if deadline is None:
        fcntl.flock(fd, mode)
        return
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"lock {path} is held by another process; gave up waiting") from None
            time.sleep(_POLL_S)


@contextlib.contextmanager
def file_lock(path: os.PathLike[str] | str, shared: bool = False, timeout: Optional[float] = None,
              on_wait: Optional[Callable[[], None]] = None) -> Iterator[Path]:
    """Hold an ``flock`` on ``path`` (exclusive, or ``shared`` among readers); block, or give up
    with :class:`TimeoutError` after ``timeout`` seconds. ``on_wait()`` is called once if another
    process holds it. The file is removed on release when nobody else holds it (module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            _acquire(fd, mode, deadline, on_wait, path)
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, path):
            break
        os.close(fd)  # deleted or replaced while we waited: lock the file that is there now
        on_wait = None
    try:
        yield path
    finally:
        # a shared holder's conversion may fail, which only means another reader is still there
        _remove_if_free(fd, path)


def _remove_if_free(fd: int, path: Path) -> bool:
    """Remove the lock file ``path`` (``fd`` open on it) when nobody else holds it: an exclusive
    lock without waiting says so. Closes ``fd``; returns whether the file went."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if _same_file(fd, path):
            os.unlink(path)
            return True
    except (BlockingIOError, FileNotFoundError):
        pass
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    return False


def clean_stale_locks(folder: os.PathLike[str] | str, pattern: str = f"*{LOCK_SUFFIX}") -> List[Path]:
    """Remove the lock files in ``folder`` that nobody holds (left by a killed holder, or by an
    older release that kept them); returns those removed. Held ones are left alone."""
    removed = []
    for path in sorted(Path(folder).glob(pattern)):
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue
        if _remove_if_free(fd, path):
            removed.append(path)
    if removed:
        log.debug("removed %d stale lock file(s) in %s", len(removed), folder)
    return removed
