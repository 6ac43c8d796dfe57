"""Field specs: what a physical model's state is made of.

A model declares each of its fields once (:class:`FieldSpec`): its name, whether it is a scalar or
a vector, the grid it lives on (cell centres or faces), its boundary per axis and its role
(*dynamic*: stepped by the model and predicted by the network; *static*: a known input such as
an advecting velocity, constant in time). The converter, the data cache, the dataset, the
networks (channels, padding), the observation operator and the evaluation read these specs;
nothing else names a field.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence, Tuple, Union

from phiml.math import extrapolation

from hyco.errors import ConfigError

KINDS = ("scalar", "vector")
GRIDS = ("centered", "staggered")
ROLES = ("dynamic", "static")
#: boundary name -> PhiFlow extrapolation of the field's values
BOUNDARIES = {
    "periodic": extrapolation.PERIODIC,
    "dirichlet": extrapolation.ZERO,  # zero value on the wall (zero normal velocity for a staggered vector)
    "neumann": extrapolation.ZERO_GRADIENT,  # zero normal derivative
}


def parse_boundary(value: Union[str, Sequence[str]], dim: int, key: str = "boundary") -> Tuple[str, ...]:
    """One boundary name per axis from ``'periodic'``, ``'periodic,dirichlet'`` or a list.

    Raises :class:`ConfigError` naming ``key`` for an unknown name or a wrong number of axes.
    """
    names = [s.strip() for s in value.split(",")] if isinstance(value, str) else [str(s) for s in value]
    if len(names) == 1:
        names = names * dim
    if len(names) != dim:
        raise ConfigError(f"{key}: needs one boundary or one per axis ({dim}), got {names}")
    unknown = [n for n in names if n not in BOUNDARIES]
    if unknown:
        raise ConfigError(f"{key}: unknown boundary {unknown}; choose from {list(BOUNDARIES)} (one, or one per axis)")
    return tuple(names)


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One field of a model's state.

    Attributes
    ----------
    name : str
        Field name (``velocity``, ``u``, ``smoke``); the cache stores ``truth_<name>`` etc.
    kind : str
        ``'scalar'`` (one channel) or ``'vector'`` (``dim`` channels, components in axis order).
    grid : str
        ``'centered'`` (cell centres) or ``'staggered'`` (vector components on the faces normal to
        their axis).
    boundary : tuple of str
        One of :data:`BOUNDARIES` per axis.
    role : str
        ``'dynamic'`` (stepped and predicted) or ``'static'`` (a known, time-constant input).
    """

    name: str
    kind: str = "vector"
    grid: str = "centered"
    boundary: Tuple[str, ...] = ("periodic",)
    role: str = "dynamic"

    def __post_init__(self) -> None:
        where = f"field '{self.name}'"
        if self.kind not in KINDS:
            raise ConfigError(f"{where}: kind must be one of {KINDS}, got '{self.kind}'")
        if self.grid not in GRIDS:
            raise ConfigError(f"{where}: grid must be one of {GRIDS}, got '{self.grid}'")
        if self.grid == "staggered" and self.kind != "vector":
            raise ConfigError(f"{where}: only vector fields can be staggered")
        if self.role not in ROLES:
            raise ConfigError(f"{where}: role must be one of {ROLES}, got '{self.role}'")
        unknown = [b for b in self.boundary if b not in BOUNDARIES]
        if unknown:
            raise ConfigError(f"{where}: unknown boundary {unknown}; choose from {list(BOUNDARIES)}")

    def with_boundary(self, boundary: Tuple[str, ...]) -> "FieldSpec":
        return dataclasses.replace(self, boundary=tuple(boundary))

    def for_dim(self, dim: int) -> "FieldSpec":
        """The spec with one boundary entry per axis (a single entry is broadcast)."""
        if len(self.boundary) == dim:
            return self
        if len(self.boundary) == 1:
            return self.with_boundary(self.boundary * dim)
        raise ConfigError(f"field '{self.name}': {len(self.boundary)} boundaries for a {dim}D grid")

    def channels(self, dim: int) -> int:
        return dim if self.kind == "vector" else 1

    @property
    def periodic(self) -> bool:
        return all(b == "periodic" for b in self.boundary)

    def extrapolation(self, spatial_names: Sequence[str]):
        """PhiFlow's extrapolation for this field (per axis where the boundaries differ)."""
        if len(set(self.boundary)) == 1:
            return BOUNDARIES[self.boundary[0]]
        return extrapolation.combine_sides(**{n: BOUNDARIES[b] for n, b in zip(spatial_names, self.boundary)})

    def sample_shape(self, resolution: Sequence[int]) -> Tuple[int, ...]:
        """Spatial shape of this field's tensor: the cells, or for a non-periodic staggered field
        PhiFlow's uniform face layout, ``N + 1`` on every axis (unused entries are zero)."""
        if self.grid == "staggered" and not self.periodic:
            return tuple(int(n) + 1 for n in resolution)
        return tuple(int(n) for n in resolution)


def padding_mode(specs: Sequence[FieldSpec]) -> str:
    """The convolution padding that matches the fields' boundaries: ``circular`` when every axis
    of every field is periodic, ``replicate`` when the walls are all zero-gradient, else
    ``zeros`` (zero-value walls; a torch convolution pads every axis alike, so a mix of periodic
    and walled axes also pads with zeros)."""
    bounds = {b for s in specs for b in s.boundary}
    if bounds == {"periodic"}:
        return "circular"
    if bounds <= {"periodic", "neumann"} and "neumann" in bounds and "periodic" not in bounds:
        return "replicate"
    return "zeros"
