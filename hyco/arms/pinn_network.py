"""The PINN's coordinate network ``(x, t, simulation) -> fields`` and its training points.

Conditioning on the simulation: a learned embedding (one code vector per training simulation,
concatenated to the encoded coordinates) rather than one network per simulation. The PDE, and so
most of the map from coordinates to fields, is shared across simulations: one network learns it
once from all of them, its size grows by ``pinn_embedding_dim`` numbers per simulation instead
of a whole network, and every step is one batched forward pass over points of all simulations.
The price is a coupling: a simulation's reconstruction can be pulled towards the others'.

Coordinate encoding: coordinates are scaled to ``[0, 1]`` (space by the box, time by the
trajectory's duration). A periodic axis enters only through ``sin, cos(2π k s)``, ``k = 1..K``
(``K = max(1, pinn_fourier_features)``): the network is then exactly periodic and needs no
boundary loss. A walled axis and time enter as ``2s - 1`` plus, when ``K > 0``, the
deterministic features ``sin, cos(π k s)`` (Fourier features, Tancik et al., NeurIPS 2020,
here with fixed integer frequencies so nothing random enters the architecture). ``tanh``
activations: the residual needs second derivatives, which ReLU networks do not have. A static
problem (``timed=False``) has no time input. ``share`` reuses one hidden-to-hidden layer and
``skip`` adds the static papers' ResNet block around the hidden layers (as the neural field's
``skip``, :mod:`hyco.synthetic.networks.field_mlp`); ``init=lecun_normal`` draws weights from
``N(0, 1/fan_in)`` with zero biases (flax's default, the static authors') instead of torch's default.

:meth:`CoordinateNetwork.jet` propagates the first derivatives and the unmixed second derivatives
along with the values (Taylor mode: every layer acts on the value and its ``2 D`` derivative
directions at once, one matrix product), which a residual of second order needs; it costs about as
much as five forward passes, where autograd's reverse-over-reverse pays a graph per derivative.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn


class CoordinateNetwork(nn.Module):
    """MLP on encoded ``(x, t)`` plus a per-simulation code; outputs ``[N, channels]``.

    Parameters
    ----------
    periodic
        Per spatial axis, whether it is periodic.
    lower, size
        The box's lower corner per axis and its edge length.
    duration
        Time span of the trajectories (``(T - 1) dt``).
    channels
        Output channels (the dynamic fields' channels, in the model's order).
    num_sims
        Training simulations (rows of the embedding).
    hidden, layers, harmonics, embedding_dim
        Width, hidden layers, Fourier harmonics ``K`` and code length.
    seed
        Seeds the initial weights (nothing else in the network is random).
    """

    def __init__(self, periodic: Sequence[bool], lower: Sequence[float], size: float, duration: float,
                 channels: int, num_sims: int, hidden: int, layers: int, harmonics: int,
                 embedding_dim: int, seed: int, timed: bool = True, share: bool = False, skip: bool = False,
                 init: str = "default") -> None:
        super().__init__()
        self.timed = bool(timed)
        self.share, self.skip = bool(share), bool(skip)
        if self.skip and int(layers) < 2:
            raise ValueError(f"trainer.pinn.skip: a skip connection needs layers >= 2, got {layers}")
        if init not in ("default", "lecun_normal"):
            raise ValueError(f"trainer.pinn.init: default or lecun_normal, got {init!r}")
        self.periodic = [bool(p) for p in periodic]
        self.register_buffer("lower", torch.tensor([float(v) for v in lower]))
        self.size = float(size)
        self.duration = max(float(duration), 1e-12)
        self.harmonics = int(harmonics)
        width = 0
        for p in self.periodic:
            width += 2 * max(1, self.harmonics) if p else 1 + 2 * self.harmonics
        if self.timed:
            width += 1 + 2 * self.harmonics  # time
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.embedding = nn.Embedding(int(num_sims), int(embedding_dim))
            nn.init.normal_(self.embedding.weight, std=0.1)
            dims = [width + int(embedding_dim), *([int(hidden)] * int(layers)), int(channels)]
            if self.share and int(layers) > 1:  # first, one shared hidden layer, head
                dims = [dims[0], int(hidden), int(hidden), int(channels)]
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
            if init == "lecun_normal":
                for layer in self.layers:
                    nn.init.normal_(layer.weight, std=layer.in_features ** -0.5)
                    nn.init.zeros_(layer.bias)
        # hidden layer applications after the first: layers - 1, all by one layer when shared
        self.repeats = int(layers) - 1

    def _walled(self, s: torch.Tensor) -> list:
        feats = [2 * s - 1]
        for k in range(1, self.harmonics + 1):
            feats += [torch.sin(math.pi * k * s), torch.cos(math.pi * k * s)]
        return feats

    def encode(self, coords: torch.Tensor) -> torch.Tensor:
        """``[N, dim + 1]`` coordinates (``[N, dim]`` untimed) -> ``[N, width]`` features."""
        feats = []
        for d, periodic in enumerate(self.periodic):
            s = (coords[:, d] - self.lower[d]) / self.size
            if periodic:
                for k in range(1, max(1, self.harmonics) + 1):
                    feats += [torch.sin(2 * math.pi * k * s), torch.cos(2 * math.pi * k * s)]
            else:
                feats += self._walled(s)
        if self.timed:
            feats += self._walled(coords[:, -1] / self.duration)
        return torch.stack(feats, dim=1)

    def _encode_jet(self, coords: torch.Tensor) -> torch.Tensor:
        """The encoding with its derivatives: ``[N, 1 + 2 D, width]`` (value; ``d/dx_d``; ``d^2/dx_d^2``),
        ``D`` = the coordinates' columns. Every feature depends on one coordinate."""
        n, dims = coords.shape
        columns = []  # (value, first, second, axis) per feature

        def walled(s: torch.Tensor, scale: float, axis: int) -> None:
            columns.append((2 * s - 1, torch.full_like(s, 2.0 * scale), torch.zeros_like(s), axis))
            for k in range(1, self.harmonics + 1):
                w = math.pi * k
                sin, cos = torch.sin(w * s), torch.cos(w * s)
                columns.append((sin, w * scale * cos, -(w * scale) ** 2 * sin, axis))
                columns.append((cos, -w * scale * sin, -(w * scale) ** 2 * cos, axis))

        for d, periodic in enumerate(self.periodic):
            s = (coords[:, d] - self.lower[d]) / self.size
            if periodic:
                for k in range(1, max(1, self.harmonics) + 1):
                    w = 2 * math.pi * k / self.size
                    sin, cos = torch.sin(w * self.size * s), torch.cos(w * self.size * s)
                    columns.append((sin, w * cos, -w * w * sin, d))
                    columns.append((cos, -w * sin, -w * w * cos, d))
            else:
                walled(s, 1.0 / self.size, d)
        if self.timed:
            walled(coords[:, -1] / self.duration, 1.0 / self.duration, dims - 1)
        out = coords.new_zeros(n, 1 + 2 * dims, len(columns))
        for j, (value, first, second, axis) in enumerate(columns):
            out[:, 0, j] = value
            out[:, 1 + axis, j] = first
            out[:, 1 + dims + axis, j] = second
        return out

    @staticmethod
    def _linear_jet(layer: nn.Linear, jet: tuple) -> tuple:
        value, first, second = jet
        dims = first.shape[1]
        # one matrix product for the value and every derivative direction (the bias shifts only the value)
        out = torch.cat([value[:, None], first, second], dim=1) @ layer.weight.T
        value, first, second = torch.split(out, [1, dims, dims], dim=1)
        return value[:, 0] + layer.bias, first, second

    @staticmethod
    def _tanh_jet(jet: tuple) -> tuple:
        value, first, second = jet
        t = torch.tanh(value)
        dt = (1 - t * t)[:, None]
        return t, dt * first, (-2 * t)[:, None] * dt * first * first + dt * second

    def jet(self, coords: torch.Tensor, sims: torch.Tensor):
        """The network's values ``[N, C]`` with their first derivatives ``[N, C, D]`` and unmixed
        second derivatives ``[N, C, D]`` along the ``D`` coordinate columns (module docstring),
        differentiable in the weights."""
        dims = coords.shape[1]
        code = self.embedding(sims)  # constant in the coordinates
        x = self._encode_jet(coords)
        zeros = x.new_zeros(x.shape[0], dims, code.shape[1])
        jet = (torch.cat([x[:, 0], code], dim=1), torch.cat([x[:, 1:1 + dims], zeros], dim=2),
               torch.cat([x[:, 1 + dims:], zeros], dim=2))
        h = self._tanh_jet(self._linear_jet(self.layers[0], jet))
        start = h
        hidden = [self.layers[1] if self.share else self.layers[1 + k] for k in range(self.repeats)]
        for k, layer in enumerate(hidden):
            h = self._linear_jet(layer, h)
            if self.skip and k == len(hidden) - 1:
                h = self._tanh_jet(self._tanh_jet(tuple(a + b for a, b in zip(h, start))))
            else:
                h = self._tanh_jet(h)
        value, first, second = self._linear_jet(self.layers[-1], h)
        return value, first.transpose(1, 2), second.transpose(1, 2)

    def forward(self, coords: torch.Tensor, sims: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.layers[0](torch.cat([self.encode(coords), self.embedding(sims)], dim=1)))
        start = h
        hidden = [self.layers[1] if self.share else self.layers[1 + k] for k in range(self.repeats)]
        for k, layer in enumerate(hidden):
            h = layer(h)
            if self.skip and k == len(hidden) - 1:  # the block's skip, then the authors' loop activation
                h = torch.tanh(torch.tanh(h + start))
            else:
                h = torch.tanh(h)
        return self.layers[-1](h)
