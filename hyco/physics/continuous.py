"""Models stated by their continuous right-hand side and stepped by integrating it.

A :class:`ContinuousModel` writes ``dX/dt = F_p(X; θ)`` once (:meth:`ContinuousModel.rates`), on
plain torch tensors ``[B, C, *s]`` per field (:mod:`hyco.physics.tensor_ops`: phiml's per-operation
overhead made each evaluation 25 times slower at these sizes, and APHYNITY's continuous form
evaluates it four times per RK4 step). Its step is ``inner_steps`` classical RK4 steps of
``dt / inner_steps`` (:mod:`hyco.physics.integrators`), compiled like every model's step;
:meth:`~ContinuousModel.derivative` and :meth:`~ContinuousModel.tensor_derivative` hand ``F_p``
to APHYNITY's continuous form, which integrates ``F_p + F_a`` with the same RK4 function: with
``F_a = 0`` and as many RK4 steps per frame, the augmented forecaster *is* the physical model,
bit for bit (a test checks it).

``inner_steps = max(physics.substeps, n_stable)``, with ``n_stable`` from the fastest rate the
right-hand side can reach with parameters up to their upper bounds (:meth:`max_rate`), fixed per
model so that a new parameter value never retraces the step.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Callable, Dict, Mapping

import torch
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
    def rates(self, values: Dict[str, torch.Tensor], params: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``F_p``: the time derivative ``[B, C, *s]`` of every dynamic field, from the values of
        every field (static ones included, as inputs; converter layout, one tensor per field) and
        the parameters as torch tensors (scalars 0-d, fields ``[*resolution]``)."""

    def max_rate(self, params: Mapping[str, float]) -> float:
        """The largest ``|eigenvalue|`` of the right-hand side's linear part with these scalar
        parameter values (the sub-step count keeps it times the sub-step under
        :attr:`RATE_LIMIT`); default 0 (one sub-step suffices)."""
        return 0.0

    # ---------------------------------------------------------------- conversions
    def native_params(self, params: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
        """Parameters as torch tensors (their autograd graphs kept): scalars 0-d, fields ``[*resolution]``."""
        out = {}
        for name, value in params.items():
            if isinstance(value, Tensor):
                out[name] = value.native(list(self.spatial_names)) if value.shape.spatial.rank else value.native()
            else:
                out[name] = torch.as_tensor(value)
        return out

    def _tensors(self, state: State) -> Dict[str, torch.Tensor]:
        return {n: self.converter.to_tensor(state[n]) for n in self.field_names}

    def _state(self, tensors: Mapping[str, torch.Tensor]) -> State:
        return {n: self.converter.standardize(self.converter.to_field(tensors[n], n)) for n in self.dynamic_fields}

    # ---------------------------------------------------------------- derivative and step
    def derivative(self, state: State, params: Dict[str, Tensor]) -> State:
        """``F_p(X; θ)`` as a state of time derivatives (the dynamic fields)."""
        return self._state(self.rates(self._tensors(state), self.native_params(params)))

    def tensor_derivative(self, params: Dict[str, Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        """``F_p`` on state tensors ``[B, C_in, *s] -> [B, C_dyn, *s]`` (the model's static fields
        after the dynamic ones; further channels ignored), differentiable in the state and ``params``."""
        native = self.native_params(params)
        slices = self.converter.channel_slices()

        def derivative(x: torch.Tensor) -> torch.Tensor:
            x = x.to(self.device)
            rates = self.rates({n: x[:, s] for n, s in slices.items()}, native)
            return torch.cat([rates[n] for n in self.dynamic_fields], dim=1)

        return derivative

    def tensor_step(self, params: Dict[str, Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        """One step on state tensors ``[B, C_in, *s] -> [B, C_dyn, *s]``: RK4 on
        :meth:`tensor_derivative`, the same arithmetic as the compiled :meth:`step` (bit for bit, a
        test checks it) without a Field round trip per call, which cost the physical fits most of
        their time (15 ms per step at 32² × 4 on the loaded 2-core machine)."""
        rates = self.tensor_derivative(params)
        channels = sum(self.channels.values())

        def step(x: torch.Tensor) -> torch.Tensor:
            static = x[:, channels:self.converter.num_channels].to(self.device)

            def f(v: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
                return {"x": rates(torch.cat([v["x"], static], dim=1) if static.shape[1] else v["x"])}

            return rk4(f, {"x": x[:, :channels].to(self.device)}, self.dt, self.inner_steps)["x"]

        return step

    def _step(self, state: State, params: Dict[str, Tensor]) -> State:
        values = self._tensors(state)
        native = self.native_params(params)
        static = {n: values[n] for n in self.static_fields}

        def f(x: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
            return self.rates({**x, **static}, native)

        dynamic = {n: values[n] for n in self.dynamic_fields}
        return self._state(rk4(f, dynamic, self.dt, self.inner_steps))

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
