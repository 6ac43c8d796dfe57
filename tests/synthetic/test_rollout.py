"""Autoregressive rollout and the masked loss."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from hyco.synthetic import build_network, masked_rollout_loss, rollout


class _Scale(nn.Module):
    def forward(self, x):
        return 2.0 * x


class _AddStatic(nn.Module):
    """[state (C), static (C)] -> state + static; fails if the static channels are missing."""

    def __init__(self, c: int):
        super().__init__()
        self.c = c

    def forward(self, x):
        assert x.shape[1] == 2 * self.c
        return x[:, : self.c] + x[:, self.c :]


def test_rollout_shape_and_values():
    x = torch.randn(3, 2, 8)
    out = rollout(_Scale(), x, steps=3)
    assert out.shape == (3, 3, 2, 8)
    for k in range(3):
        assert torch.allclose(out[:, k], x * 2.0 ** (k + 1))


def test_rollout_reappends_static_channels_every_step():
    x, s = torch.randn(2, 2, 4, 4), torch.randn(1, 2, 4, 4)  # static broadcast over the batch
    out = rollout(_AddStatic(2), x, steps=4, static=s)
    assert out.shape == (2, 4, 2, 4, 4)
    for k in range(4):
        assert torch.allclose(out[:, k], x + (k + 1) * s, atol=1e-6)


def test_rollout_with_unet_and_static_is_persistence_at_init():
    net = build_network({"name": "unet", "unet": {"levels": 1, "filters": 4, "residual": True}}, 2, 3, 2, seed=0)
    x, nu = torch.randn(2, 2, 8, 8), torch.rand(2, 1, 8, 8)
    out = rollout(net, x, steps=3, static=nu)
    assert torch.equal(out, x.unsqueeze(1).expand(2, 3, 2, 8, 8))


def test_rollout_errors():
    with pytest.raises(ValueError, match="state shape"):
        rollout(nn.Conv1d(2, 1, 1), torch.randn(1, 2, 8), steps=1)
    with pytest.raises(ValueError, match="static"):
        rollout(_Scale(), torch.randn(1, 2, 8), steps=1, static=torch.randn(1, 1, 4))
    with pytest.raises(ValueError, match="steps"):
        rollout(_Scale(), torch.randn(1, 2, 8), steps=0)


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(2, 3, 2, 5, generator=g)  # [B, K, C, x]
    targ = torch.randn(2, 3, 2, 5, generator=g)
    mask = (torch.rand(2, 3, 1, 5, generator=g) > 0.5).to(torch.uint8)
    mask[0, 0, 0, 0] = 1
    return pred, targ, mask


def test_masked_loss_matches_hand_computation():
    pred, targ, mask = _data()
    p, t, m = pred.numpy(), targ.numpy(), mask.numpy().astype(float)
    expected = ((p - t) ** 2 * m).sum() / (m.sum() * p.shape[2])
    assert masked_rollout_loss(pred, targ, mask).item() == pytest.approx(expected, rel=1e-6)
    # a tiny explicit case: one observed point, two channels
    pr = torch.tensor([[[[1.0, 5.0]], [[3.0, 7.0]]]]).permute(0, 2, 1, 3)  # [1, 1, 2, 2]
    tg = torch.zeros_like(pr)
    mk = torch.tensor([[[[1, 0]]]])
    assert masked_rollout_loss(pr, tg, mk).item() == pytest.approx((1.0**2 + 3.0**2) / 2)


def test_masked_loss_ignores_unobserved_points():
    pred, targ, mask = _data()
    base = masked_rollout_loss(pred, targ, mask)
    poisoned = torch.where(mask.bool().expand_as(targ), targ, torch.full_like(targ, float("nan")))
    assert torch.equal(masked_rollout_loss(pred, poisoned, mask), base)
    pred = pred.clone().requires_grad_(True)
    masked_rollout_loss(pred, poisoned, mask).backward()
    assert torch.isfinite(pred.grad).all()
    assert (pred.grad[~mask.bool().expand_as(pred)] == 0).all()


def test_masked_loss_is_zero_without_observations_and_warning_free():
    pred, targ, _ = _data()
    pred.requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = masked_rollout_loss(pred, targ, torch.zeros(2, 3, 1, 5, dtype=torch.bool))
        loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_masked_loss_weights_and_per_channel_masks():
    pred, targ, mask = _data()
    w = torch.rand(1, 3, 1, 1)  # e.g. a weight per rollout step
    p, t, m, wn = pred.numpy(), targ.numpy(), mask.numpy().astype(float), w.numpy()
    expected = (wn * (p - t) ** 2 * m).sum() / (m.sum() * 2)
    assert masked_rollout_loss(pred, targ, mask, weights=w).item() == pytest.approx(expected, rel=1e-6)
    full = mask.expand(2, 3, 2, 5).clone()
    assert masked_rollout_loss(pred, targ, full).item() == pytest.approx(masked_rollout_loss(pred, targ, mask).item())
    assert np.isclose(masked_rollout_loss(pred, targ, torch.ones(1)).item(), ((p - t) ** 2).mean())


def test_masked_loss_shape_errors():
    pred, targ, mask = _data()
    with pytest.raises(ValueError, match="differ in shape"):
        masked_rollout_loss(pred, targ[:, :2], mask)
    with pytest.raises(ValueError, match="do not broadcast"):
        masked_rollout_loss(pred, targ, mask[..., :3])
