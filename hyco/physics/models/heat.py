"""Heat equation with a spatially varying conductivity on a walled box, 1D or 2D.

    u_t = div(kappa(x) grad u)

Why the divergence form: the authors' code steps ``kappa * laplace(u)``. For a spatially varying
``kappa`` the two differ by ``grad kappa . grad u``; only the divergence form is the heat
equation of a medium with conductivity ``kappa`` (a flux ``-kappa grad u`` through each face), so
it conserves heat exactly on a Neumann (insulated) box and moves heat between cells, never
creates it. It is also the form Burgers' viscous term uses, so both share one operator
(:func:`hyco.physics.operators.diffuse_explicit`). For constant ``kappa`` both forms are the
same stencil.

Scheme: explicit Euler, conservative second-order stencil with face conductivity the mean of the
two neighbouring cells, ``n`` sub-steps per ``dt`` with ``n`` chosen once from ``kappa``'s upper
bound (``kappa_upper dt/n sum 1/dx^2 <= 0.45``) and ``n >= physics.substeps``, so a new
``kappa`` never retraces. Walls (``physics.boundary``: ``dirichlet``, default, or ``neumann``)
lie on the outer cell faces: zero value (antisymmetric ghost) or zero flux; see
:mod:`hyco.physics.operators`. With constant ``kappa`` and zero-value walls the lowest sine mode
decays as ``exp(-kappa pi^2 sum_d 1/L^2 t)`` (to ``O(dx^2)``).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from phiml.math import Tensor

from hyco.errors import ConfigError
from hyco.fields import FieldSpec
from hyco.physics import operators as ops
from hyco.physics.base import PhysicalModel, State, TinyCase
from hyco.physics.checks import check_nonnegative, check_stable, diffusion_substeps
from hyco.physics.registry import register_physics


@register_physics("heat")
class Heat(PhysicalModel):
    """Heat conduction with conductivity ``kappa`` (a scalar or a field at cell centres).

    Attribute beyond :class:`~hyco.physics.base.PhysicalModel`: ``diffusion_substeps``.
    """

    FIELDS = (FieldSpec("u", "scalar", boundary=("dirichlet",)),)
    BOUNDARIES = ("dirichlet", "neumann")
    PARAMS = ("kappa",)
    IC_PRIOR = "dirichlet_sines"
    #: ``form``: ``divergence`` (``div(kappa grad u)``) or ``nondivergence`` (``kappa lap u``, the
    #: authors' code: for a varying kappa it is not the heat equation of a conducting medium)
    OPTIONS = {"form": "divergence"}
    TINY_CASES = {
        "heat": TinyCase(
            physics={"name": "heat", "dim": 2, "resolution": [8, 8], "domain_origin": -3.0, "domain_size": 6.0,
                     "boundary": "dirichlet", "dt": 0.01,
                     "params": {"kappa": {"kind": "field", "true_value": 0.1, "true_profile": "gaussians",
                                          "profile_scale": "additive", "profile_amplitude": 1.0,
                                          "profile_args": {"centres": [[1.0, 1.0], [-2.0, -2.0]],
                                                           "amplitudes": [3.0, 2.5], "width": 1.0},
                                          "initial_guess": 1.0, "lower": 0.01, "upper": 5.0}}},
            ic={"name": "dirichlet_sines", "max_wavenumber": 3},
            invalid=(("kappa", -0.5), ("kappa", 6.0)), preset="heat_quick"),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.options["form"] not in ("divergence", "nondivergence"):
            raise ConfigError(f"physics.options.form: divergence or nondivergence, got {self.options['form']!r}")
        self.diffusion_substeps = diffusion_substeps([self.param_specs["kappa"]], self.dt, self.dx, self.substeps)

    def validate_params(self, params: Mapping[str, Any]) -> None:
        """Raise :class:`~hyco.physics.base.PhysicsParameterError` for a negative ``kappa``, one
        outside its bounds, or one that makes the explicit sub-step unstable."""
        values = check_nonnegative("kappa", params["kappa"], "conductivity") if "kappa" in params else None
        super().validate_params(params)
        check_stable("kappa", values, self.dt, self.dx, self.diffusion_substeps)

    def residual(self, values: Dict[str, Any], d: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        """``R = ∂_t u − ∇·(κ ∇u)`` (or ``∂_t u − κ Δu`` in the non-divergence form), as the discrete model."""
        if self.options["form"] == "nondivergence":
            return {"u": (d.t("u") - params["kappa"] * d.laplace("u"))[:, None]}
        return {"u": (d.t("u") - d.div_flux("u", params["kappa"]))[:, None]}

    def _step(self, state: State, params: Dict[str, Tensor]) -> State:
        if self.options["form"] == "nondivergence":
            u = state["u"]
            v, tau = ops.contiguous(u.values), self.dt / self.diffusion_substeps
            for _ in range(self.diffusion_substeps):
                v = v + tau * params["kappa"] * ops.laplace(v, self.dx, u.extrapolation)
            return {"u": self.converter.standardize(u.with_values(v))}
        u = ops.diffuse_explicit(state["u"], params["kappa"], self.dt, self.diffusion_substeps, self.dx)
        return {"u": self.converter.standardize(u)}
