"""Atomic, pickle-free, checksummed checkpoints.

A checkpoint is a dict of tensors, numbers, strings and containers of them, written through the
one atomic writer (:func:`hyco.core.files.atomic_write_bytes`), so a crash never leaves a
half-written file under the real name. Loading uses ``torch.load(..., weights_only=True)``: a
crafted pickle in the checkpoint path is refused instead of executed.

Every checkpoint carries a SHA-256 of its content (:func:`state_digest`: every tensor's bytes,
dtype and shape and every value, in a canonical order) under the key ``hyco_digest``; loading
recomputes it and refuses a mismatch, naming the file: a flipped byte in a weight is never loaded.
The digest lives inside the file (still a plain ``torch.save`` dict, so ``torch.load`` reads it),
so a crash can never leave a checkpoint and its checksum out of step. Parameter files (JSON) carry
theirs the same way (:func:`save_json_checkpoint`). Checkpoints written before this release carry
none and load as before. A finished run also records each checkpoint file's SHA-256 as its tag
``hyco.checkpoints.sha256``, which evaluation checks (:func:`verify_files`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, Dict, Mapping, Sequence

import numpy as np
import torch

from hyco.core.files import atomic_write_bytes, json_safe, load_json, sha256_file
from hyco.errors import CheckpointError

DIGEST_KEY = "hyco_digest"
RUN_TAG = "hyco.checkpoints.sha256"  # {file name: SHA-256 of the file}, set when a run finishes


def _feed(digest: "hashlib._Hash", value: Any) -> None:
    """Fold ``value`` into ``digest`` canonically (types, shapes and order included)."""
    if torch.is_tensor(value):
        t = value.detach().cpu().contiguous()
        digest.update(f"T{t.dtype}{tuple(t.shape)};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, np.ndarray):
        a = np.ascontiguousarray(value)
        digest.update(f"A{a.dtype.str}{a.shape};".encode())
        digest.update(a.tobytes())
    elif isinstance(value, Mapping):
        digest.update(f"D{len(value)};".encode())
        for key in sorted(value, key=repr):
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"{'L' if isinstance(value, list) else 'U'}{len(value)};".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"{type(value).__name__}:{value!r};".encode())


def state_digest(state: Mapping[str, Any]) -> str:
    """SHA-256 of a checkpoint's content, whatever its serialisation (the ``hyco_digest`` entry
    itself left out)."""
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in state.items() if k != DIGEST_KEY})
    return digest.hexdigest()


def _mismatch(path: Path) -> CheckpointError:
    return CheckpointError(
        f"checkpoint {path} does not match the checksum it was written with: it was damaged or edited "
        "afterwards, so it is not loaded. Restore it from a copy, or retrain (delete it to restart from the "
        "previous checkpoint or from scratch)")


def save_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, containers) atomically to ``path``, with its digest."""
    content = {k: v for k, v in state.items() if k != DIGEST_KEY}
    buffer = io.BytesIO()
    torch.save({**content, DIGEST_KEY: state_digest(content)}, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> Dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``.

    Raises
    ------
    CheckpointError
        if the file is missing, truncated, or holds anything but plain data (e.g. a pickled object).
    """
    source = Path(path)
    if not source.is_file():
        raise CheckpointError(
            f"checkpoint {source} does not exist; train first (task=[train]) or pass the run id "
            "of a run that has checkpoints"
        )
    try:
        state = torch.load(source, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise CheckpointError(
            f"refusing to load checkpoint {source}: {type(err).__name__}: {str(err).splitlines()[0]} "
            "— it is corrupt or not a HYCO checkpoint (only weights_only data is accepted). Delete it "
            "and rerun to restart from the previous checkpoint or from scratch."
        ) from err
    if not isinstance(state, dict):
        raise CheckpointError(f"refusing to load checkpoint {source}: it holds a {type(state).__name__}, not a "
                              "HYCO checkpoint")
    expected = state.pop(DIGEST_KEY, None)
    if expected is not None and state_digest(state) != expected:
        raise _mismatch(source)
    return state


def _json_digest(payload: Mapping[str, Any]) -> str:
    text = json.dumps(json_safe({k: v for k, v in payload.items() if k != DIGEST_KEY}), sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def save_json_checkpoint(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> Path:
    """A JSON checkpoint (a parameter file), atomically, with its digest (as :func:`save_checkpoint`)."""
    content = json_safe({k: v for k, v in payload.items() if k != DIGEST_KEY})
    data = json.dumps({**content, DIGEST_KEY: _json_digest(content)}, indent=2, sort_keys=True).encode()
    return atomic_write_bytes(path, data)


def load_json_checkpoint(path: str | os.PathLike[str], what: str = "parameter file") -> Dict[str, Any]:
    """Read a JSON checkpoint, refusing one whose digest does not match (one without a digest, from
    an earlier release, is read as it is)."""
    payload = load_json(path, what=what)
    if not isinstance(payload, dict):
        raise CheckpointError(f"{what} {path} holds no JSON object; it is corrupt — delete it and retrain")
    expected = payload.pop(DIGEST_KEY, None)
    if expected is not None and _json_digest(payload) != expected:
        raise _mismatch(Path(path))
    return payload


def file_checksums(folder: str | os.PathLike[str]) -> Dict[str, str]:
    """``{file name: SHA-256}`` of the files in a checkpoint folder (what :data:`RUN_TAG` records)."""
    return {p.name: sha256_file(p) for p in sorted(Path(folder).iterdir()) if p.is_file()
            and not p.name.startswith(".")} if Path(folder).is_dir() else {}


def verify_files(folder: str | os.PathLike[str], recorded: Mapping[str, str]) -> None:
    """Refuse, naming the file, a checkpoint whose SHA-256 differs from the one its run recorded."""
    for name, expected in recorded.items():
        path = Path(folder) / name
        if path.is_file() and sha256_file(path) != expected:
            raise _mismatch(path)


def first_existing(folder: Path, names: Sequence[str]) -> Path | None:
    """The first of ``folder/<name>`` that exists (e.g. the best checkpoint, else the last), or None."""
    return next((Path(folder) / n for n in names if (Path(folder) / n).is_file()), None)


def tensors_finite(tensors: Mapping[str, torch.Tensor]) -> bool:
    """True if every floating tensor in a state dict is finite."""
    return all(
        bool(torch.isfinite(t).all()) for t in tensors.values() if torch.is_tensor(t) and t.is_floating_point()
    )
