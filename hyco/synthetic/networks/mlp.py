"""A multilayer perceptron on the state vector: the forecaster of states without spatial axes.

For an ODE system (``physics.dim: 0``) the state is ``[B, C]`` and the network maps it to the next
state (``residual``: ``u_{t+1} = u_t + net(u_t)``, the head zero-initialised so that an untrained
network is the persistence forecast); inside APHYNITY it is ``F_a``, the correction
(APHYNITY's pendulum: two hidden layers of 200 ReLU units, orthogonal weights of gain 0.2). On a
grid (``[B, C, *spatial]``) it acts on every cell alone, as a stack of 1×1 convolutions: a
pointwise map of the local state, no spatial coupling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from hyco.config.schema import Choice, ranged
from hyco.core.plain import value_of
from hyco.synthetic.registry import register_network

__all__ = ["MLP", "MLPConfig"]

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}


class MLPActivation(Choice):
    relu = "relu"
    gelu = "gelu"
    silu = "silu"
    tanh = "tanh"


@dataclass
class MLPConfig:
    """The MLP's knobs, node ``synthetic.mlp`` (see :class:`MLP`)."""

    hidden: int = ranged(200, 1)  # units per hidden layer
    layers: int = ranged(2, 1)  # hidden layers
    activation: MLPActivation = MLPActivation.relu
    residual: bool = True  # predict u_{t+1} = u_t + net(u_t)
    init_gain: float = ranged(0.0, 0.0)  # orthogonal weights of this gain (APHYNITY: 0.2); 0: torch's default


@register_network("mlp", config=MLPConfig)
class MLP(nn.Module):
    """``[B, C_in(, *spatial)] -> [B, C_out(, *spatial)]``, pointwise over the cells.

    Parameters
    ----------
    dim : int
        Spatial dimensions of the state (0 for an ODE system).
    in_channels, out_channels : int
        With ``residual`` the first ``out_channels`` inputs are the state carried forward.
    hidden, layers : int
        Width and number of hidden layers.
    activation : str
        ``relu`` | ``gelu`` | ``silu`` | ``tanh``.
    residual : bool
        Add the input state to the output; the head is then zero-initialised.
    init_gain : float
        Orthogonal initialisation of the hidden weights with this gain (biases zero); 0 keeps
        torch's default initialisation.
    """

    def __init__(self, dim: int, in_channels: int, out_channels: int, hidden: int = 200, layers: int = 2,
                 activation: str = "relu", residual: bool = True, init_gain: float = 0.0) -> None:
        super().__init__()
        key = str(activation).lower()
        if key not in _ACTIVATIONS:
            raise ValueError(f"synthetic.mlp.activation: unknown '{activation}'; choose from {sorted(_ACTIVATIONS)}")
        if residual and in_channels < out_channels:
            raise ValueError(f"MLP: residual=True needs in_channels >= out_channels, got {in_channels} < "
                             f"{out_channels}")
        self.dim, self.in_channels, self.out_channels, self.residual = dim, in_channels, out_channels, bool(residual)
        widths = [in_channels] + [int(hidden)] * int(layers)
        body = []
        for a, b in zip(widths[:-1], widths[1:]):
            linear = nn.Linear(a, b)
            if init_gain > 0:
                nn.init.orthogonal_(linear.weight, gain=float(init_gain))
                nn.init.zeros_(linear.bias)
            body += [linear, _ACTIVATIONS[key]()]
        self.body = nn.Sequential(*body)
        self.head = nn.Linear(widths[-1], out_channels)
        if self.residual:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        elif init_gain > 0:
            nn.init.orthogonal_(self.head.weight, gain=float(init_gain))
            nn.init.zeros_(self.head.bias)

    @classmethod
    def from_config(cls, cfg: Any, dim: int, in_channels: int, out_channels: int) -> "MLP":
        """Build from the ``synthetic.mlp`` node (:class:`MLPConfig`, a DictConfig or a dict)."""
        return cls(dim, in_channels, out_channels, hidden=int(value_of(cfg, "hidden", 200)),
                   layers=int(value_of(cfg, "layers", 2)), activation=str(value_of(cfg, "activation", "relu")),
                   residual=bool(value_of(cfg, "residual", True)), init_gain=float(value_of(cfg, "init_gain", 0.0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != self.dim + 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"MLP: expected input [B, {self.in_channels}{', N' * self.dim}], got {list(x.shape)}")
        h = x.movedim(1, -1)  # channels last: the linear layers act on every cell alone
        out = self.head(self.body(h)).movedim(-1, 1)
        if self.residual:
            out = x[:, : self.out_channels] + out
        return out
