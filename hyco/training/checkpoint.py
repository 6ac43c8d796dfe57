"""Atomic, pickle-free checkpoints and the RNG state that makes a resumed run exact.

Checkpoints are written to a temporary file in the target directory and moved into place with
``os.replace``, so a crash never leaves a half-written ``last.pt``. They are loaded with
``torch.load(..., weights_only=True)``: only tensors, numbers, strings and containers of them are
accepted, so a crafted pickle in the checkpoint path is refused instead of executed.
Physical parameters are stored as JSON (values and their per-epoch history).
"""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
from pathlib import Path
from typing import Any, Dict, Mapping

import numpy as np
import torch


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt or unsafe; the message says which file and what to do."""


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, containers) atomically to ``path``."""
    target = Path(path)
    _atomic_write(target, lambda handle: torch.save(dict(state), handle))
    return target


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
        return torch.load(source, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise CheckpointError(
            f"refusing to load checkpoint {source}: {type(err).__name__}: {str(err).splitlines()[0]} "
            "— it is corrupt or not a HYCO checkpoint (only weights_only data is accepted). Delete it "
            "and rerun to restart from the previous checkpoint or from scratch."
        ) from err


def capture_rng_state() -> Dict[str, Any]:
    """Every RNG a training step can touch, in a weights_only-loadable form."""
    np_state = np.random.get_state()
    state: Dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": np_state[0],
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": _python_state_to_plain(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`.

    The generators take CPU byte tensors, also when the checkpoint was loaded onto a GPU
    (``map_location=cuda`` moves every tensor, the RNG states included)."""
    torch.set_rng_state(state["torch"].cpu())
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["kind"],
            np_state["keys"].cpu().numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _python_state_to_plain(state: tuple) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA) from one config seed."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def tensors_finite(tensors: Mapping[str, torch.Tensor]) -> bool:
    """True if every floating tensor in a state dict is finite."""
    return all(
        bool(torch.isfinite(t).all()) for t in tensors.values() if torch.is_tensor(t) and t.is_floating_point()
    )


def save_json(path: str | os.PathLike[str], payload: Any) -> Path:
    """Write JSON atomically (physical parameters and their history: no pickle)."""
    target = Path(path)

    def _clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if isinstance(value, dict):
            return {k: _clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [_clean(v) for v in value]
        return value

    data = json.dumps(_clean(payload), indent=2, sort_keys=True).encode()
    _atomic_write(target, lambda handle: handle.write(data))
    return target


def load_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file written by :func:`save_json`, with a clear error if it is missing/corrupt."""
    source = Path(path)
    if not source.is_file():
        raise CheckpointError(f"parameter file {source} does not exist; train the physical model first")
    try:
        return json.loads(source.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"parameter file {source} is corrupt ({err}); delete it and retrain") from err
