"""The static elliptic problem of the papers' Helmholtz and Darcy benchmarks.

    -div(kappa(x) grad u) + eta(x) u = f   on a square,   u = 0 on its boundary

A static model (:mod:`hyco.physics.static`): the solve maps the parameters ``kappa`` and ``eta`` to
``u`` on the nodes by the P1 finite elements of :mod:`hyco.physics.elliptic` (the authors'
discretisation: a structured triangulation with ``resolution - 1`` cells per side, ``kappa`` and
``eta`` at element centroids, the interior system solved directly, float64, differentiable in the
parameters). ``physics.layout`` must be ``nodes``: the state lives on the ``resolution^2`` nodes,
the boundary ones included (held at 0).

Parameters: ``kappa`` and ``eta`` (``eta`` a fixed scalar 0 for Darcy), each a scalar or a
parametric family (:mod:`hyco.physics.families`: ``gaussian_bumps``, ``softplus_sines``) evaluated
at the element centroids; their values in the engine are those element values ``(2, N, N)``.

Options (``physics.options``):

* ``forcing``: ``constant`` (``f = forcing_value``; Darcy's 1) or ``sine``: ``f`` derived from the
  *true* parameters so that ``u* = sin(2 pi (x - a) / L) sin(2 pi (y - a) / L)`` solves the equation on
  the box ``[a, a + L]^2`` (``sin x sin y`` on the papers' ``[-pi, pi]^2``): the Helmholtz paper's
  forcing, known exactly, so only ``kappa`` and ``eta`` are learned. Derived by autograd through the
  families, so it holds for any family (checked against the closed form of
  :func:`hyco.physics.elliptic.cases.helmholtz_forcing`).
* ``solution``: ``fem`` (solve) or ``exact``: the model *is* ``u*`` whatever its parameters (with
  ``forcing: sine``), read exactly at any point. Only a truth may be exact
  (``+data.truth={options: {solution: exact}}``: the Helmholtz paper's analytic truth); a learner
  that ignores its parameters is refused at config time.
* ``method``: the direct solver, ``auto`` | ``dense`` | ``banded`` (:mod:`hyco.physics.elliptic`).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional

import numpy as np
import torch

from hyco.errors import ConfigError, PhysicsParameterError
from hyco.fields import FieldSpec
from hyco.physics.base import TinyCase
from hyco.physics.elliptic import METHODS, FactorCache, StructuredTriangulation, solve_elliptic
from hyco.physics.params import host_values
from hyco.physics.registry import register_physics
from hyco.physics.static import StaticModel

_BOX = {"dim": 2, "layout": "nodes", "domain_origin": -math.pi, "domain_size": 2 * math.pi, "dt": 1.0}
_HELMHOLTZ_PARAMS = {
    "kappa": {"kind": "family", "family": "gaussian_bumps", "family_args": {"count": 1, "offset": 1.0},
              "true_theta": [4.0, -1.0, -1.0], "initial_theta": [2.0, 0.5, 0.5], "lower": 0.0, "upper": 1e6},
    "eta": {"kind": "family", "family": "gaussian_bumps", "family_args": {"count": 1, "offset": 1.0, "power": 2},
            "true_theta": [1.0, 2.0, 1.0], "initial_theta": [2.0, 0.5, 0.5], "lower": 0.0, "upper": 1e6},
}
_DARCY_PARAMS = {
    "kappa": {"kind": "family", "family": "softplus_sines", "family_args": {"modes": 3, "wavelength": 8.0},
              "true_theta": [0.5, 1.0, 2.0, 3.0, 4.0, -1.0, -2.0, -3.0, -4.0, 5.0],
              "initial_theta": [0.1, 0.2, 0.8, 4.0, 5.0, -0.1, 0.05, -1.0, -3.0, 1.0], "lower": 0.0, "upper": 1e6},
    "eta": {"kind": "scalar", "true_value": 0.0, "initial_guess": 0.0, "lower": 0.0, "upper": 1.0,
            "learnable": False},
}


@register_physics("elliptic")
class Elliptic(StaticModel):
    """``-div(kappa grad u) + eta u = f``, ``u = 0`` on the walls, by P1 finite elements (module docstring).

    Attributes beyond :class:`~hyco.physics.static.StaticModel`: ``mesh`` (the triangulation).
    """

    FIELDS = (FieldSpec("u", "scalar", boundary=("dirichlet",)),)
    BOUNDARIES = ("dirichlet",)
    PARAMS = ("kappa", "eta")
    OPTIONS = {"forcing": "constant", "forcing_value": 1.0, "solution": "fem", "method": "auto"}
    TINY_CASES = {
        "elliptic_helmholtz": TinyCase(
            physics={"name": "elliptic", "resolution": [7, 7], **_BOX, "params": _HELMHOLTZ_PARAMS,
                     "options": {"forcing": "sine"}},
            invalid=(("kappa", -0.5), ("eta", -1.0)), preset="paper_helmholtz"),
        "elliptic_darcy": TinyCase(
            physics={"name": "elliptic", "resolution": [7, 7], **_BOX, "params": _DARCY_PARAMS,
                     "options": {"forcing": "constant", "forcing_value": 1.0}},
            invalid=(("kappa", 0.0),), preset="paper_darcy"),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        opts = self.options
        if self.dim != 2 or self.layout != "nodes":
            raise ConfigError(f"physics: the elliptic model solves on a square's nodes: dim 2 and layout nodes, got "
                              f"dim {self.dim}, layout {self.layout}")
        for key, allowed in (("forcing", ("constant", "sine")), ("solution", ("fem", "exact")), ("method", METHODS)):
            if opts[key] not in allowed:
                raise ConfigError(f"physics.options.{key}: one of {list(allowed)}, got {opts[key]!r}")
        if opts["solution"] == "exact" and opts["forcing"] != "sine":
            raise ConfigError("physics.options.solution=exact: the exact solution is the one forcing=sine makes; "
                              "set physics.options.forcing=sine")
        for name, spec in self.param_specs.items():
            if spec.kind not in ("scalar", "family"):
                raise ConfigError(f"physics.params.{name}.kind: the elliptic model takes a scalar or a family "
                                  f"(evaluated at the element centroids), got {spec.kind}")
        lower, size = self.node_box
        self.mesh = StructuredTriangulation(self.resolution[0] - 1, lower, lower + size)
        self.box = (float(lower), float(size))
        self._forcing_nodes: Optional[torch.Tensor] = None
        # a training epoch solves twice at the same parameters (the score after its update, then the
        # next epoch's forward solve): the second reuses the first's factorisation
        self.factors = FactorCache()
        self._centroids: Dict[tuple, torch.Tensor] = {}

    def check_learner(self) -> None:
        if self.options["solution"] == "exact":
            raise ConfigError("physics.options.solution=exact: the exact solution ignores the parameters, so it can "
                              "generate data (+data.truth={options: {solution: exact}}) but not learn; use fem")

    # ---------------------------------------------------------------- coefficients at element centroids
    def coefficient_shape(self, name: str) -> tuple:
        return (2, self.mesh.cells, self.mesh.cells)

    def family_field(self, name: str, theta: torch.Tensor) -> torch.Tensor:
        """The family at the element centroids ``(2, N, N)``, where the assembly evaluates it."""
        key = (theta.dtype, theta.device)
        if key not in self._centroids:  # the same points every epoch: built once per dtype and device
            x, y = self.mesh.centroids(dtype=theta.dtype, device=theta.device)
            self._centroids[key] = torch.stack([x, y], dim=-1)
        return self.family_at(name, theta, self._centroids[key])

    def validate_params(self, params: Mapping[str, Any]) -> None:
        """Refuse ``kappa <= 0`` or ``eta < 0`` anywhere (the system would not be definite), then the bounds."""
        for name, strict in (("kappa", True), ("eta", False)):
            values = host_values(params[name]) if name in params else None
            if values is not None and values.size and (values.min() <= 0 if strict else values.min() < 0):
                raise PhysicsParameterError(f"physics parameter '{name}': minimum {values.min():g} must be "
                                            f"{'> 0' if strict else '>= 0'} (the elliptic system is then definite)")
        super().validate_params(params)

    # ---------------------------------------------------------------- forcing and the manufactured solution
    def sine_solution(self, points: torch.Tensor) -> torch.Tensor:
        """``u*(x) = prod_d sin(2 pi (x_d - a) / L)`` at ``points [P, 2]``: ``[P]`` (zero on the walls)."""
        lower, size = self.box
        return torch.prod(torch.sin(2.0 * math.pi * (points - lower) / size), dim=-1)

    def _true_coefficient(self, name: str, points: torch.Tensor) -> torch.Tensor:
        spec = self.param_specs[name]
        if spec.kind == "family":
            return self.family_at(name, torch.tensor(spec.true_theta, dtype=points.dtype), points)
        return torch.full(points.shape[:-1], float(spec.true_value), dtype=points.dtype)

    def forcing_at(self, points: torch.Tensor) -> torch.Tensor:
        """``f`` at ``points [P, 2]`` (float64, no gradient): constant, or derived from the true
        parameters so that ``u*`` solves the equation (``f = -div(kappa* grad u*) + eta* u*``, by autograd)."""
        points = points.detach().to(torch.float64).cpu()
        if self.options["forcing"] == "constant":
            return torch.full(points.shape[:-1], float(self.options["forcing_value"]), dtype=torch.float64)
        with torch.enable_grad():
            x = points.clone().requires_grad_(True)
            u = self.sine_solution(x)
            (grad,) = torch.autograd.grad(u.sum(), x, create_graph=True)
            flux = self._true_coefficient("kappa", x)[:, None] * grad
            div = sum(torch.autograd.grad(flux[:, d].sum(), x, retain_graph=True)[0][:, d] for d in range(2))
            f = -div + self._true_coefficient("eta", x) * u
        return f.detach()

    def forcing_nodes(self) -> torch.Tensor:
        """``f`` at the nodes (computed once: it depends on the truth only)."""
        if self._forcing_nodes is None:
            x, y = self.mesh.nodes(dtype=torch.float64)
            self._forcing_nodes = self.forcing_at(torch.stack([x, y], -1).reshape(-1, 2)).reshape(x.shape)
        return self._forcing_nodes

    def exact_values(self, points: np.ndarray, time: float = 0.0) -> Optional[np.ndarray]:
        """``u*`` at ``points`` when the model is the exact solution (``options.solution=exact``)."""
        if self.options["solution"] != "exact":
            return None
        return self.sine_solution(torch.tensor(np.asarray(points), dtype=torch.float64)).numpy()[:, None]

    # ---------------------------------------------------------------- the solve
    def solve(self, params: Mapping[str, Any], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``u`` on the nodes ``[1, N+1, N+1]`` (float64 inside, returned in ``dtype``)."""
        device = self.device
        if self.options["solution"] == "exact":
            x, y = self.mesh.nodes(dtype=torch.float64)
            return self.sine_solution(torch.stack([x, y], -1)).to(device=device, dtype=dtype)[None]
        u = solve_elliptic(self.mesh, params["kappa"], params["eta"], self.forcing_nodes().to(device),
                           method=self.options["method"], dtype=torch.float64, device=device, cache=self.factors)
        return u.to(dtype)[None]

    # ---------------------------------------------------------------- continuous form (PINN)
    def residual(self, values: Dict[str, torch.Tensor], d: Any, params: Dict[str, torch.Tensor]) -> Dict[str, Any]:
        """``R = -div(kappa grad u) + eta u - f`` at the points (``d``'s coordinates ``(x, y)``)."""
        u = values["u"][:, 0]
        f = self.forcing_at(d.coords[:, :2]).to(u)
        return {"u": (-d.div_flux("u", params["kappa"]) + params["eta"] * u - f)[:, None]}
