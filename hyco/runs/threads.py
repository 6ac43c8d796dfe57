"""Torch's intra-op threads for a run, from ``torch_threads`` (0: the cores per worker)."""

from __future__ import annotations

from typing import Any

import torch

from hyco.config import default_torch_threads


def configure_threads(cfg: Any, workers: int = 1) -> int:
    """Set torch's intra-op threads from ``cfg.torch_threads`` (0: cores per worker); returns it."""
    threads = int(cfg.torch_threads) or default_torch_threads(workers)
    torch.set_num_threads(threads)
    return threads
