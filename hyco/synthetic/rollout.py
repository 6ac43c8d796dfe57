"""Autoregressive rollouts of a one-step network and the masked loss on observed points."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

__all__ = ["masked_rollout_loss", "rollout"]


def rollout(
    model: nn.Module,
    initial_state: torch.Tensor,
    steps: int,
    static: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Roll ``model`` forward ``steps`` times from ``initial_state``.

    Parameters
    ----------
    model
        One-step map ``[B, C + C_static, *s] -> [B, C, *s]``.
    initial_state
        ``[B, C, *s]``, the dynamic state at the start (not included in the output).
    steps
        Number of predicted frames, >= 1.
    static
        Optional ``[B, C_static, *s]`` (or ``[1, C_static, *s]``, broadcast over the batch)
        channels appended to the state at every step, e.g. a known parameter field; the
        network never predicts them.

    Returns
    -------
    torch.Tensor
        ``[B, steps, C, *s]``, frame k is the prediction of time ``t0 + k + 1``. Gradients flow
        through the whole rollout (back-propagation through time).
    """
    if steps < 1:
        raise ValueError(f"rollout: steps must be >= 1, got {steps}")
    state = initial_state
    if static is not None:
        if static.ndim != state.ndim or static.shape[2:] != state.shape[2:]:
            raise ValueError(
                f"rollout: static {list(static.shape)} must be [B, C_static, *s] with the spatial "
                f"shape of the state {list(state.shape)}"
            )
        static = static.to(dtype=state.dtype).expand(state.shape[0], *static.shape[1:])
    frames = []
    for _ in range(steps):
        inputs = state if static is None else torch.cat([state, static], dim=1)
        nxt = model(inputs)
        if nxt.shape != state.shape:
            raise ValueError(
                f"rollout: the model maps {list(inputs.shape)} to {list(nxt.shape)}, but an "
                f"autoregressive rollout needs the state shape {list(state.shape)} back"
            )
        frames.append(nxt)
        state = nxt
    return torch.stack(frames, dim=1)


def masked_rollout_loss(
    predictions: torch.Tensor,
    targets: torch.Tensor,
    masks: torch.Tensor,
    weights: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Mean squared error over observed entries only.

    .. math::

        L = \\frac{\\sum_{b,k,c,x} w_{bkcx}\\, m_{bkx}\\, (p_{bkcx} - y_{bkcx})^2}
                 {\\sum_{b,k,c,x} m_{bkx}}

    i.e. the sum of masked squared errors divided by (number of observed points x C) when the
    mask is ``[B, K, 1, *s]`` (a per-channel mask ``[B, K, C, *s]`` is counted entry by entry).
    With binary masks and no weights this is exactly the MSE over the observed entries, so its
    scale does not depend on how much is observed. ``weights`` multiply each entry's squared
    error but do not enter the denominator: they re-weight contributions (e.g. loss weights
    per point or per step) without renormalising. When nothing is observed the loss is 0 (a
    differentiable zero, no division by zero, no warning).

    Parameters
    ----------
    predictions, targets
        ``[B, K, C, *s]``; ``targets`` may hold anything (e.g. 0) where unobserved.
    masks
        ``[B, K, 1, *s]`` (or anything broadcastable to ``predictions``); bool, uint8 or float,
        1 where observed. Fractional values act as soft masks.
    weights
        Optional per-point weights broadcastable to ``predictions``.

    Returns
    -------
    torch.Tensor
        0-d tensor.
    """
    if predictions.shape != targets.shape:
        raise ValueError(
            f"masked_rollout_loss: predictions {list(predictions.shape)} and targets "
            f"{list(targets.shape)} differ in shape"
        )
    try:
        torch.broadcast_shapes(masks.shape, predictions.shape)
        if weights is not None:
            torch.broadcast_shapes(weights.shape, predictions.shape)
    except RuntimeError as exc:
        raise ValueError(
            f"masked_rollout_loss: masks {list(masks.shape)}"
            + (f" / weights {list(weights.shape)}" if weights is not None else "")
            + f" do not broadcast to predictions {list(predictions.shape)}"
        ) from exc
    mask = masks.to(dtype=predictions.dtype)
    # where() cannot hold a NaN/inf target at an unobserved point: 0 * NaN would poison the sum
    diff = torch.where(mask.expand_as(predictions) > 0, predictions - targets, torch.zeros_like(predictions))
    sq = diff.square() * mask
    if weights is not None:
        sq = sq * weights.to(dtype=predictions.dtype)
    count = mask.expand_as(predictions).sum()
    # count == 0 implies the numerator is exactly 0; dividing by 1 keeps gradients finite
    return sq.sum() / torch.where(count > 0, count, torch.ones_like(count))
