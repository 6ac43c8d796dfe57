"""A small UNet for 1D and 2D fields ``[B, C, *spatial]`` that predicts the next state.

Layout (``levels = L``, ``filters = f``)::

    stem    ConvBlock(in -> f)                                  at N
    down i  Down(f_{i-1}) -> ConvBlock(f_{i-1} -> f_i)           at N / 2^i,  f_i = f * 2^i
    up i    Upsample(x2) -> Conv(f_i -> f_{i-1}) -> concat skip -> ConvBlock(2 f_{i-1} -> f_{i-1})
    head    1x1 Conv(f -> out)

With ``padding='circular'`` every convolution wraps around, every down/up-sampling acts on
aligned pairs of cells, so the network commutes with periodic shifts by multiples of ``2^L``
cells (the coarsest grid moves by whole cells) — exactly, on grids whose sizes are multiples
of ``2^L``. No normalisation layers: predictions of one sample never depend on the other
samples of the batch.

Sizes that are not multiples of ``2^L`` (a walled staggered state is ``N + 1`` per axis, 33 x 33
at 32^2): the input is padded at the upper end of each axis up to the next multiple with the
configured padding (zeros, replicate, reflect; circular wraps around) and the output is
cropped back. The network is then a function of the original sizes, but the padded cells are
not part of the domain: with circular padding on such a grid the shift equivariance above no
longer holds exactly (the wrap-around sees the padding), which is why periodic problems should
keep sizes divisible by ``2^L``. Only ``2^L`` larger than the smallest axis is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List

import torch
from torch import nn

from hyco.config.schema import Choice, ranged
from hyco.core.plain import value_of
from hyco.synthetic.registry import register_network

__all__ = ["ACTIVATIONS", "DOWNSAMPLING", "PADDING_MODES", "UNet", "UNetConfig"]

ACTIVATIONS: Dict[str, Callable[[], nn.Module]] = {
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}
#: accepted padding names -> torch ``padding_mode``; 'periodic' is an alias of 'circular'
PADDING_MODES: Dict[str, str] = {
    "circular": "circular",
    "periodic": "circular",
    # 'auto' is resolved from the physics' boundaries (hyco.training.networks.network_spec);
    # a network built without a physical model (a unit test, a notebook) pads periodically
    "auto": "circular",
    "zeros": "zeros",
    "reflect": "reflect",
    "replicate": "replicate",
}
DOWNSAMPLING = ("conv", "avgpool")

_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_AVGPOOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d}


class Activation(Choice):
    gelu = "gelu"
    relu = "relu"
    silu = "silu"
    tanh = "tanh"


class Padding(Choice):
    auto = "auto"  # from the physics' boundaries: circular when periodic, zeros with walls
    circular = "circular"
    periodic = "periodic"
    zeros = "zeros"
    reflect = "reflect"
    replicate = "replicate"


class Downsample(Choice):
    conv = "conv"  # learned stride-2 convolution (kernel 2)
    avgpool = "avgpool"  # 2x average pooling


@dataclass
class UNetConfig:
    """The UNet's knobs, node ``synthetic.unet`` (see :class:`UNet`)."""

    levels: int = ranged(2, 0)
    filters: int = ranged(16, 1)
    kernel_size: int = ranged(3, 1)
    activation: Activation = Activation.gelu
    padding: Padding = Padding.auto
    residual: bool = True  # predict u_{t+1} = u_t + net(u_t)
    downsample: Downsample = Downsample.conv


