"""FitzHugh–Nagumo reaction–diffusion on a periodic box (APHYNITY's reaction–diffusion benchmark).

    u_t = a Δu + u − u³ − v − k
    v_t = b Δv + u − v

``a, b`` are the diffusivities, ``k`` the constant of the reaction (Yin et al., ICLR 2021, and
their code ``datasets/rd.py``: 32² cells, ``dx = 2/32``, ``a = 1e-3, b = 5e-3, k = 5e-3``,
uniform ``U[0, 1]`` initial values per cell, frames every 0.1). ``physics.terms``
(``TERMS = (diffusion, reaction)``) switches a term off: ``terms: [diffusion]`` is the paper's
*incomplete* physics ``F_p = (a Δu, b Δv)``, learnt beside a complete truth (``data.truth``).

Integration: classical RK4 on the right-hand side (:class:`~hyco.physics.continuous.ContinuousModel`),
``physics.substeps`` steps per frame at least, more if the diffusivities' upper bounds need them
(``max(a, b) · 8/dx²`` is the fastest diffusive rate; with the bounds ``1e-2`` and ``dx = 1/16``
it is 20.5, times ``dt = 0.1`` gives 2.05, inside RK4's real-axis limit, so one RK4 step per frame
as in the paper's learner).

Reference integrator's accuracy, measured (``python experiments/aphynity_reference.py rd``: 16
trajectories of the preset, float64, 29 frames): the truth, RK4 at 1e-3, differs from RK4 at 5e-4
by at most 1.4e-11 (RMS 6.9e-13); the learner's step, one RK4 step per frame of 0.1, differs from
the truth by an RMS of 1.8e-4 over the 25 scored frames (log MSE −17.2): the floor of the complete
physics, below every published log MSE (the paper's reference, RK45 at scipy's default tolerances,
is coarser than ours).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

import torch

from hyco.fields import FieldSpec
from hyco.physics import tensor_ops as tops
from hyco.physics.base import TinyCase
from hyco.physics.continuous import ContinuousModel
from hyco.physics.registry import register_physics

_TINY = {"name": "fitzhugh_nagumo", "dim": 2, "resolution": [8, 8], "domain_size": 0.5, "dt": 0.1,
         "params": {"a": {"true_value": 1e-3, "initial_guess": 1.19e-3, "upper": 1e-2},
                    "b": {"true_value": 5e-3, "initial_guess": 1.19e-3, "upper": 1e-2},
                    "k": {"true_value": 5e-3, "initial_guess": 1.19e-3, "upper": 1e-2}}}


@register_physics("fitzhugh_nagumo")
class FitzHughNagumo(ContinuousModel):
    """FitzHugh–Nagumo with diffusivities ``a, b`` and the reaction constant ``k`` (module docstring)."""

    FIELDS = (FieldSpec("u", "scalar", boundary=("periodic",)), FieldSpec("v", "scalar", boundary=("periodic",)))
    PARAMS = ("a", "b", "k")
    TERMS = ("diffusion", "reaction")  # terms=[diffusion]: APHYNITY's incomplete physics
    IC_PRIOR = "uniform"
    TINY_CASES = {
        "fitzhugh_nagumo": TinyCase(physics=_TINY, ic={"name": "uniform", "low": 0.0, "high": 1.0},
                                    invalid=(("a", -1e-3), ("b", 0.5), ("k", -1.0)), preset="aphynity_rd"),
    }

    def max_rate(self, params: Mapping[str, float]) -> float:
        """The fastest diffusive decay, ``max(a, b) · 4 Σ 1/dx²`` (the reaction's linear part is slower)."""
        return max(float(params.get("a", 0.0)), float(params.get("b", 0.0))) * 4 * sum(1 / h ** 2 for h in self.dx)

    def rates(self, values: Dict[str, torch.Tensor], params: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``(u_t, v_t)`` of the terms that act (:attr:`terms`)."""
        u, v = values["u"], values["v"]
        du, dv = [], []
        if "diffusion" in self.terms:
            walls = self.spec("u").boundary
            du.append(params["a"] * tops.laplace(u, self.dx, walls))
            dv.append(params["b"] * tops.laplace(v, self.dx, walls))
        if "reaction" in self.terms:
            du.append(u - u * u * u - v - params["k"])
            dv.append(u - v)
        return {"u": sum(du[1:], du[0]), "v": sum(dv[1:], dv[0])}

    def residual(self, values: Dict[str, Any], d: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        """``R_u = u_t − a Δu − (u − u³ − v − k)``, ``R_v = v_t − b Δv − (u − v)`` (terms that act)."""
        u, v = values["u"][:, 0], values["v"][:, 0]
        r_u, r_v = d.t("u"), d.t("v")
        if "diffusion" in self.terms:
            r_u, r_v = r_u - params["a"] * d.laplace("u"), r_v - params["b"] * d.laplace("v")
        if "reaction" in self.terms:
            r_u, r_v = r_u - (u - u ** 3 - v - params["k"]), r_v - (u - v)
        return {"u": r_u[:, None], "v": r_v[:, None]}
