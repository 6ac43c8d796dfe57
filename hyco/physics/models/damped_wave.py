"""The damped wave equation in a closed box (APHYNITY's wave benchmark), as a first-order system.

    w_t   = v                      (the field ``w_t`` holds v = ∂w/∂t)
    v_t   = c² Δw − k v

Zero-gradient (Neumann) walls, the second-order 5-point Laplacian, unit cells in the paper's set-up
(64², ``dx = 1``, ``c = 330``, ``k = 50``, frames every 1e-3; Yin et al., ICLR 2021, code
``datasets/wave.py``). ``physics.terms`` (``TERMS = (propagation, damping)``): ``terms:
[propagation]`` is the paper's *incomplete* physics, the undamped wave, learnt from damped data.

Integration, chosen by measuring: ``python experiments/aphynity_reference.py wave``: MEASURE_ME
"""

from __future__ import annotations

import math as pymath
from typing import Any, Dict, Mapping

from phiml.math import Tensor

from hyco.fields import FieldSpec
from hyco.physics import operators as ops
from hyco.physics.base import TinyCase
from hyco.physics.continuous import ContinuousModel
from hyco.physics.integrators import RK4_IMAGINARY_LIMIT
from hyco.physics.registry import register_physics

_TINY = {"name": "damped_wave", "dim": 2, "resolution": [8, 8], "domain_size": 8.0, "dt": 1e-3,
         "params": {"c": {"true_value": 330.0, "initial_guess": 360.0, "upper": 600.0},
                    "k": {"true_value": 50.0, "initial_guess": 45.0, "upper": 200.0}}}


@register_physics("damped_wave")
class DampedWave(ContinuousModel):
    """The damped wave with speed ``c`` and damping ``k`` (module docstring)."""

    FIELDS = (FieldSpec("w", "scalar", boundary=("neumann",)), FieldSpec("w_t", "scalar", boundary=("neumann",)))
    BOUNDARIES = ("neumann", "periodic", "dirichlet")
    PARAMS = ("c", "k")
    TERMS = ("propagation", "damping")  # terms=[propagation]: APHYNITY's incomplete physics
    IC_PRIOR = "gaussian_bump"
    RATE_LIMIT = RK4_IMAGINARY_LIMIT  # the fastest mode oscillates: RK4's imaginary-axis limit
    TINY_CASES = {
        "damped_wave": TinyCase(physics=_TINY, ic={"name": "gaussian_bump", "centre_lower": [0.3, 0.3],
                                                    "centre_upper": [0.7, 0.7], "spread_lower": 2.0,
                                                    "spread_upper": 4.0},
                                invalid=(("c", -1.0), ("k", 500.0)), preset="aphynity_wave"),
    }

    def max_rate(self, params: Mapping[str, float]) -> float:
        """The fastest mode's frequency ``c √(4 Σ 1/dx²)`` plus the damping rate ``k``."""
        return float(params.get("c", 0.0)) * pymath.sqrt(4 * sum(1 / h ** 2 for h in self.dx)) + abs(
            float(params.get("k", 0.0)))

    def rates(self, values: Dict[str, Tensor], params: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """``(w_t, c² Δw − k w_t)`` with the terms that act (:attr:`terms`)."""
        w, v = values["w"], values["w_t"]
        acceleration = []
        if "propagation" in self.terms:
            ext = self.spec("w").extrapolation(self.spatial_names)
            acceleration.append(params["c"] ** 2 * ops.laplace(w, self.dx, ext))
        if "damping" in self.terms:
            acceleration.append(-params["k"] * v)
        return {"w": v, "w_t": sum(acceleration[1:], acceleration[0])}

    def residual(self, values: Dict[str, Any], d: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        """``R_w = ∂_t w − w_t``, ``R_{w_t} = ∂_t w_t − c² Δw + k w_t`` (terms that act)."""
        r_w = d.t("w") - values["w_t"][:, 0]
        r_v = d.t("w_t")
        if "propagation" in self.terms:
            r_v = r_v - params["c"] ** 2 * d.laplace("w")
        if "damping" in self.terms:
            r_v = r_v + params["k"] * values["w_t"][:, 0]
        return {"w": r_w[:, None], "w_t": r_v[:, None]}
