"""Atomic, pickle-free torch checkpoints.

A checkpoint is a dict of tensors, numbers, strings and containers of them, written through the
one atomic writer (:func:`hyco.core.files.atomic_write_bytes`), so a crash never leaves a
half-written file under the real name. Loading uses ``torch.load(..., weights_only=True)``: a
crafted pickle in the checkpoint path is refused instead of executed.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Dict, Mapping, Sequence

import torch

from hyco.core.files import atomic_write_bytes
from hyco.errors import CheckpointError


def save_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, containers) atomically to ``path``."""
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
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
        return torch.load(source, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise CheckpointError(
            f"refusing to load checkpoint {source}: {type(err).__name__}: {str(err).splitlines()[0]} "
            "— it is corrupt or not a HYCO checkpoint (only weights_only data is accepted). Delete it "
            "and rerun to restart from the previous checkpoint or from scratch."
        ) from err


def first_existing(folder: Path, names: Sequence[str]) -> Path | None:
    """The first of ``folder/<name>`` that exists (e.g. the best checkpoint, else the last), or None."""
    return next((Path(folder) / n for n in names if (Path(folder) / n).is_file()), None)


def tensors_finite(tensors: Mapping[str, torch.Tensor]) -> bool:
    """True if every floating tensor in a state dict is finite."""
    return all(
        bool(torch.isfinite(t).all()) for t in tensors.values() if torch.is_tensor(t) and t.is_floating_point()
    )
