"""Space-time ghost points: where the two players' disagreement is measured, redrawn every epoch.

The papers estimate the interaction ``I = mean over G of |P(g) - S(g)|^2`` (a stochastic estimate of
``int |P - S|^2``) on points ``G`` drawn uniformly in a box of the domain every epoch; each
spatial point is used at every frame after the initial one (the authors' heat code), and the
physical model's grid is read there by multilinear interpolation. A static problem (one frame, no
time: ``times`` has one entry and ``timed`` is False) uses its points at that frame, without a
time coordinate. ``count = -1`` is the special
case "every grid node at every frame" (Gray–Scott's interaction on the full grid). Draws depend
on ``(seed, epoch)`` only, so a resumed run draws the same points.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import torch

from hyco.errors import ConfigError


class GhostPoints:
    """Draws ghost points in the box ``box_lower..box_upper`` (fractions of the domain).

    Parameters
    ----------
    lower, size
        The domain's lower corner (per axis) and edge length.
    grid
        The learner's sample positions ``[*shape, dim]`` (for ``count = -1``).
    times
        The frame times ``[T]``.
    """

    def __init__(self, lower: Sequence[float], size: float, grid: np.ndarray, times: torch.Tensor, seed: int,
                 box_lower: Sequence[float] = (), box_upper: Sequence[float] = (), timed: bool = True) -> None:
        dim = len(lower)
        lo = list(box_lower) or [0.0] * dim
        hi = list(box_upper) or [1.0] * dim
        if len(lo) != dim or len(hi) != dim or not all(0.0 <= a < b <= 1.0 for a, b in zip(lo, hi)):
            raise ConfigError(f"trainer.hyco.ghost_box_lower/upper: {dim} fractions each with 0 <= lower < upper <= 1, "
                              f"got {lo} / {hi}")
        self.low = np.asarray(lower, dtype=np.float64) + np.asarray(lo) * float(size)
        self.high = np.asarray(lower, dtype=np.float64) + np.asarray(hi) * float(size)
        self.grid = np.asarray(grid, dtype=np.float64).reshape(-1, dim)
        self.times = times
        self.seed = int(seed)
        self.timed = bool(timed)

    def draw(self, epoch: int, count: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(points [G, dim + 1], frames [G])`` of this epoch: ``count`` spatial points at every
        frame ``1..T-1`` (``count = -1``: every grid node); empty for ``count = 0``. Without time
        (a static problem): ``(points [G, dim], zeros)``, the one frame."""
        width = self.grid.shape[1] + (1 if self.timed else 0)
        if count == 0:
            return torch.zeros(0, width), torch.zeros(0, dtype=torch.long)
        if count < 0:
            space = self.grid
        else:
            rng = np.random.default_rng([self.seed % (1 << 63), 0x6405, int(epoch)])
            space = self.low + (self.high - self.low) * rng.random((int(count), len(self.low)))
        if not self.timed:
            return torch.as_tensor(space, dtype=torch.float32), torch.zeros(len(space), dtype=torch.long)
        frames = np.arange(1, len(self.times))
        points = np.concatenate([np.repeat(space[None], len(frames), 0),
                                 np.broadcast_to(self.times.numpy()[frames][:, None, None],
                                                 (len(frames), len(space), 1))], axis=2)
        return (torch.as_tensor(points.reshape(-1, points.shape[-1]), dtype=torch.float32),
                torch.as_tensor(np.repeat(frames, len(space)), dtype=torch.long))
