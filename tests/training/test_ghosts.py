"""Space-time ghost points: uniform in their box, the same for the same epoch, every node as a
special case."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyco.errors import ConfigError
from hyco.training.ghosts import GhostPoints

GRID = np.stack(np.meshgrid(np.linspace(-3, 3, 4), np.linspace(-3, 3, 4), indexing="ij"), -1)
TIMES = torch.arange(5, dtype=torch.float32) * 0.25


def ghosts(**kw) -> GhostPoints:
    return GhostPoints([-3.0, -3.0], 6.0, GRID, TIMES, seed=7, **kw)


def test_points_lie_in_their_box_at_every_frame_after_the_first_and_repeat_per_epoch():
    g = ghosts(box_lower=[0.0, 0.0], box_upper=[0.5, 0.5])  # the published [-3, 0)^2
    points, frames = g.draw(epoch=3, count=20)
    assert points.shape == (4 * 20, 3) and frames.tolist() == [t for t in range(1, 5) for _ in range(20)]
    assert points[:, :2].min() >= -3.0 and points[:, :2].max() < 0.0
    np.testing.assert_allclose(points[:, 2].numpy(), TIMES[frames].numpy())
    # the same spatial points at every frame; another epoch draws others, the same epoch the same
    assert torch.equal(points[:20, :2], points[60:, :2])
    assert torch.equal(g.draw(3, 20)[0], points) and not torch.equal(g.draw(4, 20)[0], points)
    many = ghosts().draw(0, 4000)[0][:4000, :2]
    assert many.mean(0).abs().max() < 0.15 and many.min() >= -3 and many.max() < 3  # uniform over the box


def test_every_node_and_no_point_are_special_counts():
    points, frames = ghosts().draw(0, -1)
    assert points.shape == (4 * 16, 3)
    np.testing.assert_array_equal(points[:16, :2].numpy(), GRID.reshape(-1, 2))
    assert ghosts().draw(0, 0)[0].shape == (0, 3)
    with pytest.raises(ConfigError, match="ghost_box"):
        ghosts(box_lower=[0.5, 0.5], box_upper=[0.5, 1.0])
