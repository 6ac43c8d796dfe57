"""Stacking dataset windows into the batches that the physical fit receives."""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset


def stack_windows(dataset: Dataset, indices: Sequence[int]) -> Tuple[torch.Tensor, ...]:
    """``dataset[i]`` for each index, stacked along a new batch axis (tuple of tensors)."""
    items = [dataset[int(i)] for i in indices]
    return tuple(torch.stack([item[k] for item in items]) for k in range(len(items[0])))


def sample_windows(dataset: Dataset, count: int, seed: int) -> Tuple[torch.Tensor, ...]:
    """``count`` distinct windows drawn with ``numpy.random.default_rng(seed)`` (all if fewer)."""
    total = len(dataset)  # type: ignore[arg-type]
    if total == 0:
        raise ValueError("the dataset has no rollout windows; check data.num_frames and trainer.rollout_steps")
    count = min(int(count), total)
    indices = np.sort(np.random.default_rng(seed).choice(total, size=count, replace=False))
    return stack_windows(dataset, indices)
