"""The damped pendulum, the platform's first model whose state has no spatial axes (an ODE system).

    θ_t   = ω                      (the field ``omega`` holds ω = ∂θ/∂t)
    ω_t   = −ω0² sin θ − α ω

APHYNITY's pendulum (Yin et al., ICLR 2021, code ``datasets/pendulum.py``): ``T0 = 2π/ω0 = 6``,
``α = 0.2``, frames every 0.5 up to ``T = 20``, initial states at a radius ``U[1.3, 2.3]`` in the
``(θ, ω)`` plane (the ``annulus`` prior). The learnable stiffness is ``omega2 = ω0²`` (truth
``(2π/6)² = 1.0966``), as the paper's code learns and scores it: a relative error of ω0² is about
twice that of ω0. ``physics.terms`` (``TERMS = (gravity, friction)``): ``terms: [gravity]`` is the
paper's *incomplete*, frictionless physics.

The state is ``{"theta": Tensor, "omega": Tensor}`` with a batch dimension only
(``resolution: []``, ``dim: 0``); as a tensor ``[B, 2]``. Integration: classical RK4, one step per
frame unless ``physics.substeps`` asks for more (the paper's learner integrates with one RK4 step
per frame as well).

Reference integrator's accuracy, measured (``python experiments/aphynity_reference.py pendulum``,
float64, 16 trajectories of the preset, 40 frames): the truth, RK4 at 0.005, differs from RK4 at
0.0025 by at most 6.6e-11; the learner's step, one RK4 step per frame of 0.5, differs from the
truth by an RMS of 2.1e-3 over the 40 scored frames (log MSE −12.3, the floor of the complete
physics; the paper reports −8.58 for its true ODE integrated the same way, against DOP853).
"""

from __future__ import annotations

import math as pymath
from typing import Dict, Mapping

import torch

from hyco.fields import FieldSpec
from hyco.physics.base import TinyCase
from hyco.physics.continuous import ContinuousModel
from hyco.physics.integrators import RK4_IMAGINARY_LIMIT
from hyco.physics.registry import register_physics

_TINY = {"name": "damped_pendulum", "dim": 0, "resolution": [], "dt": 0.5,
         "params": {"omega2": {"true_value": 1.0966, "initial_guess": 0.2, "upper": 5.0},
                    "alpha": {"true_value": 0.2, "initial_guess": 0.1, "upper": 2.0}}}


@register_physics("damped_pendulum")
class DampedPendulum(ContinuousModel):
    """The damped pendulum with stiffness ``omega2 = ω0²`` and friction ``alpha`` (module docstring)."""

    FIELDS = (FieldSpec("theta", "scalar"), FieldSpec("omega", "scalar"))
    DIMS = (0,)
    PARAMS = ("omega2", "alpha")
    TERMS = ("gravity", "friction")  # terms=[gravity]: APHYNITY's incomplete, frictionless physics
    IC_PRIOR = "annulus"
    RATE_LIMIT = RK4_IMAGINARY_LIMIT
    TINY_CASES = {
        "damped_pendulum": TinyCase(physics=_TINY, ic={"name": "annulus"},
                                    invalid=(("omega2", -1.0), ("alpha", 3.0)), preset="aphynity_pendulum"),
    }

    def max_rate(self, params: Mapping[str, float]) -> float:
        """The small-angle frequency ``ω0`` plus the friction rate ``α``."""
        return pymath.sqrt(abs(float(params.get("omega2", 0.0)))) + abs(float(params.get("alpha", 0.0)))

    def rates(self, values: Dict[str, torch.Tensor], params: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``(ω, −ω0² sin θ − α ω)`` with the terms that act (:attr:`terms`)."""
        theta, omega = values["theta"], values["omega"]
        acceleration = []
        if "gravity" in self.terms:
            acceleration.append(-params["omega2"] * torch.sin(theta))
        if "friction" in self.terms:
            acceleration.append(-params["alpha"] * omega)
        return {"theta": omega, "omega": sum(acceleration[1:], acceleration[0])}
