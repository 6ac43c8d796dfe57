"""APHYNITY's correction network ``F_a`` for fields on a grid (Yin et al., ICLR 2021, ``ConvNetEstimator``).

Layout (``layers = L``, ``hidden = h``, kernel ``k``)::

    L times   Conv(k, no bias) -> BatchNorm (batch statistics) -> ReLU      [c_in -> h -> ... -> h]
    head      Conv(k, with bias)                                            [h -> c_out]

The authors' batch normalisation keeps no running statistics (``track_running_stats=False``): in
training and in evaluation alike, every call normalises each hidden channel over the batch it is
given (all samples and all cells). So ``F_a`` at one sample depends on the other samples of the
call: inside an RK4 stage it sees the batch of windows at one time, in the penalty ``‖F_a‖²`` the
whole window at once (the authors' ``get_derivatives``), and two different batch compositions meet
the same network. And since each hidden channel is rescaled to unit variance over the call,
scaling every state of a call by one factor leaves the correction unchanged (down to the norm's
``eps``). ``norm: none`` drops the normalisation (and gives the hidden convolutions a bias), which
makes every sample's correction its own; on the reaction–diffusion benchmark it identifies no worse
(docs/aphynity.md).

The paper pads with zeros whatever the boundary (``padding: zeros``); ``auto`` takes the physics'
boundary instead (circular when periodic). Not residual: the output is the correction itself, and
the head starts at torch's default initialisation as in the authors' code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from hyco.config.schema import Choice, ranged
from hyco.core.plain import value_of
from hyco.synthetic.networks.unet import PADDING_MODES, Padding
from hyco.synthetic.registry import register_network

__all__ = ["AphynityNet", "AphynityNetConfig"]

_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_BATCHNORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}


class Norm(Choice):
    batch = "batch"  # the authors': batch statistics at every call, no running statistics
    none = "none"


@dataclass
class AphynityNetConfig:
    """The correction network's knobs, node ``synthetic.aphynity_net`` (see :class:`AphynityNet`)."""

    hidden: int = ranged(16, 1)  # channels of the hidden convolutions
    layers: int = ranged(2, 1)  # hidden convolutions (each followed by the norm and a ReLU)
    kernel_size: int = ranged(3, 1)
    norm: Norm = Norm.batch
    padding: Padding = Padding.zeros


def _check(spec: Any, sample_shape: tuple) -> None:
    if not sample_shape:
        raise ValueError("synthetic.name: aphynity_net convolves over spatial axes and this state has none (an ODE "
                         "system); use synthetic=mlp")


@register_network("aphynity_net", config=AphynityNetConfig, check=_check)
class AphynityNet(nn.Module):
    """``[B, C_in, *s] -> [B, C_out, *s]``: APHYNITY's convolutional ``F_a`` (module docstring).

    Parameters
    ----------
    dim : int
        Spatial dimensions, 1 or 2.
    in_channels, out_channels : int
        Channels of input and output (the output is a rate per field, not a next state).
    hidden, layers, kernel_size : int
        Width, number of hidden convolutions and their odd kernel size.
    norm : str
        ``batch`` (the authors': statistics of each call's batch) or ``none``.
    padding : str
        ``zeros`` (the authors') | ``circular`` | ``reflect`` | ``replicate``.
    """

    residual = False

    def __init__(self, dim: int, in_channels: int, out_channels: int, hidden: int = 16, layers: int = 2,
                 kernel_size: int = 3, norm: str = "batch", padding: str = "zeros") -> None:
        super().__init__()
        if dim not in _CONV:
            raise ValueError(f"AphynityNet: dim must be 1 or 2, got {dim}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"synthetic.aphynity_net.kernel_size: must be odd and >= 1 (size-preserving), got "
                             f"{kernel_size}")
        norm_key = str(norm).lower()
        if norm_key not in Norm.__members__:
            raise ValueError(f"synthetic.aphynity_net.norm: unknown '{norm}'; choose from {sorted(Norm.__members__)}")
        pad_key = str(padding).lower()
        if pad_key not in PADDING_MODES:
            raise ValueError(f"synthetic.aphynity_net.padding: unknown padding '{padding}'; "
                             f"choose from {sorted(PADDING_MODES)}")
        conv, mode, pad = _CONV[dim], PADDING_MODES[pad_key], kernel_size // 2
        self.dim, self.in_channels, self.out_channels = dim, in_channels, out_channels
        body = []
        widths = [in_channels] + [int(hidden)] * int(layers)
        for a, b in zip(widths[:-1], widths[1:]):
            # the norm's shift makes a bias redundant, as in the authors' code
            body.append(conv(a, b, kernel_size, padding=pad, padding_mode=mode, bias=norm_key == "none"))
            if norm_key == "batch":
                body.append(_BATCHNORM[dim](b, track_running_stats=False))
            body.append(nn.ReLU())
        self.body = nn.Sequential(*body)
        self.head = conv(widths[-1], out_channels, kernel_size, padding=pad, padding_mode=mode)

    @classmethod
    def from_config(cls, cfg: Any, dim: int, in_channels: int, out_channels: int) -> "AphynityNet":
        """Build from the ``synthetic.aphynity_net`` node (:class:`AphynityNetConfig`, a DictConfig or a dict)."""
        return cls(dim, in_channels, out_channels, hidden=int(value_of(cfg, "hidden", 16)),
                   layers=int(value_of(cfg, "layers", 2)), kernel_size=int(value_of(cfg, "kernel_size", 3)),
                   norm=str(value_of(cfg, "norm", "batch")), padding=str(value_of(cfg, "padding", "zeros")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != self.dim + 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"AphynityNet: expected input [B, {self.in_channels}{', N' * self.dim}], "
                             f"got {list(x.shape)}")
        return self.head(self.body(x))
