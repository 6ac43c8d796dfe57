"""Static problems: a physical model with no time axis, whose solve maps the parameters to one state.

The papers' static benchmarks (Helmholtz, Darcy) identify the coefficients of an elliptic equation
from scattered measurements of its solution: there is no initial state and no rollout, only
``u = solve(theta)``. A static model is a :class:`~hyco.physics.base.PhysicalModel` (fields,
boundaries, parameters with their families, truth, residual, registry and config are the same)
with ``TIME_DEPENDENT = False`` and :meth:`StaticModel.solve` in place of a time step. The engine
treats a static problem as a reconstruction problem with one frame and no time input: the data are
scattered points ``(x[, y])`` of that frame (``data.num_frames=1``), the physical player's
"trajectory" is its solution, the neural field takes the coordinates only, and ghost points,
scores and figures are taken at that one frame (:mod:`hyco.data.scattered`).

Parameters of a static model are plain torch tensors (a static solve never enters PhiFlow), in the
dtype they were given (float32 from the optimiser, float64 for checks).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Dict, Mapping, Optional

import numpy as np
import torch

from hyco.errors import PhysicsParameterError
from hyco.fields.interpolate import interpolate
from hyco.physics.base import PhysicalModel, State


class StaticModel(PhysicalModel):
    """A model without a time axis (module docstring): subclasses implement :meth:`solve`."""

    TIME_DEPENDENT = False

    # ---------------------------------------------------------------- no time step
    def _step(self, state: State, params: Dict[str, Any]) -> State:
        raise TypeError(f"{type(self).__name__} is static (no time axis): it has no step; use solve(params)")

    def initial_state(self, batch: int, seed: Any) -> State:
        raise TypeError(f"{type(self).__name__} is static: it has no initial state; its solve maps the parameters "
                        "to the solution")

    def tensor_rollout(self, x0: torch.Tensor, steps: int, params: Dict[str, Any]) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} is static: nothing to roll out; use solve(params)")

    # ---------------------------------------------------------------- the solve
    @abstractmethod
    def solve(self, params: Mapping[str, Any], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The solution of the dynamic fields for ``params`` (:meth:`params_from_values`):
        ``[C, *sample_shape]`` in ``dtype``, differentiable in every parameter tensor."""

    def solution_points(self) -> np.ndarray:
        """Where the solution is sampled: ``[*sample_shape, dim]`` (the nodes of a node layout)."""
        return np.stack(self.cell_centres(), axis=-1)

    def read(self, solution: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """``solution [C, *s]`` at ``points [P, dim]``: ``[P, C]``, multilinear between the samples
        (bilinear on the node grid, as the papers' ``RegularGridInterpolator``), differentiable."""
        first = tuple(self.domain_origin + 0.5 * h for h in self.dx)
        periodic = tuple(b == "periodic" for b in self.field_specs[0].boundary)
        return interpolate(solution, first, self.dx, points.to(solution.dtype), periodic, outside="zero").T

    # ---------------------------------------------------------------- parameters as torch tensors
    def coefficient_shape(self, name: str) -> tuple:
        """The shape of a field (or family) parameter's values: the sample grid by default."""
        return self.resolution

    def _param_tensor(self, name: str, value: Any) -> torch.Tensor:
        """One value as a torch tensor on the model's device, float32 unless given in float64
        (a scalar 0-d; a field or family parameter of :meth:`coefficient_shape`, a number broadcast)."""
        from phiml.math import Tensor

        spec = self.param_specs[name]
        if isinstance(value, Tensor):
            value = value.native(value.shape.names) if value.shape.rank else value.native()
        native = torch.as_tensor(value, device=self._device())
        if native.dtype != torch.float64:
            native = native.to(torch.float32)
        if spec.kind == "scalar" or native.ndim == 0:
            if native.numel() != 1:
                raise PhysicsParameterError(f"physics parameter '{name}' is a scalar; got shape {tuple(native.shape)}")
            native = native.reshape(())
            if spec.kind == "scalar":
                return native
            native = native.expand(self.coefficient_shape(name))
        if tuple(native.shape) != tuple(self.coefficient_shape(name)):
            raise PhysicsParameterError(f"physics parameter '{name}' has the shape {self.coefficient_shape(name)}; got "
                                        f"{tuple(native.shape)}")
        return native

    def params_at(self, values: Mapping[str, torch.Tensor], points: Optional[torch.Tensor],
                  thetas: Optional[Mapping[str, torch.Tensor]] = None) -> Dict[str, torch.Tensor]:
        """Parameters at ``points [N, dim]`` for a continuous residual: a family parameter
        evaluated exactly from its scalars ``thetas[name]`` (differentiable in them and in the
        points, so the residual sees the coefficient's own gradient; a fixed one from its
        ``initial_theta``), a scalar as it is."""
        out: Dict[str, torch.Tensor] = {}
        for name, value in values.items():
            spec = self.param_specs[name]
            if spec.kind == "family":  # a fixed (not learnable) family keeps its initial scalars
                theta = (thetas or {}).get(name)
                if theta is None:
                    theta = torch.tensor(spec.initial_theta, dtype=points.dtype, device=points.device)
                out[name] = self.family_at(name, theta, points)
            elif spec.kind == "scalar":
                out[name] = torch.as_tensor(value)
            else:
                raise ValueError(f"params_at: a static model's parameter '{name}' of kind {spec.kind} has no value "
                                 "at arbitrary points")
        return out
