"""Diffusion with linear decay on a periodic line: ``u_t = D u_xx - r u``; learn ``D`` and ``r``."""

from hyco.fields import FieldSpec
from hyco.physics import PhysicalModel, TinyCase, register_physics
from hyco.physics import operators as ops
from hyco.physics.checks import check_stable, diffusion_substeps
from hyco.physics.params import host_values


@register_physics("decay_diffusion")
class DecayDiffusion(PhysicalModel):
    """Explicit Euler in stable sub-steps (sized once from ``D``'s upper bound)."""

    FIELDS = (FieldSpec("u", "scalar"),)
    PARAMS = ("D", "r")
    TINY_CASES = {
        "decay_diffusion": TinyCase(
            physics={"name": "decay_diffusion", "dim": 1, "resolution": [16], "dt": 0.01,
                     "params": {"D": {"true_value": 0.02, "initial_guess": 0.05, "upper": 0.1},
                                "r": {"true_value": 0.5, "initial_guess": 0.2, "upper": 2.0}}},
            invalid=(("D", 0.5), ("r", -1.0)), preset="decay_quick"),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.inner = diffusion_substeps([self.param_specs["D"]], self.dt, self.dx, self.substeps)

    def validate_params(self, params):
        super().validate_params(params)  # bounds
        check_stable("D", host_values(params["D"]), self.dt, self.dx, self.inner)

    def residual(self, values, d, params):
        """``R = u_t - D u_xx + r u`` (for the PINN arm)."""
        return {"u": (d.t("u") - params["D"] * d.laplace("u") + params["r"] * values["u"][:, 0])[:, None]}

    def _step(self, state, params):
        u = state["u"]
        values, tau = ops.contiguous(u.values), self.dt / self.inner
        for _ in range(self.inner):
            values = values + tau * (params["D"] * ops.laplace(values, self.dx, u.extrapolation) - params["r"] * values)
        return {"u": self.converter.standardize(u.with_values(values))}
