"""Multilinear interpolation: exact on multilinear functions, periodic wrap, walls, gradients."""

from __future__ import annotations

import pytest
import torch

from hyco.fields.interpolate import grid_points, interpolate


def test_bilinear_functions_are_reproduced_exactly_inside_the_grid():
    first, spacing, shape = (-3.0, -1.0), (0.5, 0.25), (9, 13)
    nodes = grid_points(first, spacing, shape)
    f = lambda p: 1.5 - 2.0 * p[..., 0] + 0.5 * p[..., 1] + 0.75 * p[..., 0] * p[..., 1]  # noqa: E731
    values = f(nodes)
    gen = torch.Generator().manual_seed(0)
    points = torch.stack([-3.0 + 4.0 * torch.rand(200, generator=gen, dtype=torch.float64),
                          -1.0 + 3.0 * torch.rand(200, generator=gen, dtype=torch.float64)], -1)
    got = interpolate(values, first, spacing, points, periodic=(False, False))
    torch.testing.assert_close(got, f(points), rtol=0, atol=1e-12)
    # batched over frames: each frame its own grid, the same points
    frames = torch.stack([values, 2 * values])
    torch.testing.assert_close(interpolate(frames, first, spacing, points, (False, False)),
                               torch.stack([f(points), 2 * f(points)]), rtol=0, atol=1e-12)


def test_periodic_axes_wrap_and_walls_hold_or_vanish():
    values = torch.arange(8, dtype=torch.float64)  # samples at 0.5/8 + i/8 on [0, 1)
    halfway = torch.tensor([[0.0], [1.0]], dtype=torch.float64)  # between the last and the first sample
    torch.testing.assert_close(interpolate(values, (0.5 / 8,), (1 / 8,), halfway, (True,)),
                               torch.tensor([3.5, 3.5], dtype=torch.float64))
    beyond = torch.tensor([[-1.0 / 16], [1.5]], dtype=torch.float64)
    torch.testing.assert_close(interpolate(values, (0.5 / 8,), (1 / 8,), beyond, (False,), outside="edge"),
                               torch.tensor([0.0, 7.0], dtype=torch.float64))
    ones = torch.ones(5, dtype=torch.float64)  # nodes 0..4; a zero wall one spacing out
    wall = torch.tensor([[-0.5], [4.25], [6.0]], dtype=torch.float64)
    torch.testing.assert_close(interpolate(ones, (0.0,), (1.0,), wall, (False,), outside="zero"),
                               torch.tensor([0.5, 0.75, 0.0], dtype=torch.float64))


def test_gradients_flow_to_values_and_points():
    values = torch.randn(6, 7, dtype=torch.float64, requires_grad=True)
    points = (torch.rand(10, 2, dtype=torch.float64) * 4 + 0.5).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v, p: interpolate(v, (0.0, 0.0), (1.0, 1.0), p, (False, True)),
                                    (values, points))


def test_frames_are_read_each_at_its_own_point_exactly_and_differentiably():
    from hyco.fields.interpolate import interpolate_frames

    first, spacing, shape = (-3.0, -3.0), (0.5, 0.5), (13, 13)
    nodes = grid_points(first, spacing, shape)
    f = lambda p, k: k * (1.0 + p[..., 0] - 0.5 * p[..., 1] + 0.25 * p[..., 0] * p[..., 1])  # noqa: E731
    values = torch.stack([torch.stack([f(nodes, k), -f(nodes, k)]) for k in range(4)])  # [F=4, C=2, 13, 13]
    gen = torch.Generator().manual_seed(1)
    points = -3.0 + 6.0 * torch.rand(50, 2, generator=gen, dtype=torch.float64)
    frames = torch.randint(0, 4, (50,), generator=gen)
    got = interpolate_frames(values, frames, first, spacing, points, (False, False))
    expected = torch.stack([f(points, frames.double()), -f(points, frames.double())], dim=1)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    small = torch.randn(3, 1, 5, 6, dtype=torch.float64, requires_grad=True)
    where = (torch.rand(8, 2, dtype=torch.float64) * 4).requires_grad_(True)
    index = torch.tensor([0, 1, 2, 0, 1, 2, 2, 1])
    assert torch.autograd.gradcheck(lambda v, p: interpolate_frames(v, index, (0.0, 0.0), (1.0, 1.0), p,
                                                                    (True, False), outside="zero"), (small, where))


def test_a_frame_reader_built_once_reads_any_frames_as_interpolate_frames_does():
    from hyco.fields.interpolate import FrameReader, interpolate_frames

    gen = torch.Generator().manual_seed(2)
    points = torch.rand(30, 2, generator=gen, dtype=torch.float64) * 7 - 1  # some beyond the samples
    frames = torch.randint(0, 3, (30,), generator=gen)
    reader = FrameReader((3, 2, 6, 6), torch.float64, frames, (0.0, 0.0), (1.0, 1.0), points, (False, True), "zero")
    for _ in range(2):  # the same weights for new values
        values = torch.randn(3, 2, 6, 6, generator=gen, dtype=torch.float64)
        expected = torch.stack([interpolate(values[f], (0.0, 0.0), (1.0, 1.0), p[None], (False, True), "zero")[:, 0]
                                for f, p in zip(frames.tolist(), points)])
        torch.testing.assert_close(reader(values), expected, rtol=0, atol=1e-12)
        assert torch.equal(reader(values), interpolate_frames(values, frames, (0.0, 0.0), (1.0, 1.0), points,
                                                              (False, True), "zero"))
    with pytest.raises(ValueError, match="built for grids"):
        reader(torch.zeros(3, 2, 5, 6, dtype=torch.float64))
