"""Continuous PDE residuals by autograd, for the physics-informed arm (``pinn``).

A model that states its PDE in continuous form implements
:meth:`~hyco.physics.base.PhysicalModel.residual` ``(values, d, params) -> {field: R}``, where

* ``values`` maps each dynamic field to its values ``[N, C]`` at ``N`` space-time points,
* ``d`` is a :class:`Derivatives` of those values with respect to the points' coordinates
  ``[N, dim + 1]`` (``x[, y], t``; built with ``requires_grad``; ``[N, dim]`` without time for a
  static problem), computed lazily by autograd,
* ``params`` maps each parameter to its value at the points: ``[N]`` for a field parameter
  (interpolated from its grid with :func:`interpolate_grid`, so autograd also sees its spatial
  gradient), a 0-d tensor for a scalar.

``R = 0`` wherever the fields solve the PDE. The values can come from a coordinate network or
from any differentiable closed-form function of the coordinates (the tests' exact solutions).
Derivatives are taken with ``create_graph=True``: the residual is itself a loss to differentiate.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch


def _grad(out: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """``d out / d coords`` ``[N, dim + 1]`` of a per-point scalar ``out [N]`` (graph kept)."""
    if not out.requires_grad:  # a constant (e.g. the derivative of a linear function): no graph left
        return torch.zeros_like(coords)
    (g,) = torch.autograd.grad(out.sum(), coords, create_graph=True, allow_unused=True)
    return torch.zeros_like(coords) if g is None else g


class Derivatives:
    """Autograd derivatives of field values at space-time points, computed on demand and cached.

    Parameters
    ----------
    coords
        ``[N, dim + 1]`` points (spatial axes first, time last), ``requires_grad=True``.
    values
        ``{field: [N, C]}``, differentiable functions of ``coords``.
    timed
        Whether the last coordinate is time (False: a static problem, ``[N, dim]``).
    jets
        Optional ``{field: (first [N, C, D], laplacian [N, C])}``: the fields' first derivatives along
        every coordinate column and their Laplacians over the spatial ones, already known (a network
        that propagates them forward, :meth:`hyco.arms.pinn_network.CoordinateNetwork.laplacian_jet`;
        only on points without time, where every column is spatial); then :meth:`grad`,
        :meth:`laplace` and :meth:`div_flux` read them instead of differentiating twice.
    """

    def __init__(self, coords: torch.Tensor, values: Dict[str, torch.Tensor], timed: bool = True,
                 jets: Optional[Dict[str, Tuple[torch.Tensor, torch.Tensor]]] = None) -> None:
        if not coords.requires_grad:
            raise ValueError("Derivatives: coords must require grad (they are what the fields are differentiated by)")
        self.coords = coords
        self.values = values
        self.timed = bool(timed)
        self.dim = coords.shape[1] - (1 if self.timed else 0)
        self.jets = dict(jets or {})
        if self.jets and self.timed:
            raise ValueError("Derivatives: jets carry Laplacians over every coordinate column, so they need points "
                             "without time (timed=False)")
        self._first: Dict[Tuple[str, int], torch.Tensor] = {}

    def first(self, name: str, c: int = 0) -> torch.Tensor:
        """All first derivatives of component ``c`` of ``name``: ``[N, dim + 1]`` (``∂_x…, ∂_t``)."""
        key = (name, c)
        if key not in self._first:
            self._first[key] = (self.jets[name][0][:, c] if name in self.jets
                                else _grad(self.values[name][:, c], self.coords))
        return self._first[key]

    def t(self, name: str, c: int = 0) -> torch.Tensor:
        """``∂_t u_c`` ``[N]``."""
        if not self.timed:
            raise ValueError("Derivatives.t: the points have no time coordinate (a static problem)")
        return self.first(name, c)[:, -1]

    def grad(self, name: str, c: int = 0) -> torch.Tensor:
        """Spatial gradient ``∇u_c`` ``[N, dim]``."""
        return self.first(name, c)[:, : self.dim]

    def laplace(self, name: str, c: int = 0) -> torch.Tensor:
        """``Δu_c`` ``[N]``."""
        if name in self.jets:
            return self.jets[name][1][:, c]
        g = self.grad(name, c)
        return sum(_grad(g[:, i], self.coords)[:, i] for i in range(self.dim))

    def div_flux(self, name: str, coefficient: torch.Tensor, c: int = 0) -> torch.Tensor:
        """``∇·(κ ∇u_c)`` ``[N]`` for ``κ`` a 0-d tensor or ``[N]`` values that depend on ``coords``
        (autograd then includes ``∇κ·∇u_c``: the divergence form of the discrete models)."""
        if name in self.jets:  # κ Δu + ∇κ·∇u, with u's derivatives known
            grad = self.grad(name, c)
            return coefficient * self.laplace(name, c) + (self.spatial_grad_of(coefficient) * grad).sum(dim=1)
        g = self.grad(name, c)
        kappa = coefficient if coefficient.ndim else coefficient.expand(g.shape[0])
        return sum(_grad(kappa * g[:, i], self.coords)[:, i] for i in range(self.dim))

    def spatial_grad_of(self, quantity: torch.Tensor) -> torch.Tensor:
        """``∇q`` ``[N, dim]`` of any per-point quantity ``q [N]`` (e.g. an interpolated potential);
        zeros for a 0-d (constant) one."""
        if quantity.ndim == 0:
            return torch.zeros(self.coords.shape[0], self.dim, dtype=self.coords.dtype, device=self.coords.device)
        return _grad(quantity, self.coords)[:, : self.dim]

    def advection(self, name: str, velocity: torch.Tensor, c: int = 0) -> torch.Tensor:
        """``(v·∇) u_c`` ``[N]`` for a velocity ``[N, dim]``."""
        return (velocity * self.grad(name, c)).sum(dim=1)


def interpolate_grid(grid: torch.Tensor, points: torch.Tensor, lower: Sequence[float], dx: Sequence[float],
                     periodic: bool) -> torch.Tensor:
    """Multilinear interpolation of cell-centred values ``grid [*res]`` at ``points [N, dim]``.

    Periodic: wraps around; otherwise the values are held constant beyond the outermost centres.
    Differentiable with respect to the grid values (the learned field) and the points (so a
    residual sees the field's spatial gradient).
    """
    dim = grid.ndim
    out = torch.zeros(points.shape[0], dtype=grid.dtype, device=grid.device)
    idx, weights = [], []
    for d in range(dim):
        n = grid.shape[d]
        s = (points[:, d] - float(lower[d])) / float(dx[d]) - 0.5  # in units of cells from centre 0
        if not periodic:
            s = s.clamp(0.0, n - 1.0)
        i0 = torch.floor(s.detach()).long()
        w1 = s - i0.to(s.dtype)
        i1 = i0 + 1
        if periodic:
            i0, i1 = i0 % n, i1 % n
        else:
            i0, i1 = i0.clamp(0, n - 1), i1.clamp(0, n - 1)
        idx.append((i0, i1))
        weights.append((1.0 - w1, w1))
    for corner in range(2 ** dim):
        bits = [(corner >> d) & 1 for d in range(dim)]
        w = torch.ones_like(out)
        for d, b in enumerate(bits):
            w = w * weights[d][b]
        out = out + w * grid[tuple(idx[d][b] for d, b in enumerate(bits))]
    return out


def scalar_or_field(value: torch.Tensor, points: Optional[torch.Tensor], lower: Sequence[float],
                    dx: Sequence[float], periodic: bool) -> torch.Tensor:
    """A parameter at the points: a 0-d tensor as is, a grid interpolated at ``points [N, dim]``."""
    if value.ndim == 0:
        return value
    if points is None:
        raise ValueError("a field parameter needs the points to be interpolated at")
    return interpolate_grid(value, points, lower, dx, periodic)
