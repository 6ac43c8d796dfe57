"""The one place that maps PhiFlow Fields to plain tensors ``[B, C, *spatial]`` and back."""

from __future__ import annotations

from typing import Any, Collection, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from phi.field import CenteredGrid, Field, StaggeredGrid
from phi.geom import Box
from phi.torch import TORCH
from phiml import math
from phiml.math import Shape, batch, channel, dual, extrapolation, spatial

math.use(TORCH)

FieldOrState = Union[Field, Mapping[str, Field]]


class FieldTensorConverter:
    """Fields <-> torch tensors ``[B, C, *spatial]`` (and numpy arrays of the same layout).

    Representation
    --------------
    * Spatial axes are named ``x`` (1D) or ``x, y`` (2D); tensor axes ``2..`` follow that order
      (``ij`` indexing: ``t[b, c, i, j]`` is the sample at ``x_i, y_j``).
    * **Vector field, CenteredGrid**: ``C = dim``; channel ``c`` holds component ``c`` (components
      named like the spatial axes, in that order) at the cell centres ``((i + 1/2) dx, ...)``.
    * **Vector field, periodic StaggeredGrid**: ``C = dim``; channel ``c`` holds component ``c``
      on the faces normal to axis ``c``: the ``N`` faces at ``x_c = i dx_c`` (the face at ``L``
      is the face at ``0``), cell centres along the other axes. That is PhiFlow's uniform
      ``values.native('b,~vector,x,y')``. Closed (non-periodic) staggered grids are refused.
    * **Scalar field** (always a CenteredGrid): ``C = 1``, the cell-centre values.
    * A state ``{name: Field}`` is the concatenation of its fields' channels in the order of
      ``fields`` (the model's ``field_names``).

    Batch dimensions: a Field's batch dims are flattened into the leading tensor axis, row-major,
    with ``b`` innermost and any other batch dims (e.g. ``time``) outside it in the Field's order:
    a Field with ``batch(time=T, b=B)`` becomes ``[T * B, C, ...]`` with row ``t * B + b``. A
    Field without batch dims becomes ``[1, C, ...]``. Going back, ``batch_shape`` (default
    ``batch(b=<leading size>)``) says how to unflatten. Conversions are views where PhiFlow
    allows it, keep the device and dtype, and are differentiable (no detach, no numpy).

    Parameters
    ----------
    spatial_names : sequence of str
        ``('x',)`` or ``('x', 'y')``.
    resolution : sequence of int
        Cells per axis.
    domain_size : float or sequence of float
        Box edge length(s); the box is ``[0, L)`` per axis.
    grid : str
        ``'centered'`` or ``'staggered'`` for vector fields.
    fields : mapping of str to int
        Field name -> channel count, in state order. ``C == dim`` is a vector field, ``C == 1``
        (with ``dim > 1``) a scalar field; in 1D, list scalar fields in ``scalar_fields``.
    scalar_fields : collection of str
        Names to treat as scalar fields even when ``C == dim == 1``.
    boundary : Extrapolation
        Boundary of the Fields built by :meth:`to_field` (periodic by default).
    """

    def __init__(
        self,
        spatial_names: Sequence[str],
        resolution: Sequence[int],
        domain_size: Union[float, Sequence[float]] = 1.0,
        grid: str = "centered",
        fields: Optional[Mapping[str, int]] = None,
        scalar_fields: Collection[str] = (),
        boundary: Any = extrapolation.PERIODIC,
    ) -> None:
        self.spatial_names: Tuple[str, ...] = tuple(spatial_names)
        self.resolution: Tuple[int, ...] = tuple(int(n) for n in resolution)
        if len(self.spatial_names) != len(self.resolution):
            raise ValueError(f"spatial_names {self.spatial_names} and resolution {self.resolution} differ in length")
        sizes = [float(domain_size)] * self.dim if np.isscalar(domain_size) else [float(s) for s in domain_size]
        self.bounds = Box(**{n: s for n, s in zip(self.spatial_names, sizes)})
        self.grid = str(getattr(grid, "value", grid))
        if self.grid not in ("centered", "staggered"):
            raise ValueError(f"grid must be 'centered' or 'staggered', got '{self.grid}'")
        self.boundary = boundary
        if self.grid == "staggered" and boundary != extrapolation.PERIODIC:
            raise ValueError("only periodic StaggeredGrids have a uniform [B, dim, *N] layout")
        self.fields: Dict[str, int] = dict(fields if fields is not None else {"velocity": self.dim})
        self._vector: Dict[str, bool] = {}
        for name, c in self.fields.items():
            if c == self.dim and name not in scalar_fields:
                self._vector[name] = True
            elif c == 1:
                self._vector[name] = False
            else:
                raise ValueError(f"field '{name}': {c} channels is neither a scalar (1) nor a {self.dim}D vector")
        self._templates: Dict[str, Field] = {}

    @property
    def dim(self) -> int:
        return len(self.resolution)

    @property
    def num_channels(self) -> int:
        """Channels of a whole state (sum over fields)."""
        return sum(self.fields.values())

    def is_vector(self, name: str) -> bool:
        return self._vector[name]

    # ---------------------------------------------------------------- Field -> tensor
    def to_tensor(self, x: FieldOrState) -> torch.Tensor:
        """A Field, or a state (then as :meth:`state_to_tensor`), as ``[B, C, *spatial]``."""
        if isinstance(x, Mapping):
            return self.state_to_tensor(x)
        values = x.values
        comp = "~vector" if x.is_staggered else "vector"
        if x.is_staggered and x.extrapolation != extrapolation.PERIODIC:
            raise ValueError("closed StaggeredGrids have uneven face counts; only periodic ones convert")
        if comp in values.shape and values.shape.get_item_names(comp) != self.spatial_names:
            values = values[{comp: list(self.spatial_names)}]  # components in spatial-axis order
        outer = [d for d in values.shape.batch.names if d != "b"] + (["b"] if "b" in values.shape.batch else [])
        native = values.native([*outer, comp, *self.spatial_names])  # a missing comp -> C = 1
        return native.reshape((-1, *native.shape[len(outer):]))

    def state_to_tensor(self, state: Mapping[str, Field]) -> torch.Tensor:
        """A state as ``[B, sum C, *spatial]``, channels concatenated in ``fields`` order."""
        missing = [n for n in self.fields if n not in state]
        if missing:
            raise KeyError(f"state lacks field(s) {missing}; expected {list(self.fields)}")
        parts = [self.to_tensor(state[n]) for n in self.fields]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    # ---------------------------------------------------------------- tensor -> Field
    def _template(self, name: str) -> Field:
        # built once: with_values() swaps in new values without resampling (exact, cheap)
        if name not in self._templates:
            res = dict(zip(self.spatial_names, self.resolution))
            if not self._vector[name]:
                self._templates[name] = CenteredGrid(0, self.boundary, bounds=self.bounds, **res)
            elif self.grid == "staggered":
                self._templates[name] = StaggeredGrid(0, self.boundary, bounds=self.bounds, **res)
            else:
                zero = math.zeros(channel(vector=",".join(self.spatial_names)))
                self._templates[name] = CenteredGrid(zero, self.boundary, bounds=self.bounds, **res)
        return self._templates[name]

    def _resolve_name(self, name: Optional[str]) -> str:
        if name is None:
            if len(self.fields) != 1:
                raise ValueError(f"name required: the converter has fields {list(self.fields)}")
            return next(iter(self.fields))
        if name not in self.fields:
            raise KeyError(f"unknown field '{name}'; expected one of {list(self.fields)}")
        return name

    def to_field(self, tensor: torch.Tensor, name: Optional[str] = None, batch_shape: Optional[Shape] = None) -> Field:
        """``[B, C, *spatial]`` -> the Field ``name`` (default: the only field).

        ``batch_shape`` unflattens the leading axis (row-major, e.g. ``batch(time=T, b=B)``);
        default ``batch(b=B)``.
        """
        name = self._resolve_name(name)
        c = self.fields[name]
        expected = (c, *self.resolution)
        if tensor.ndim != 2 + self.dim or tuple(tensor.shape[1:]) != expected:
            raise ValueError(f"field '{name}': expected a [B, {', '.join(map(str, expected))}] tensor, got {tuple(tensor.shape)}")
        bshape = batch(b=tensor.shape[0]) if batch_shape is None else batch_shape
        if bshape.volume != tensor.shape[0]:
            raise ValueError(f"batch_shape {bshape} does not match the leading size {tensor.shape[0]}")
        native = tensor.reshape((*bshape.sizes, *tensor.shape[1:]))
        sp = spatial(*self.spatial_names)
        if not self._vector[name]:
            values = math.tensor(native.select(bshape.rank, 0), bshape, sp)
        else:
            comps = ",".join(self.spatial_names)
            comp = dual(vector=comps) if self.grid == "staggered" else channel(vector=comps)
            # Components last (a view): the native layout PhiFlow's operators return, so a jitted
            # step sees one signature for converted inputs and for its own outputs (one trace).
            values = math.tensor(native.movedim(bshape.rank, -1), bshape, sp, comp)
        return self._template(name).with_values(values)

    def standardize(self, f: Field) -> Field:
        """``f`` with its values re-wrapped in the layout :meth:`to_field` produces (batch dims,
        spatial axes, components last). Values are unchanged; phiml keys jit traces on the
        layout, so a step that ends with this traces once for inputs and outputs alike."""
        v = f.values
        order = [*v.shape.batch.names, *self.spatial_names, *v.shape.dual.names, *v.shape.channel.names]
        return f.with_values(math.tensor(v.native(order), *(v.shape.only(n) for n in order)))

    def tensor_to_state(self, tensor: torch.Tensor, batch_shape: Optional[Shape] = None) -> Dict[str, Field]:
        """``[B, sum C, *spatial]`` -> ``{name: Field}`` (inverse of :meth:`state_to_tensor`)."""
        if tensor.ndim < 2 or tensor.shape[1] != self.num_channels:
            raise ValueError(f"expected {self.num_channels} channels {self.fields}, got shape {tuple(tensor.shape)}")
        parts = torch.split(tensor, list(self.fields.values()), dim=1)
        return {n: self.to_field(t, n, batch_shape) for n, t in zip(self.fields, parts)}

    # ---------------------------------------------------------------- numpy (data generation, cache)
    def to_numpy(self, x: FieldOrState) -> Union[np.ndarray, Dict[str, np.ndarray]]:
        """float32 copies: a Field -> ``[B, C, *spatial]``; a state -> ``{name: [B, C, *spatial]}``."""
        if isinstance(x, Mapping):
            return {n: self.to_numpy(x[n]) for n in self.fields}
        return self.to_tensor(x).detach().to("cpu", torch.float32, copy=True).numpy()

    def from_numpy(self, arrays: Union[np.ndarray, Mapping[str, np.ndarray]], batch_shape: Optional[Shape] = None,
                   device: Optional[str] = None) -> Dict[str, Field]:
        """A state from one ``[B, sum C, *spatial]`` array or ``{name: [B, C, *spatial]}``, as
        float32 on ``device`` (default: PhiFlow's default torch device)."""
        dev = device or TORCH.get_default_device().ref

        def as_torch(a: np.ndarray) -> torch.Tensor:  # a copy: the state never aliases the caller's array
            return torch.tensor(np.asarray(a), dtype=torch.float32, device=dev)

        if isinstance(arrays, Mapping):
            return {n: self.to_field(as_torch(arrays[n]), n, batch_shape) for n in self.fields}
        return self.tensor_to_state(as_torch(arrays), batch_shape)

    def static_to_numpy(self, value: Any) -> np.ndarray:
        """A cell-centre scalar (0-d or spatial phiml Tensor, e.g. a true ``nu``) as float32
        ``[1, *spatial]`` — the cache's ``static_<name>`` layout; a 0-d value is broadcast."""
        if isinstance(value, math.Tensor) and value.shape.spatial.rank:
            arr = value.numpy(list(self.spatial_names))
        else:
            arr = np.full(self.resolution, float(value))
        return np.asarray(arr, dtype=np.float32).reshape((1, *self.resolution))
