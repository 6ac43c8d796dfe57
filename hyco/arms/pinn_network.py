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
activations: the residual needs second derivatives, which ReLU networks do not have.
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
                 embedding_dim: int, seed: int) -> None:
        super().__init__()
        self.periodic = [bool(p) for p in periodic]
        self.register_buffer("lower", torch.tensor([float(v) for v in lower]))
        self.size = float(size)
        self.duration = max(float(duration), 1e-12)
        self.harmonics = int(harmonics)
        width = 0
        for p in self.periodic:
            width += 2 * max(1, self.harmonics) if p else 1 + 2 * self.harmonics
        width += 1 + 2 * self.harmonics  # time
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.embedding = nn.Embedding(int(num_sims), int(embedding_dim))
            nn.init.normal_(self.embedding.weight, std=0.1)
            dims = [width + int(embedding_dim), *([int(hidden)] * int(layers)), int(channels)]
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def _walled(self, s: torch.Tensor) -> list:
        feats = [2 * s - 1]
        for k in range(1, self.harmonics + 1):
            feats += [torch.sin(math.pi * k * s), torch.cos(math.pi * k * s)]
        return feats

    def encode(self, coords: torch.Tensor) -> torch.Tensor:
        """``[N, dim + 1]`` coordinates -> ``[N, width]`` features."""
        feats = []
        for d, periodic in enumerate(self.periodic):
            s = (coords[:, d] - self.lower[d]) / self.size
            if periodic:
                for k in range(1, max(1, self.harmonics) + 1):
                    feats += [torch.sin(2 * math.pi * k * s), torch.cos(2 * math.pi * k * s)]
            else:
                feats += self._walled(s)
        feats += self._walled(coords[:, -1] / self.duration)
        return torch.stack(feats, dim=1)

    def forward(self, coords: torch.Tensor, sims: torch.Tensor) -> torch.Tensor:
        h = torch.cat([self.encode(coords), self.embedding(sims)], dim=1)
        for layer in self.layers[:-1]:
            h = torch.tanh(layer(h))
        return self.layers[-1](h)
