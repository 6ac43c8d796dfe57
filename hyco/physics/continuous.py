"""Models stated by their continuous right-hand side and stepped by integrating it.

A :class:`ContinuousModel` writes ``dX/dt = F_p(X; θ)`` once, on the fields' values
(:meth:`ContinuousModel.rates`); its step is ``inner_steps`` classical RK4 steps of
``dt / inner_steps`` (:mod:`hyco.physics.integrators`), and :meth:`~ContinuousModel.derivative`
hands ``F_p`` to APHYNITY's continuous form, which integrates ``F_p + F_a`` with the same RK4
function: with ``F_a = 0`` and as many RK4 steps per frame, the augmented forecaster *is* the
physical model, bit for bit (a test checks it).

``inner_steps = max(physics.substeps, n_stable)``, with ``n_stable`` from the fastest rate the
right-hand side can reach with parameters up to their upper bounds (:meth:`max_rate`), fixed per
model so that a new parameter value never retraces the step.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Dict, Mapping

from phiml.math import Tensor

from hyco.errors import PhysicsParameterError
from hyco.physics.base import PhysicalModel, State
from hyco.physics.integrators import RK4_REAL_LIMIT, rk4, rk4_substeps
from hyco.physics.params import host_values


class ContinuousModel(PhysicalModel):
    """A model whose step is RK4 on its continuous right-hand side (module docstring).

    Attributes beyond :class:`~hyco.physics.base.PhysicalModel`: ``inner_steps`` (RK4 steps per
    model step) and ``inner_dt``.
    """

    #: the stability limit of :meth:`max_rate` times the sub-step (RK4's real or imaginary axis)
    RATE_LIMIT: float = RK4_REAL_LIMIT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bounds = {n: s.upper for n, s in self.param_specs.items()}
        self.inner_steps = rk4_substeps(self.max_rate(bounds), self.dt, self.substeps, self.RATE_LIMIT)
        self.inner_dt = self.dt / self.inner_steps

    # ---------------------------------------------------------------- what a model states
    @abstractmethod
    def rates(self, values: Dict[str, Tensor], params: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """``F_p``: the time derivative of every dynamic field's values (phiml Tensors; a 0-D
        field's values are the field itself), from the values of every field (static ones
        included, as inputs)."""

    def max_rate(self, params: Mapping[str, float]) -> float:
        """The largest ``|eigenvalue|`` of the right-hand side's linear part with these scalar
        parameter values (the sub-step count keeps it times the sub-step under
        :attr:`RATE_LIMIT`); default 0 (one sub-step suffices)."""
        return 0.0

    # ---------------------------------------------------------------- values <-> state
    def _values(self, state: State) -> Dict[str, Tensor]:
        return {n: state[n] if self.dim == 0 else state[n].values for n in self.field_names}

    def _wrap(self, state: State, values: Mapping[str, Tensor]) -> State:
        if self.dim == 0:
            return {n: values[n] for n in self.dynamic_fields}
        return {n: self.converter.standardize(state[n].with_values(values[n])) for n in self.dynamic_fields}

    # ---------------------------------------------------------------- derivative and step
    def derivative(self, state: State, params: Dict[str, Tensor]) -> State:
        """``F_p(X; θ)`` as a state of time derivatives (the dynamic fields)."""
        return self._wrap(state, self.rates(self._values(state), params))

    def _step(self, state: State, params: Dict[str, Tensor]) -> State:
        values = self._values(state)
        static = {n: values[n] for n in self.static_fields}

        def f(x: Dict[str, Tensor]) -> Dict[str, Tensor]:
            return self.rates({**x, **static}, params)

        dynamic = {n: values[n] for n in self.dynamic_fields}
        return self._wrap(state, rk4(f, dynamic, self.dt, self.inner_steps))

    def validate_params(self, params: Mapping[str, Any]) -> None:
        """Bounds, then RK4 stability of the sub-step with these values (:meth:`max_rate`)."""
        super().validate_params(params)
        scalars = {}
        for name, value in params.items():
            host = host_values(value)
            if host is None:
                return  # traced: the values are not known here
            scalars[name] = float(abs(host).max()) if host.size else 0.0
        rate = self.max_rate(scalars)
        if rate * self.inner_dt > self.RATE_LIMIT:
            need = rk4_substeps(rate, self.dt, limit=self.RATE_LIMIT)
            raise PhysicsParameterError(
                f"physics parameters {scalars}: the fastest rate {rate:.4g} times the RK4 sub-step "
                f"{self.inner_dt:.4g} exceeds {self.RATE_LIMIT}; set physics.substeps >= {need}, lower the "
                "parameters' upper bounds, or a smaller physics.dt")
