"""What each player trains on in a HYCO round: targets, masks and per-point weights.

All variants reduce to one weighted, masked rollout loss
``L(f) = sum(w * m * (f - t)^2) / sum(m)`` (see :func:`hyco.synthetic.rollout.masked_rollout_loss`)
with a different ``(t, m, w)``:

* ``full``: ``t = p`` (the other player's detached prediction) everywhere, ``w = 1``.
  Observations are never read: ground truth enters only through the initial conditions.
* ``mixed``: ``t = alpha * y + (1 - alpha) * p`` at observed points, ``t = p`` elsewhere.
  For a fixed ``p``, ``|f - (alpha y + (1-alpha) p)|^2 = alpha |f - y|^2 + (1-alpha) |f - p|^2
  - alpha (1-alpha) |y - p|^2``: at observed points ``mixed`` is the papers' two-term loss with
  ``lambda_data = alpha`` and ``lambda_int = 1 - alpha`` up to a constant, so it has the same
  gradients (``tests/training/test_targets.py`` checks this identity).
* ``cooperative`` (the papers' form ``J = lambda_data * L_data + lambda_int * I``): ``t = y`` at
  observed points, ``t = p`` at unobserved points and on ghost trajectories, and the weights make
  each term a *mean over its own points* (:func:`balance_terms`): ``L_data`` averages the observed
  points, ``I`` the unobserved and ghost points. Without this, a term's weight would scale with
  its share of points (three quarters of the domain unobserved would give the interaction three
  times the data term's say whatever ``lambda`` is).

Every target built from a prediction is detached: one player's prediction is data for the
other, never a path for gradients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch


@dataclass
class Targets:
    """A batch of rollout supervision: ``x0 [B,C,*s]``, ``targets``/``masks``/``weights`` ``[B,K,·,*s]``."""

    x0: torch.Tensor
    targets: torch.Tensor
    masks: torch.Tensor
    weights: Optional[torch.Tensor] = None
    data_points: Optional[torch.Tensor] = None  # 1 where the target is an observation (cooperative)

    def cat(self, other: "Targets") -> "Targets":
        """Concatenate two batches (weights default to ones where one side has none)."""
        def w(t: Targets) -> torch.Tensor:
            return t.weights if t.weights is not None else torch.ones_like(t.targets)
        def d(t: Targets) -> torch.Tensor:
            return t.data_points if t.data_points is not None else torch.zeros_like(t.targets)
        weights = None if self.weights is None and other.weights is None else torch.cat([w(self), w(other)])
        data = None if self.data_points is None and other.data_points is None else torch.cat([d(self), d(other)])
        return Targets(torch.cat([self.x0, other.x0]), torch.cat([self.targets, other.targets]),
                       torch.cat([self.masks, other.masks]), weights, data)

    def as_tuple(self) -> tuple:
        base = (self.x0, self.targets, self.masks)
        return base if self.weights is None else base + (self.weights,)


def _ones_mask(prediction: torch.Tensor) -> torch.Tensor:
    return torch.ones_like(prediction[:, :, :1])


def full_targets(x0: torch.Tensor, prediction: torch.Tensor) -> Targets:
    """``full``: the other player's prediction everywhere."""
    p = prediction.detach()
    return Targets(x0, p, _ones_mask(p))


def mixed_targets(x0: torch.Tensor, prediction: torch.Tensor, observed: torch.Tensor,
                  mask: torch.Tensor, alpha: float) -> Targets:
    """``mixed``: ``alpha * observed + (1 - alpha) * prediction`` where observed, prediction elsewhere."""
    p = prediction.detach()
    m = mask.to(p.dtype).expand_as(p)
    blended = m * (alpha * observed + (1.0 - alpha) * p) + (1.0 - m) * p
    return Targets(x0, blended, _ones_mask(p))


def cooperative_targets(x0: torch.Tensor, prediction: torch.Tensor, observed: torch.Tensor,
                        mask: torch.Tensor, lambda_data: float, lambda_int: float) -> Targets:
    """The papers' cost: data misfit (weight ``lambda_data``) at observed points, interaction with
    the other player (weight ``lambda_int``) at unobserved points."""
    p = prediction.detach()
    m = mask.to(p.dtype).expand_as(p)
    targets = m * observed + (1.0 - m) * p
    return balance_terms(Targets(x0, targets, _ones_mask(p), None, m), lambda_data, lambda_int)


def balance_terms(t: Targets, lambda_data: float, lambda_int: float) -> Targets:
    """Weights such that the masked loss equals ``lambda_data * mean over data points +
    lambda_int * mean over interaction points`` (call again after concatenating ghosts)."""
    data = t.data_points if t.data_points is not None else torch.zeros_like(t.targets)
    total = float(data.numel())
    n_data = float(data.sum())
    n_int = total - n_data
    w_data = lambda_data * total / n_data if n_data > 0 else 0.0
    w_int = lambda_int * total / n_int if n_int > 0 else 0.0
    return Targets(t.x0, t.targets, t.masks, data * w_data + (1.0 - data) * w_int, data)


def ghost_targets(x0: torch.Tensor, prediction: torch.Tensor, lambda_int: float = 1.0) -> Targets:
    """Interaction on ghost trajectories: no data exist there, only the other player's prediction."""
    p = prediction.detach()
    return Targets(x0, p, _ones_mask(p), torch.full_like(p, float(lambda_int)))


def alpha_at(round_index: int, rounds: int, alpha: float, alpha_end: float, schedule: str) -> float:
    """``alpha`` in effect at exchange round ``round_index`` (0-based) of ``rounds``.

    ``constant``: ``alpha``; ``linear``: from ``alpha`` at the first exchange round to
    ``alpha_end`` at the last.
    """
    if schedule == "constant" or rounds <= 1:
        return float(alpha)
    frac = min(max(round_index / (rounds - 1), 0.0), 1.0)
    return float(alpha + (alpha_end - alpha) * frac)


#: ``build(x0, prediction, observed, mask, alpha, lambda_data, lambda_int) -> Targets``
TargetBuilder = Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor], float, float,
                          float], Targets]


@dataclass(frozen=True)
class TargetRule:
    """How a hybrid arm builds one player's targets from the other player's prediction.

    Attributes
    ----------
    name
        The rule's name (the module docstring describes each).
    reads_observations
        Whether the targets use observations (``observed``/``mask`` are None for a rule without).
    build
        ``(x0, prediction, observed, mask, alpha, lambda_data, lambda_int) -> Targets``.
    balance_ghosts
        Re-weight after ghost trajectories join, so that the interaction term stays a mean over
        its own points (the cooperative form).
    """

    name: str
    reads_observations: bool
    build: TargetBuilder
    balance_ghosts: bool = False


FULL = TargetRule("full", False, lambda x0, p, observed, mask, alpha, l_data, l_int: full_targets(x0, p))
MIXED = TargetRule("mixed", True,
                   lambda x0, p, observed, mask, alpha, l_data, l_int: mixed_targets(x0, p, observed, mask, alpha))
COOPERATIVE = TargetRule(
    "cooperative", True,
    lambda x0, p, observed, mask, alpha, l_data, l_int: cooperative_targets(x0, p, observed, mask, l_data, l_int),
    balance_ghosts=True)
