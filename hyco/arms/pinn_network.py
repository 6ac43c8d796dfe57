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

:meth:`CoordinateNetwork.laplacian_jet` propagates the first derivatives and the Laplacian along
with the values (forward mode, the "forward Laplacian": every layer acts on the value, its ``D``
first derivatives and its Laplacian at once, one matrix product of ``D + 2`` rows per point), which an
isotropic second-order residual (``div(kappa grad u)``, ``Laplacian u``) needs. Carrying the Laplacian
instead of the ``D`` unmixed second derivatives saves ``D - 1`` rows in every layer: at ``D = 2``, 400
points and 256 units, forward and backward took 25-27 ms against the unmixed jet's 33-37 ms (one
thread, measured side by side; docs/static.md has the epochs); autograd's reverse-over-reverse pays a
graph per derivative. A static network's products run on oneDNN (:mod:`hyco.synthetic.gemm`); the
time-dependent PINN keeps ``F.linear``.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from hyco.synthetic.gemm import linear

#: a jet's rows: value ``[N, H]``, first derivatives ``[N, D, H]``, Laplacian ``[N, H]``
Jet = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]


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
        # a static problem's products on oneDNN's GEMM (hyco.synthetic.gemm: twice MKL's speed on the shared
        # machines' CPUs); the time-dependent PINN keeps F.linear, bit for bit as it was
        self._linear = F.linear if self.timed else linear

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
        """The encoding with its derivatives: ``[N, D + 2, width]`` (value; ``d/dx_d``; Laplacian),
        ``D`` = the coordinates' columns. Every feature depends on one coordinate, so its Laplacian
        is its second derivative along that coordinate."""
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
        out = coords.new_zeros(n, dims + 2, len(columns))
        for j, (value, first, second, axis) in enumerate(columns):
            out[:, 0, j] = value
            out[:, 1 + axis, j] = first
            out[:, 1 + dims, j] = second
        return out

    def _linear_jet(self, layer: nn.Linear, jet: torch.Tensor,
                    skip: Optional[Jet] = None) -> Jet:
        """``W jet (+ b)`` as its rows ``(value [N, out], first [N, D, out], laplacian [N, out])``: one
        matrix product for every row of ``jet [N, D + 2, in]`` (the bias shifts only the value), plus
        ``skip``'s rows. Rows are taken apart with ``split`` (its backward is one concatenation, where
        indexing would zero-fill a full-size gradient per row)."""
        dims = jet.shape[1] - 2
        value, first, laplacian = self._linear(jet, layer.weight).split([1, dims, 1], dim=1)
        value, laplacian = value.squeeze(1) + layer.bias, laplacian.squeeze(1)
        if skip is not None:
            value, first, laplacian = value + skip[0], first + skip[1], laplacian + skip[2]
        return value, first, laplacian

    @staticmethod
    def _tanh_jet(jet: Jet) -> Jet:
        """``tanh`` of a jet: ``d tanh(z) = tanh'(z) dz``, ``Lap tanh(z) = tanh'(z) Lap z + tanh''(z) |grad z|^2``."""
        value, first, laplacian = jet
        t = torch.tanh(value)
        dt = 1 - t * t
        return t, dt[:, None] * first, torch.addcmul(dt * laplacian, -2 * t * dt, (first * first).sum(1))

    @staticmethod
    def _rows(jet: Jet) -> torch.Tensor:
        """A jet's rows as one tensor ``[N, D + 2, H]``, the next layer's one matrix product."""
        value, first, laplacian = jet
        return torch.cat([value[:, None], first, laplacian[:, None]], dim=1)

    def laplacian_jet(self, coords: torch.Tensor, sims: torch.Tensor) -> Jet:
        """The network's values ``[N, C]`` with their first derivatives ``[N, C, D]`` and their
        Laplacians ``[N, C]`` over the ``D`` coordinate columns (module docstring), differentiable
        in the weights."""
        dims = coords.shape[1]
        code = self.embedding(sims)  # constant in the coordinates
        x = self._encode_jet(coords)
        jet = torch.cat([x, torch.cat([code[:, None], code.new_zeros(code.shape[0], dims + 1, code.shape[1])], 1)],
                        dim=2)
        h = self._tanh_jet(self._linear_jet(self.layers[0], jet))
        start = h
        hidden = [self.layers[1] if self.share else self.layers[1 + k] for k in range(self.repeats)]
        for k, layer in enumerate(hidden):
            if self.skip and k == len(hidden) - 1:  # the block's skip, then the authors' loop activation
                h = self._tanh_jet(self._tanh_jet(self._linear_jet(layer, self._rows(h), skip=start)))
            else:
                h = self._tanh_jet(self._linear_jet(layer, self._rows(h)))
        value, first, laplacian = self._linear_jet(self.layers[-1], self._rows(h))
        return value, first.transpose(1, 2), laplacian

    def forward(self, coords: torch.Tensor, sims: torch.Tensor) -> torch.Tensor:
        first = self.layers[0]
        h = torch.tanh(self._linear(torch.cat([self.encode(coords), self.embedding(sims)], dim=1), first.weight,
                                    first.bias))
        start = h
        hidden = [self.layers[1] if self.share else self.layers[1 + k] for k in range(self.repeats)]
        for k, layer in enumerate(hidden):
            h = self._linear(h, layer.weight, layer.bias)
            if self.skip and k == len(hidden) - 1:  # the block's skip, then the authors' loop activation
                h = torch.tanh(torch.tanh(h + start))
            else:
                h = torch.tanh(h)
        last = self.layers[-1]
        return self._linear(h, last.weight, last.bias)
