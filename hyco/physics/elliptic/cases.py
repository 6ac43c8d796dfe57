"""The papers' coefficient families and the closed-form cases that verify the solve.

Callables of coordinates ``(x, y)`` built from a parameter tensor ``theta`` (any dtype, may require
grad), ready for :func:`hyco.physics.elliptic.assemble`.

* Helmholtz (authors' ``helmholtz.py``): ``theta = (A, a_x, a_y, B, b_x, b_y)``,
  ``kappa = A exp(-|x - a|^2) + 1``, ``eta = (B exp(-|x - b|^2) + 1)^2``; the truth is
  ``u = sin x sin y`` with ``f = -div(kappa grad u) + eta u`` derived analytically from ``theta*``
  (the authors' ``forcing_function``), so only ``kappa`` and ``eta`` are learned.
* Darcy (authors' ``darcy.py``): ``theta = (mu0, c_11, ..., c_33)`` (row-major ``c_mp``),
  ``kappa = mu0^2 + softplus(sum_{m,p=1..3} c_mp sin(pi m x/4) sin(pi p y/4))``, ``eta = 0``, ``f = 1``.
  :func:`darcy_manufactured_forcing` is the forcing for which ``u = sin x sin y`` solves the Darcy
  equation exactly: a verification case, not the papers' problem.
"""

from __future__ import annotations

import math
from typing import Callable, Tuple

import torch
import torch.nn.functional as F

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

HELMHOLTZ_TRUTH = (4.0, -1.0, -1.0, 1.0, 2.0, 1.0)
DARCY_TRUTH = (0.5, 1.0, 2.0, 3.0, 4.0, -1.0, -2.0, -3.0, -4.0, 5.0)


def sine_solution(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``u = sin x sin y``: zero on the boundary of ``[-pi, pi]^2``."""
    return torch.sin(x) * torch.sin(y)


def _gaussian(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``theta[0] exp(-((x - theta[1])^2 + (y - theta[2])^2))``."""
    return theta[0] * torch.exp(-((x - theta[1]) ** 2 + (y - theta[2]) ** 2))


def helmholtz_kappa(theta: torch.Tensor) -> Field:
    """``kappa = A exp(-|x - a|^2) + 1``."""
    return lambda x, y: _gaussian(theta[0:3], x, y) + 1.0


def helmholtz_eta(theta: torch.Tensor) -> Field:
    """``eta = (B exp(-|x - b|^2) + 1)^2``."""
    return lambda x, y: (_gaussian(theta[3:6], x, y) + 1.0) ** 2


def helmholtz_forcing(theta: torch.Tensor) -> Field:
    """``f = -div(kappa grad u) + eta u`` for ``u = sin x sin y`` (``-div(k grad u) = 2 k u - grad k . grad u``)."""
    def forcing(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        bump = _gaussian(theta[0:3], x, y)
        kappa = bump + 1.0
        # grad kappa = -2 bump (x - a_x, y - a_y)
        grad_dot = -2.0 * bump * ((x - theta[1]) * torch.cos(x) * torch.sin(y)
                                  + (y - theta[2]) * torch.sin(x) * torch.cos(y))
        return 2.0 * kappa * sine_solution(x, y) - grad_dot + helmholtz_eta(theta)(x, y) * sine_solution(x, y)
    return forcing


def _darcy_series(theta: torch.Tensor, x: torch.Tensor,
                  y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``s = sum c_mp sin(pi m x/4) sin(pi p y/4)`` and its gradient."""
    s = torch.zeros_like(x + theta[0])
    sx, sy = torch.zeros_like(s), torch.zeros_like(s)
    for m in range(1, 4):
        for p in range(1, 4):
            c = theta[1 + 3 * (m - 1) + (p - 1)]
            km, kp = math.pi * m / 4.0, math.pi * p / 4.0
            s = s + c * torch.sin(km * x) * torch.sin(kp * y)
            sx = sx + c * km * torch.cos(km * x) * torch.sin(kp * y)
            sy = sy + c * kp * torch.sin(km * x) * torch.cos(kp * y)
    return s, sx, sy


def darcy_kappa(theta: torch.Tensor) -> Field:
    """``kappa = mu0^2 + softplus(sum_{m,p=1..3} c_mp sin(pi m x/4) sin(pi p y/4))``."""
    return lambda x, y: theta[0] ** 2 + F.softplus(_darcy_series(theta, x, y)[0])


def darcy_manufactured_forcing(theta: torch.Tensor) -> Field:
    """``f = -div(kappa grad u)`` for ``u = sin x sin y`` and the Darcy ``kappa`` (verification only)."""
    def forcing(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        s, sx, sy = _darcy_series(theta, x, y)
        kappa = theta[0] ** 2 + F.softplus(s)
        slope = torch.sigmoid(s)  # d softplus / ds
        grad_dot = slope * (sx * torch.cos(x) * torch.sin(y) + sy * torch.sin(x) * torch.cos(y))
        return 2.0 * kappa * sine_solution(x, y) - grad_dot
    return forcing