def _activation(name: str) -> nn.Module:
    key = str(name).lower()
    if key not in ACTIVATIONS:
        raise ValueError(f"synthetic.unet.activation: unknown activation '{name}'; choose from {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[key]()


class _ConvBlock(nn.Module):
    """Two 'same'-size convolutions, each followed by the activation."""

    def __init__(self, dim: int, c_in: int, c_out: int, kernel_size: int, padding_mode: str, activation: str):
        super().__init__()
        conv = _CONV[dim]
        pad = kernel_size // 2
        self.body = nn.Sequential(
            conv(c_in, c_out, kernel_size, padding=pad, padding_mode=padding_mode),
            _activation(activation),
            conv(c_out, c_out, kernel_size, padding=pad, padding_mode=padding_mode),
            _activation(activation),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def check_grid(spec: Any, sample_shape: tuple) -> None:
    """Refuse a UNet deeper than the state's smallest axis. Sizes that are not multiples of
    ``2**levels`` (a walled staggered state is ``N + 1`` per axis) are padded inside the network."""
    levels = int(spec.config.get("levels", 2))
    if levels > 0 and min(sample_shape) < 2 ** levels:
        raise ValueError(f"synthetic.unet.levels: a UNet of depth {levels} halves the grid {levels} times, so every "
                         f"axis needs at least {2 ** levels} samples; the state is {list(sample_shape)}. Lower "
                         f"synthetic.unet.levels or raise physics.resolution")


@register_network("unet", config=UNetConfig, check=check_grid)
class UNet(nn.Module):
    """UNet for 1D or 2D fields, optionally residual (``u_{t+1} = u_t + net(u_t)``).

    Parameters
    ----------
    dim : int
        Spatial dimensions, 1 (Conv1d) or 2 (Conv2d).
    in_channels, out_channels : int
        Channels of input and output. With ``residual`` the first ``out_channels`` input
        channels are the state that is carried forward (static channels come after them).
    levels : int
        Number of down-sampling steps; ``2**levels`` must not exceed the smallest spatial size
        (other sizes are padded up to a multiple of ``2**levels`` inside the network).
    filters : int
        Channels at full resolution, doubled at each level.
    kernel_size : int
        Odd kernel size of the 'same' convolutions.
    activation : str
        ``gelu`` | ``relu`` | ``silu`` | ``tanh``.
    padding : str
        ``circular`` (periodic domains) | ``zeros`` | ``reflect`` | ``replicate``.
    residual : bool
        Add the input state to the output. The head is zero-initialised, so an untrained
        residual network is exactly the persistence forecast ``u_{t+1} = u_t``.
    downsample : str
        ``conv`` (learned stride-2 convolution, kernel 2) or ``avgpool`` (2x average pooling).
    """

    def __init__(
        self,
        dim: int,
        in_channels: int,
        out_channels: int,
        levels: int = 2,
        filters: int = 16,
        kernel_size: int = 3,
        activation: str = "gelu",
        padding: str = "circular",
        residual: bool = True,
        downsample: str = "conv",
    ) -> None:
        super().__init__()
        if dim not in _CONV:
            raise ValueError(f"UNet: dim must be 1 or 2, got {dim}")
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"UNet: channels must be >= 1, got in={in_channels}, out={out_channels}")
        if levels < 0:
            raise ValueError(f"synthetic.unet.levels: must be >= 0, got {levels}")
        if filters < 1:
            raise ValueError(f"synthetic.unet.filters: must be >= 1, got {filters}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"synthetic.unet.kernel_size: must be odd and >= 1 (size-preserving), got {kernel_size}")
        pad_key = str(padding).lower()
        if pad_key not in PADDING_MODES:
            raise ValueError(f"synthetic.unet.padding: unknown padding '{padding}'; "
                             f"choose from {sorted(PADDING_MODES)}")
        down_key = str(downsample).lower()
        if down_key not in DOWNSAMPLING:
            raise ValueError(f"synthetic.unet.downsample: unknown '{downsample}'; choose from {list(DOWNSAMPLING)}")
        if residual and in_channels < out_channels:
            raise ValueError(
                f"UNet: residual=True needs in_channels >= out_channels (the state is carried "
                f"forward), got in={in_channels}, out={out_channels}"
            )
        _activation(activation)  # fail at construction, not at the first forward pass
        self.dim, self.in_channels, self.out_channels = dim, in_channels, out_channels
        self.levels, self.residual = levels, bool(residual)
        self.padding_mode = PADDING_MODES[pad_key]
        conv = _CONV[dim]
        widths = [filters * 2**i for i in range(levels + 1)]
        block = lambda c_in, c_out: _ConvBlock(dim, c_in, c_out, kernel_size, self.padding_mode, activation)  # noqa: E731

        self.stem = block(in_channels, widths[0])
        self.down = nn.ModuleList()
        self.enc = nn.ModuleList()
        for i in range(1, levels + 1):
            # kernel 2 / stride 2 needs no padding and acts on aligned cell pairs: exact shift-equivariance
            self.down.append(conv(widths[i - 1], widths[i - 1], 2, stride=2) if down_key == "conv"
                             else _AVGPOOL[dim](2))
            self.enc.append(block(widths[i - 1], widths[i]))
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in range(levels, 0, -1):
            # Upsample + conv rather than a transposed conv: no checkerboard artefacts
            self.up.append(
                nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    conv(widths[i], widths[i - 1], kernel_size, padding=kernel_size // 2,
                         padding_mode=self.padding_mode),
                )
            )
            self.dec.append(block(2 * widths[i - 1], widths[i - 1]))
        self.head = conv(widths[0], out_channels, 1)
        if self.residual:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    @classmethod
    def from_config(cls, cfg: Any, dim: int, in_channels: int, out_channels: int) -> "UNet":
        """Build from the ``synthetic.unet`` node (:class:`UNetConfig`, a DictConfig or a dict)."""
        return cls(
            dim=dim,
            in_channels=in_channels,
            out_channels=out_channels,
            levels=int(value_of(cfg, "levels", 2)),
            filters=int(value_of(cfg, "filters", 16)),
            kernel_size=int(value_of(cfg, "kernel_size", 3)),
            activation=str(value_of(cfg, "activation", "gelu")),
            padding=str(value_of(cfg, "padding", "circular")),
            residual=bool(value_of(cfg, "residual", True)),
            downsample=str(value_of(cfg, "downsample", "conv")),
        )

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` is ``[B, in_channels, *spatial]`` with every size at
        least ``2**levels``."""
        if x.ndim != self.dim + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"UNet: expected input [B, {self.in_channels}, {', '.join(['N'] * self.dim)}], got {list(x.shape)}"
            )
        factor = 2**self.levels
        if min(x.shape[2:]) < factor:
            raise ValueError(
                f"UNet: spatial sizes {list(x.shape[2:])} must be at least 2**levels = {factor} "
                f"(levels={self.levels}); lower synthetic.levels or raise the resolution"
            )

    def _pad_to_multiple(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` padded at the upper end of each axis to a multiple of ``2**levels`` (the
        configured padding; ``zeros`` pads with zeros)."""
        factor = 2**self.levels
        pads: List[int] = []
        for n in reversed(x.shape[2:]):
            pads += [0, -n % factor]
        if not any(pads):
            return x
        mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
        return nn.functional.pad(x, pads, mode=mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        size = x.shape[2:]
        h = self.stem(self._pad_to_multiple(x))
        skips: List[torch.Tensor] = [h]
        for down, enc in zip(self.down, self.enc):
            h = enc(down(h))
            skips.append(h)
        skips.pop()  # the bottleneck output is h itself
        for up, dec in zip(self.up, self.dec):
            h = dec(torch.cat([up(h), skips.pop()], dim=1))
        out = self.head(h)[(slice(None), slice(None), *(slice(0, n) for n in size))]
        if self.residual:
            out = x[:, : self.out_channels] + out
        return out

