"""A neural field: an MLP from a point of space and time to the fields there, ``(x[, y][, t]) -> u``.

The synthetic player of the HYCO papers: fitted to scattered observations of one trajectory (or of
one static solution) and queryable at any point, so its disagreement with the physical model can
be measured on ghost points anywhere. Inputs are the coordinates and, for a time-dependent
problem, the time; with ``normalise`` they are mapped to ``[-1, 1]`` (space, from the domain's
box) and ``[0, 1]`` (time, from the horizon) before the first layer. ``share: true`` reuses one
hidden-to-hidden layer for every hidden layer after the first (the static papers' "ResNet block",
which applies one 256 x 256 layer twice); ``skip: true`` adds that block's skip connection, as the
authors' ``ResNetSynthetic`` does: ``h <- act(act(L(act(L(h)))) + h)`` then one more ``act`` (the loop's),
which only matters for an activation that is not idempotent (tanh). Weights Xavier-uniform (the
heat authors' init; ``init: lecun_normal`` is flax's default, the static authors'), biases zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List

import torch
from torch import nn

from hyco.config.schema import Choice, ranged
from hyco.synthetic.registry import register_network


class FieldInit(Choice):
    xavier_uniform = "xavier_uniform"  # torch.nn.init.xavier_uniform_ (the heat papers' code)
    lecun_normal = "lecun_normal"  # N(0, 1 / fan_in): flax's default (the static papers' code)


class FieldActivation(Choice):
    relu = "relu"
    tanh = "tanh"
    gelu = "gelu"
    silu = "silu"


_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU}


@dataclass
class FieldMLPConfig:
    """The knobs of ``synthetic.field_mlp``."""

    hidden: List[int] = ranged([256, 256, 256], 1)  # widths of the hidden layers
    activation: FieldActivation = FieldActivation.relu
    share: bool = False  # one hidden-to-hidden layer reused after the first (needs equal widths)
    skip: bool = False  # a skip connection around the hidden layers (the static papers' ResNet block)
    init: FieldInit = FieldInit.xavier_uniform
    normalise_space: bool = False  # map the coordinates to [-1, 1] from the domain's box
    normalise_time: bool = True  # map the time to [0, 1] from the horizon


@register_network("field_mlp", config=FieldMLPConfig, kind="field")
class FieldMLP(nn.Module):
    """``[N, dim (+1)] -> [N, out_channels]`` (module docstring).

    Parameters
    ----------
    dim
        Spatial dimensions; ``in_channels`` is ``dim + 1`` with time, ``dim`` without.
    lower, size, horizon
        The domain's box (its lower corner per axis and edge length) and the time horizon, for
        the input normalisation (set by the platform from the physical model).
    """

    residual = False

    def __init__(self, dim: int, in_channels: int, out_channels: int, hidden: List[int], activation: str = "relu",
                 share: bool = False, normalise_space: bool = False, normalise_time: bool = True,
                 lower: Any = None, size: float = 1.0, horizon: float = 1.0, skip: bool = False,
                 init: str = "xavier_uniform") -> None:
        super().__init__()
        if in_channels not in (dim, dim + 1):
            raise ValueError(f"FieldMLP: in_channels must be dim or dim + 1 (with time), got {in_channels} "
                             f"for dim {dim}")
        if not hidden or any(int(w) < 1 for w in hidden):
            raise ValueError(f"synthetic.field_mlp.hidden: one or more widths >= 1, got {list(hidden)}")
        if share and len(set(int(w) for w in hidden)) != 1:
            raise ValueError(f"synthetic.field_mlp.share: needs equal hidden widths, got {list(hidden)}")
        self.dim, self.in_channels, self.out_channels = dim, in_channels, out_channels
        self.timed = in_channels == dim + 1
        widths = [int(w) for w in hidden]
        act = _ACTIVATIONS[str(getattr(activation, "value", activation))]
        self.first = nn.Linear(in_channels, widths[0])
        self.hidden = nn.ModuleList()
        if share and len(widths) > 1:
            self.hidden.append(nn.Linear(widths[0], widths[0]))
            self.repeats = len(widths) - 1
        else:
            self.hidden.extend(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
            self.repeats = 1
        self.head = nn.Linear(widths[-1], out_channels)
        self.act = act()
        if skip and (len(widths) < 2 or len(set(widths)) != 1):
            raise ValueError(f"synthetic.field_mlp.skip: needs two or more equal hidden widths, got {list(hidden)}")
        self.skip = bool(skip)
        init = str(getattr(init, "value", init))
        if init not in ("xavier_uniform", "lecun_normal"):
            raise ValueError(f"synthetic.field_mlp.init: xavier_uniform or lecun_normal, got {init!r}")
        for layer in [self.first, *self.hidden, self.head]:
            if init == "xavier_uniform":
                nn.init.xavier_uniform_(layer.weight)
            else:
                nn.init.normal_(layer.weight, std=layer.in_features ** -0.5)
            nn.init.zeros_(layer.bias)
        lower = [0.0] * dim if lower is None else [float(v) for v in lower]
        scale = torch.ones(in_channels)
        shift = torch.zeros(in_channels)
        if normalise_space:  # [lower, lower + size] -> [-1, 1]
            scale[:dim] = 2.0 / float(size)
            shift[:dim] = torch.tensor([-1.0 - 2.0 * v / float(size) for v in lower])
        if self.timed and normalise_time:  # [0, horizon] -> [0, 1]
            scale[dim] = 1.0 / max(float(horizon), 1e-30)
        self.register_buffer("scale", scale)
        self.register_buffer("shift", shift)

    @classmethod
    def from_config(cls, cfg: Any, dim: int, in_channels: int, out_channels: int) -> "FieldMLP":
        return cls(dim, in_channels, out_channels, list(cfg["hidden"]), cfg.get("activation", "relu"),
                   bool(cfg.get("share", False)), bool(cfg.get("normalise_space", False)),
                   bool(cfg.get("normalise_time", True)), cfg.get("lower"), float(cfg.get("size", 1.0)),
                   float(cfg.get("horizon", 1.0)), bool(cfg.get("skip", False)),
                   cfg.get("init", "xavier_uniform"))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        h = self.act(self.first(points * self.scale + self.shift))
        start = h
        steps = [layer for layer in self.hidden for _ in range(self.repeats)]
        for k, layer in enumerate(steps):
            h = layer(h)
            if self.skip and k == len(steps) - 1:  # the block's skip, then the authors' loop activation
                h = self.act(self.act(h + start))
            else:
                h = self.act(h)
        return self.head(h)
