"""The damped wave equation in a closed box (APHYNITY's wave benchmark), as a first-order system.

    w_t   = v                      (the field ``w_t`` holds v = ∂w/∂t)
    v_t   = c² Δw − k v

Zero-gradient (Neumann) walls, the second-order 5-point Laplacian, unit cells in the paper's set-up
(64², ``dx = 1``, ``c = 330``, ``k = 50``, frames every 1e-3; Yin et al., ICLR 2021, code
``datasets/wave.py``). ``physics.terms`` (``TERMS = (propagation, damping)``): ``terms:
[propagation]`` is the paper's *incomplete* physics, the undamped wave, learnt from damped data.
The paper's data use a 4th-order per-axis stencil (its learner the 2nd-order one); here truth and
learner share this one. Measured (``experiments/aphynity_wave_misfit.py``, docs/aphynity.md): on
the paper's grid (dx = 1) the stencils barely move the undamped fit of ``c`` (293.1 against 292.1);
at the preset's dx = 2 the 4th-order truth would move it by about +14 (the 2nd-order stencil's
error grows as dx²), a bias the paper's set-up does not have.

Integration: classical RK4, chosen by measuring (``python experiments/aphynity_reference.py
wave``, float64, the preset's 64² box, 4 Gaussian-bump initial states, 224 frames of 1e-3 against
RK4 at 1e-5; RMS error of ``(w, w_t)`` relative to their RMS over the run):

* explicit Euler: blows up at 1 and at 2 steps per frame (errors 1e19 and 4e7 times the RMS);
* symplectic Euler: 2.4e-2, 4.9e-2 at 1 step per frame; 1.2e-2, 2.3e-2 at 2;
* RK4: 9.5e-6, 9.0e-5 at 1 step per frame; 5.9e-7, 5.6e-6 at 2.

Explicit Euler amplifies every undamped mode (its stability region misses the imaginary axis);
symplectic Euler is stable but first order in the damping and off by percents; RK4 at one step
per frame is accurate to 1e-4 and is the paper's learner too, so the step is one RK4 step
(``physics.substeps: 1``; the parameters' upper bounds keep ``c √8 + k`` times the step inside
RK4's imaginary-axis limit). The truth is RK4 at 1e-4: it differs from RK4 at 5e-5 by at most
7.3e-7 (RMS 5.8e-9), and the learner's step differs from it by an RMS of 7.0e-5 over the 25
scored frames (log MSE −19.1). On the preset of 2026-12-03 (the same box at 32 cells, dx = 2, its
fastest mode half as fast): explicit Euler 11 and 155 times the RMS at 1 step per frame, 3.6e-2
and 0.25 at 2; RK4 6.7e-6, 5.7e-5 at 1 step; the truth within 4.6e-7 of RK4 at 5e-5 (RMS 5.4e-9),
the learner's step within an RMS of 4.4e-5 of it (log MSE −20.05).
"""

from __future__ import annotations

import math as pymath
from typing import Any, Dict, Mapping

import torch

from hyco.fields import FieldSpec
from hyco.physics import tensor_ops as tops
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

    def rates(self, values: Dict[str, torch.Tensor], params: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``(w_t, c² Δw − k w_t)`` with the terms that act (:attr:`terms`)."""
        w, v = values["w"], values["w_t"]
        acceleration = []
        if "propagation" in self.terms:
            acceleration.append(params["c"] ** 2 * tops.laplace(w, self.dx, self.spec("w").boundary))
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
