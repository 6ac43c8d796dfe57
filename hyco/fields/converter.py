"""The one place that maps PhiFlow Fields to plain tensors ``[B, C, *spatial]`` and back."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from phi.field import CenteredGrid, Field, StaggeredGrid
from phi.geom import Box
from phi.torch import TORCH
from phiml import math
from phiml.math import Shape, batch, channel, dual, spatial

from hyco.core.console import quiet_phiml
from hyco.fields.specs import FieldSpec

quiet_phiml()  # before PhiML's first INFO line: its own handler printed each line twice
math.use(TORCH)

FieldOrState = Union[Field, Mapping[str, Field]]


class FieldTensorConverter:
    """Fields <-> torch tensors ``[B, C, *spatial]`` (and numpy arrays of the same layout).

    Representation
    --------------
    * Spatial axes are named ``x`` (1D) or ``x, y`` (2D); tensor axes ``2..`` follow that order
      (``ij`` indexing: ``t[b, c, i, j]`` is the sample at ``x_i, y_j``).
    * **Vector field, CenteredGrid**: ``C = dim``; channel ``c`` holds component ``c`` (components
      named like the spatial axes, in that order) at the cell centres.
    * **Vector field, periodic StaggeredGrid**: ``C = dim``; channel ``c`` holds component ``c``
      on the faces normal to axis ``c``: the ``N`` faces at ``x_c = lower + i dx_c`` (the face at
      the upper end is the one at the lower end), cell centres along the other axes. That is
      PhiFlow's uniform ``values.native('b,~vector,x,y')``.
    * **Vector field, StaggeredGrid with walls** (any non-periodic axis): PhiFlow's
      ``uniform_values()`` layout, ``N + 1`` entries on every axis: component ``c`` at face
      ``i`` normal to ``c`` (``i = 0..N``, both walls included), cell ``j`` along the other axes;
      the entries that are not faces of that component hold PhiFlow's boundary padding and are
      ignored on the way back. Exact round trip.
    * **Scalar field** (always a CenteredGrid): ``C = 1``, the cell-centre values.
    * A state ``{name: Field}`` is the concatenation of its fields' channels in the order of
      ``fields``. Fields whose own spatial shape is smaller than the state's (a centered field
      beside a walled staggered one) are zero-padded at the upper end of each axis, so one
      tensor holds them all; :meth:`to_field` crops the padding again.

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
    domain : float, sequence of float, or Box
        Edge length(s) of the box ``[0, L)`` per axis, or the box itself (any lower corner).
    fields : sequence of FieldSpec
        The fields of a state, in state (channel) order.
    """

    def __init__(
        self,
        spatial_names: Sequence[str],
        resolution: Sequence[int],
        domain: Union[float, Sequence[float], Box],
        fields: Sequence[FieldSpec],
    ) -> None:
        self.spatial_names: Tuple[str, ...] = tuple(spatial_names)
        self.resolution: Tuple[int, ...] = tuple(int(n) for n in resolution)
        if len(self.spatial_names) != len(self.resolution):
            raise ValueError(f"spatial_names {self.spatial_names} and resolution {self.resolution} differ in length")
        if isinstance(domain, Box):
            self.bounds = domain
        else:
            sizes = [float(domain)] * self.dim if np.isscalar(domain) else [float(s) for s in domain]
            self.bounds = Box(**{n: s for n, s in zip(self.spatial_names, sizes)})
        if not fields:
            raise ValueError("a converter needs at least one field")
        self.specs: Dict[str, FieldSpec] = {}
        for spec in fields:
            if spec.name in self.specs:
                raise ValueError(f"field '{spec.name}' declared twice")
            self.specs[spec.name] = spec.for_dim(self.dim)
        self.fields: Dict[str, int] = {n: s.channels(self.dim) for n, s in self.specs.items()}
        self.field_shapes: Dict[str, Tuple[int, ...]] = {n: s.sample_shape(self.resolution)
                                                         for n, s in self.specs.items()}
        # the state tensor's spatial shape: large enough for every field's own layout
        self.sample_shape: Tuple[int, ...] = tuple(max(sh[d] for sh in self.field_shapes.values())
                                                   for d in range(self.dim))
        self._templates: Dict[str, Field] = {}

    @property
    def dim(self) -> int:
        return len(self.resolution)

    @property
    def num_channels(self) -> int:
        """Channels of a whole state (sum over fields)."""
        return sum(self.fields.values())

    def is_vector(self, name: str) -> bool:
        return self.specs[name].kind == "vector"

    def _walled_staggered(self, name: str) -> bool:
        spec = self.specs[name]
        return spec.grid == "staggered" and not spec.periodic

    def _pad(self, t: torch.Tensor) -> torch.Tensor:
        """Zero-pad ``[B, C, *s]`` at the upper end of each axis up to :attr:`sample_shape`."""
        pads = []
        for d in reversed(range(self.dim)):
            pads += [0, self.sample_shape[d] - t.shape[2 + d]]
        return torch.nn.functional.pad(t, pads) if any(pads) else t

    # ---------------------------------------------------------------- Field -> tensor
    def to_tensor(self, x: FieldOrState) -> torch.Tensor:
        """A Field, or a state (then as :meth:`state_to_tensor`), as ``[B, C, *sample_shape]``."""
        if isinstance(x, Mapping):
            return self.state_to_tensor(x)
        values = x.values
        if x.is_staggered and values.shape.is_non_uniform:  # walls: N-1 or N faces per component
            values, comp = x.uniform_values(), "vector"
        else:
            comp = "~vector" if x.is_staggered else "vector"
        if comp in values.shape and values.shape.get_item_names(comp) != self.spatial_names:
            values = values[{comp: list(self.spatial_names)}]  # components in spatial-axis order
        outer = [d for d in values.shape.batch.names if d != "b"] + (["b"] if "b" in values.shape.batch else [])
        native = values.native([*outer, comp, *self.spatial_names])  # a missing comp -> C = 1
        return self._pad(native.reshape((-1, *native.shape[len(outer):])))

    def state_to_tensor(self, state: Mapping[str, Field], fields: Optional[Sequence[str]] = None) -> torch.Tensor:
        """A state as ``[B, sum C, *sample_shape]``, channels concatenated in ``fields`` order
        (default: every field of the converter)."""
        names = list(self.fields) if fields is None else list(fields)
        missing = [n for n in names if n not in state]
        if missing:
            raise KeyError(f"state lacks field(s) {missing}; expected {names}")
        parts = [self.to_tensor(state[n]) for n in names]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    # ---------------------------------------------------------------- tensor -> Field
    def _template(self, name: str) -> Field:
        # built once: with_values() swaps in new values without resampling (exact, cheap)
        if name not in self._templates:
            spec = self.specs[name]
            res = dict(zip(self.spatial_names, self.resolution))
            bc = spec.extrapolation(self.spatial_names)
            if spec.kind == "scalar":
                self._templates[name] = CenteredGrid(0, bc, bounds=self.bounds, **res)
            elif spec.grid == "staggered":
                self._templates[name] = StaggeredGrid(0, bc, bounds=self.bounds, **res)
            else:
                zero = math.zeros(channel(vector=",".join(self.spatial_names)))
                self._templates[name] = CenteredGrid(zero, bc, bounds=self.bounds, **res)
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
        """``[B, C, *sample_shape]`` (or the field's own shape) -> the Field ``name`` (default:
        the only field).

        ``batch_shape`` unflattens the leading axis (row-major, e.g. ``batch(time=T, b=B)``);
        default ``batch(b=B)``.
        """
        name = self._resolve_name(name)
        c = self.fields[name]
        own = self.field_shapes[name]
        if (tensor.ndim != 2 + self.dim or tensor.shape[1] != c
                or tuple(tensor.shape[2:]) not in (own, self.sample_shape)):
            raise ValueError(f"field '{name}': expected a [B, {', '.join(map(str, (c, *own)))}] tensor, "
                             f"got {tuple(tensor.shape)}")
        if tuple(tensor.shape[2:]) != own:
            tensor = tensor[(slice(None), slice(None), *(slice(0, n) for n in own))]
        bshape = batch(b=tensor.shape[0]) if batch_shape is None else batch_shape
        if bshape.volume != tensor.shape[0]:
            raise ValueError(f"batch_shape {bshape} does not match the leading size {tensor.shape[0]}")
        native = tensor.reshape((*bshape.sizes, *tensor.shape[1:]))
        sp = spatial(*self.spatial_names)
        spec = self.specs[name]
        comps = ",".join(self.spatial_names)
        if spec.kind == "scalar":
            values = math.tensor(native.select(bshape.rank, 0), bshape, sp)
        elif self._walled_staggered(name):
            # PhiFlow's uniform face layout; its constructor picks each component's own faces
            uniform = math.tensor(native.movedim(bshape.rank, -1), bshape, sp, channel(vector=comps))
            res = dict(zip(self.spatial_names, self.resolution))
            return StaggeredGrid(uniform, spec.extrapolation(self.spatial_names), bounds=self.bounds, **res)
        else:
            comp = dual(vector=comps) if spec.grid == "staggered" else channel(vector=comps)
            # Components last (a view): the native layout PhiFlow's operators return, so a jitted
            # step sees one signature for converted inputs and for its own outputs (one trace).
            values = math.tensor(native.movedim(bshape.rank, -1), bshape, sp, comp)
        return self._template(name).with_values(values)

    def standardize(self, f: Field) -> Field:
        """``f`` with its values re-wrapped in the layout :meth:`to_field` produces (batch dims,
        spatial axes, components last). Values are unchanged; phiml keys jit traces on the
        layout, so a step that ends with this traces once for inputs and outputs alike."""
        if f.is_staggered and f.values.shape.is_non_uniform:
            return f  # walled staggered: PhiFlow's own non-uniform layout, as to_field builds it
        v = f.values
        order = [*v.shape.batch.names, *self.spatial_names, *v.shape.dual.names, *v.shape.channel.names]
        return f.with_values(math.tensor(v.native(order), *(v.shape.only(n) for n in order)))

    def tensor_to_state(self, tensor: torch.Tensor, batch_shape: Optional[Shape] = None,
                        fields: Optional[Sequence[str]] = None) -> Dict[str, Field]:
        """``[B, sum C, *spatial]`` -> ``{name: Field}`` (inverse of :meth:`state_to_tensor`);
        ``fields`` (default: all) names the fields the channels hold, in order."""
        names = list(self.fields) if fields is None else list(fields)
        counts = [self.fields[n] for n in names]
        if tensor.ndim < 2 or tensor.shape[1] != sum(counts):
            raise ValueError(f"expected {sum(counts)} channels {dict(zip(names, counts))}, "
                             f"got shape {tuple(tensor.shape)}")
        parts = torch.split(tensor, counts, dim=1)
        return {n: self.to_field(t, n, batch_shape) for n, t in zip(names, parts)}

    def channel_slices(self, fields: Optional[Sequence[str]] = None) -> Dict[str, slice]:
        """Channel range of each field in a state tensor of ``fields`` (default: all)."""
        out, start = {}, 0
        for n in (list(self.fields) if fields is None else list(fields)):
            out[n] = slice(start, start + self.fields[n])
            start += self.fields[n]
        return out

    # ---------------------------------------------------------------- numpy (data generation, cache)
    def to_numpy(self, x: FieldOrState) -> Union[np.ndarray, Dict[str, np.ndarray]]:
        """float32 copies: a Field -> ``[B, C, *spatial]``; a state -> ``{name: [B, C, *spatial]}``."""
        if isinstance(x, Mapping):
            return {n: self.to_numpy(x[n]) for n in self.fields if n in x}
        return self.to_tensor(x).detach().to("cpu", torch.float32, copy=True).numpy()

    def from_numpy(self, arrays: Union[np.ndarray, Mapping[str, np.ndarray]], batch_shape: Optional[Shape] = None,
                   device: Optional[str] = None) -> Dict[str, Field]:
        """A state from one ``[B, sum C, *spatial]`` array or ``{name: [B, C, *spatial]}``, as
        float32 on ``device`` (default: PhiFlow's default torch device)."""
        dev = device or TORCH.get_default_device().ref

        def as_torch(a: np.ndarray) -> torch.Tensor:  # a copy: the state never aliases the caller's array
            return torch.tensor(np.asarray(a), dtype=torch.float32, device=dev)

        if isinstance(arrays, Mapping):
            return {n: self.to_field(as_torch(arrays[n]), n, batch_shape) for n in self.fields if n in arrays}
        return self.tensor_to_state(as_torch(arrays), batch_shape)

    def static_to_numpy(self, value: Any) -> np.ndarray:
        """A cell-centre scalar (0-d or spatial phiml Tensor, e.g. a true ``nu``) as float32
        ``[1, *resolution]`` — the cache's ``param_<name>`` layout; a 0-d value is broadcast."""
        if isinstance(value, math.Tensor) and value.shape.spatial.rank:
            arr = value.numpy(list(self.spatial_names))
        else:
            arr = np.full(self.resolution, float(value))
        return np.asarray(arr, dtype=np.float32).reshape((1, *self.resolution))
