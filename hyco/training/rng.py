"""The RNG state that makes a resumed run exact, and the seeding of a run.

Checkpoint files themselves are written and read by :mod:`hyco.core.checkpoints` (atomic,
``weights_only``); physical parameters as JSON by :mod:`hyco.core.files`.
"""

from __future__ import annotations

import random
from typing import Any, Dict, Mapping

import numpy as np
import torch


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


