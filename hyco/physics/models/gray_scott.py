"""Gray–Scott reaction–diffusion on a periodic box, 1D or 2D.

    u_t = Du laplace(u) - u v^2 + F (1 - u)
    v_t = Dv laplace(v) + u v^2 - (F + k) v

``Du, Dv`` are the learnable diffusivities (scalars, or fields at cell centres); the feed and
kill rates ``F, k`` are fixed, known parameters (``learnable: false`` in the config).

Inner stepping
--------------
One model step (one data frame, ``physics.dt``) is ``n`` explicit Euler steps of ``dt / n``
(forward Euler on diffusion + reaction together, as in the HYCO papers' code: steps of 0.4, a
frame every 100 of them). ``n = max(physics.substeps, n_stable)`` with ``n_stable`` from the
diffusivities' upper bounds (``D_upper dt/n sum 1/dx^2 <= 0.45``), fixed per model so a new
``Du, Dv`` never retraces. The whole frame (all ``n`` inner steps, unrolled) is one
``jit_compile``d function. Measured at 64^2 x 8, ``n = 100`` (CPU, one thread, shared 2-core
machine): the first call (trace, which runs the Python body twice, plus torch's warm-up) took
about 10 s, once per model and shape; afterwards 28 ms per frame against 35 ms for the same
scheme in plain torch (``experiments/bench_physics.py --skip-burgers``). A Python loop over a
jitted inner step would trace in a fraction of that but pay ~100 dispatches per frame (not
measured). Backpropagation through a frame keeps the ``n`` intermediate states
(64^2 x 8 x 2 fields x 100 x 4 B ~ 26 MB per frame, times a few temporaries).

Terms: ``physics.terms`` (``TERMS = (diffusion, reaction)``, default both) switches a term off, for
an incomplete learner beside a complete truth (``data.truth``); pure diffusion conserves the means
of ``u`` and ``v`` (a test checks it).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from phiml.math import Tensor

from hyco.errors import PhysicsParameterError
from hyco.fields import FieldSpec
from hyco.physics import operators as ops
from hyco.physics.base import PhysicalModel, State, TinyCase
from hyco.physics.checks import check_nonnegative, check_stable, diffusion_substeps
from hyco.physics.params import host_values
from hyco.physics.registry import register_physics


@register_physics("gray_scott")
class GrayScott(PhysicalModel):
    """Gray–Scott with diffusivities ``Du, Dv`` and rates ``F, k``.

    Attribute beyond :class:`~hyco.physics.base.PhysicalModel`: ``inner_steps`` (explicit
    Euler steps per model step) and ``inner_dt``.
    """

    FIELDS = (FieldSpec("u", "scalar", boundary=("periodic",)), FieldSpec("v", "scalar", boundary=("periodic",)))
    PARAMS = ("Du", "Dv", "F", "k")
    TERMS = ("diffusion", "reaction")  # physics.terms=[diffusion]: the reaction-free physics
    IC_PRIOR = "spots"
    TINY_CASES = {
        "gray_scott": TinyCase(
            physics={"name": "gray_scott", "dim": 2, "resolution": [8, 8], "domain_size": 12.5, "dt": 2.0,
                     "substeps": 5,
                     "params": {"Du": {"true_value": 0.2, "initial_guess": 0.1, "upper": 1.0},
                                "Dv": {"true_value": 0.08, "initial_guess": 0.05, "upper": 1.0},
                                "F": {"true_value": 0.018, "initial_guess": 0.018, "learnable": False},
                                "k": {"true_value": 0.051, "initial_guess": 0.051, "learnable": False}}},
            ic={"name": "spots", "num_spots": 2, "spot_size": 0.25, "noise": 0.01},
            invalid=(("Du", -0.1), ("Dv", 2.0), ("F", -0.01)), preset="gray_scott_quick"),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        specs = [self.param_specs["Du"], self.param_specs["Dv"]]
        self.inner_steps = diffusion_substeps(specs, self.dt, self.dx, self.substeps)
        self.inner_dt = self.dt / self.inner_steps

    def validate_params(self, params: Mapping[str, Any]) -> None:
        """Raise :class:`~hyco.physics.base.PhysicsParameterError` for a negative diffusivity or
        rate, values outside their bounds, or a diffusivity that makes the inner step unstable."""
        values = {n: check_nonnegative(n, params[n]) for n in ("Du", "Dv") if n in params}
        for name in ("F", "k"):
            rate = host_values(params[name]) if name in params else None
            if rate is not None and rate.size and float(rate.min()) < 0:
                raise PhysicsParameterError(f"physics parameter '{name}' (rate) must be >= 0, "
                                            f"got {float(rate.min()):g}")
        super().validate_params(params)
        for name, v in values.items():
            check_stable(name, v, self.dt, self.dx, self.inner_steps)

    def advance(self, state: State, params: Dict[str, Tensor], reaction: bool = True,
                diffusion: bool = True) -> State:
        """One model step (``inner_steps`` explicit Euler steps); ``reaction=False`` drops the
        reaction terms (pure diffusion conserves both means), ``diffusion=False`` the diffusion."""
        u_field, v_field = state["u"], state["v"]
        ext, h = u_field.extrapolation, self.dx
        u, v = ops.contiguous(u_field.values), ops.contiguous(v_field.values)
        tau = self.inner_dt
        du, dv = params["Du"] * tau, params["Dv"] * tau
        for _ in range(self.inner_steps):
            lu, lv = (ops.laplace(u, h, ext), ops.laplace(v, h, ext)) if diffusion else (0.0, 0.0)
            if reaction:
                ru, rv = ops.gray_scott_reaction(u, v, params["F"], params["k"])
                u, v = u + (du * lu + tau * ru), v + (dv * lv + tau * rv)
            else:
                u, v = u + du * lu, v + dv * lv
        return {"u": self.converter.standardize(u_field.with_values(u)),
                "v": self.converter.standardize(v_field.with_values(v))}

    def residual(self, values: Dict[str, Any], d: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        """``R_u = ∂_t u − Du Δu + u v² − F (1 − u)``, ``R_v = ∂_t v − Dv Δv − u v² + (F + k) v``
        (``D Δu``, not the divergence form: the discrete model steps ``D`` times the Laplacian)."""
        u, v = values["u"][:, 0], values["v"][:, 0]
        F, k = params["F"], params["k"]
        r_u, r_v = d.t("u"), d.t("v")
        if "diffusion" in self.terms:
            r_u, r_v = r_u - params["Du"] * d.laplace("u"), r_v - params["Dv"] * d.laplace("v")
        if "reaction" in self.terms:
            uvv = u * v * v
            r_u, r_v = r_u + uvv - F * (1.0 - u), r_v - uvv + (F + k) * v
        return {"u": r_u[:, None], "v": r_v[:, None]}

    def _step(self, state: State, params: Dict[str, Tensor]) -> State:
        return self.advance(state, params, reaction="reaction" in self.terms, diffusion="diffusion" in self.terms)
