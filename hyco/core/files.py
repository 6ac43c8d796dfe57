"""Files the platform writes and trusts: one atomic writer, JSON without pickle, checksums, and the
process-wide record of files already verified.

* :func:`atomic_write_bytes` writes to a temporary name in the target directory, fsyncs and renames
  into place, so a crash never leaves half a file under the real name (checkpoints, cache
  entries, parameter files, metadata all go through it).
* :func:`save_json` / :func:`load_json`: parameter histories and metadata as JSON (non-finite
  floats as strings), never pickle.
* :data:`VERIFIED`: files whose SHA-256 was checked in this process, keyed by path, size and
  modification time, so a sweep that opens the same data or checkpoint many times hashes it once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import threading
import uuid
from pathlib import Path
from typing import Any, Optional, Type

from hyco.errors import CheckpointError

TEMP_PREFIX = ".tmp-"


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: os.PathLike[str] | str) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: os.PathLike[str] | str, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync, then rename over ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}-{target.name}"
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return target


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as strings (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def save_json(path: os.PathLike[str] | str, payload: Any) -> Path:
    """Write JSON atomically (sorted keys; ``inf``/``nan`` become the strings ``"inf"``/``"nan"``)."""
    data = json.dumps(json_safe(payload), indent=2, sort_keys=True).encode()
    return atomic_write_bytes(path, data)


def load_json(path: os.PathLike[str] | str, error: Type[Exception] = CheckpointError, what: str = "file") -> Any:
    """Read a JSON file; a missing or corrupt one raises ``error`` naming the file and what to do."""
    source = Path(path)
    if not source.is_file():
        raise error(f"{what} {source} does not exist; train first, or pass the run id of a run that has it")
    try:
        return json.loads(source.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise error(f"{what} {source} is corrupt ({err}); delete it and retrain") from err


class VerifiedFiles:
    """Files whose checksum this process has checked: ``(path, size, mtime_ns, sha256)`` stamps.

    A stamp matches only while the file keeps its size and modification time, so a file replaced
    or edited after its check is hashed again."""

    def __init__(self) -> None:
        self._stamps: set = set()
        self._lock = threading.Lock()

    @staticmethod
    def stamp(path: Path, sha: str) -> Optional[tuple]:
        try:
            st = Path(path).stat()
        except OSError:
            return None
        return (str(path), st.st_size, st.st_mtime_ns, sha)

    def __contains__(self, stamp: Optional[tuple]) -> bool:
        return stamp is not None and stamp in self._stamps

    def add(self, stamp: Optional[tuple]) -> None:
        if stamp is not None:
            with self._lock:
                self._stamps.add(stamp)

    def clear(self) -> None:
        with self._lock:
            self._stamps.clear()


VERIFIED = VerifiedFiles()
