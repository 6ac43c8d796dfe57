"""Targets of the HYCO variants: the mixed/weighted identity, detaching, alpha schedules."""

from __future__ import annotations

import pytest
import torch

from hyco.synthetic.rollout import masked_rollout_loss
from hyco.training.targets import (
    alpha_at,
    balance_terms,
    cooperative_targets,
    full_targets,
    ghost_targets,
    mixed_targets,
)


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    shape = (3, 2, 2, 8, 8)  # B, K, C, X, Y
    f = torch.randn(shape, generator=g, requires_grad=True)
    y = torch.randn(shape, generator=g)
    p = torch.randn(shape, generator=g)
    mask = (torch.rand((3, 2, 1, 8, 8), generator=g) > 0.6).float()
    return f, y, p, mask


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.8, 1.0])
def test_mixed_equals_weighted_data_plus_interaction_up_to_a_constant(alpha):
    """|f - (a y + (1-a) p)|^2 = a|f-y|^2 + (1-a)|f-p|^2 - a(1-a)|y-p|^2 at observed points."""
    f, y, p, mask = _batch()
    x0 = torch.zeros(3, 2, 8, 8)
    t = mixed_targets(x0, p, y, mask, alpha)
    mixed = masked_rollout_loss(f, t.targets, t.masks)
    ones = torch.ones_like(mask)
    # the papers' two terms at observed points (lambda_data = alpha, lambda_int = 1 - alpha),
    # plus the interaction alone at unobserved points, all over the same normaliser
    m = mask.expand_as(f)
    weighted = (alpha * m * (f - y) ** 2 + (1 - alpha) * m * (f - p) ** 2 + (1 - m) * (f - p) ** 2).sum() \
        / ones.expand_as(f).sum()
    const = (alpha * (1 - alpha) * m * (y - p) ** 2).sum() / ones.expand_as(f).sum()
    torch.testing.assert_close(mixed, weighted - const, rtol=1e-5, atol=1e-6)
    g_mixed, = torch.autograd.grad(mixed, f)
    g_weighted, = torch.autograd.grad(weighted, f)
    torch.testing.assert_close(g_mixed, g_weighted, rtol=1e-5, atol=1e-7)


def test_mixed_with_alpha_one_is_data_at_observed_points_and_prediction_elsewhere():
    f, y, p, mask = _batch(1)
    t = mixed_targets(torch.zeros(3, 2, 8, 8), p, y, mask, 1.0)
    m = mask.expand_as(p).bool()
    assert torch.equal(t.targets[m], y[m])
    assert torch.equal(t.targets[~m], p[~m])


def test_cooperative_loss_is_weighted_sum_of_per_term_means():
    """J = lambda_data * mean over observed points + lambda_int * mean over the other points."""
    f, y, p, mask = _batch(2)
    t = cooperative_targets(torch.zeros(3, 2, 8, 8), p, y, mask, lambda_data=2.0, lambda_int=0.25)
    loss = masked_rollout_loss(f, t.targets, t.masks, t.weights)
    m = mask.expand_as(f).bool()
    expected = 2.0 * ((f - y) ** 2)[m].mean() + 0.25 * ((f - p) ** 2)[~m].mean()
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-7)


def test_cooperative_with_ghosts_averages_ghost_points_into_the_interaction():
    f, y, p, mask = _batch(3)
    x0 = torch.zeros(3, 2, 8, 8)
    g_pred = torch.randn(2, 2, 2, 8, 8)
    t = balance_terms(cooperative_targets(x0, p, y, mask, 1.0, 0.5).cat(ghost_targets(x0[:2], g_pred, 0.5)),
                      1.0, 0.5)
    f_all = torch.cat([f.detach(), torch.randn(2, 2, 2, 8, 8)])
    loss = masked_rollout_loss(f_all, t.targets, t.masks, t.weights)
    m = torch.cat([mask.expand_as(f), torch.zeros_like(g_pred)]).bool()
    target = torch.cat([torch.where(mask.expand_as(p).bool(), y, p), g_pred])
    sq = (f_all - target) ** 2
    torch.testing.assert_close(loss, 1.0 * sq[m].mean() + 0.5 * sq[~m].mean(), rtol=1e-5, atol=1e-7)


def test_predictions_used_as_targets_are_detached():
    p = torch.randn(2, 2, 1, 8, requires_grad=True)
    y = torch.randn(2, 2, 1, 8)
    mask = torch.ones(2, 2, 1, 8)
    x0 = torch.zeros(2, 1, 8)
    for t in (full_targets(x0, p), mixed_targets(x0, p, y, mask, 0.5),
              cooperative_targets(x0, p, y, mask, 1.0, 1.0), ghost_targets(x0, p, 0.5)):
        assert not t.targets.requires_grad
        assert t.targets.grad_fn is None


def test_ghost_targets_carry_the_interaction_weight_and_concatenate():
    x0 = torch.zeros(2, 1, 8)
    a = full_targets(x0, torch.ones(2, 3, 1, 8))
    b = ghost_targets(x0, torch.zeros(2, 3, 1, 8), lambda_int=0.5)
    both = a.cat(b)
    assert both.targets.shape[0] == 4
    assert torch.equal(both.weights[:2], torch.ones(2, 3, 1, 8))
    assert torch.equal(both.weights[2:], torch.full((2, 3, 1, 8), 0.5))


def test_alpha_schedules():
    assert alpha_at(0, 5, 0.8, 0.2, "constant") == 0.8
    assert alpha_at(4, 5, 0.8, 0.2, "constant") == 0.8
    values = [alpha_at(r, 5, 0.8, 0.2, "linear") for r in range(5)]
    assert values == pytest.approx([0.8, 0.65, 0.5, 0.35, 0.2])
    assert alpha_at(0, 1, 0.8, 0.2, "linear") == 0.8
