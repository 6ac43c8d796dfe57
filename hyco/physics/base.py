"""Physical models: parameter specs, the :class:`PhysicalModel` interface and its registry.

A physical model steps a state ``Dict[str, Field]`` (batch dimension ``batch('b')``) with a few
interpretable parameters passed as phiml Tensors. ``step`` is jit-compiled once per model; the
parameters are *arguments* of the compiled function, so changing their values (an optimiser
step) does not retrace. New PDEs are one module with a ``@register_physics("name")`` class.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import (
    Any,
    Callable,
    ClassVar,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np
import torch
from phi.geom import Box
from phi.torch import TORCH
from phiml import math
from phiml.math import Tensor, batch, channel, spatial

from hyco.errors import ConfigError, DerivativeNotDefined, PhysicsParameterError, ResidualNotDefined
from hyco.fields import FieldSpec, parse_boundary
from hyco.fields.converter import FieldTensorConverter
from hyco.physics.ic import sample_prior
from hyco.physics.params import ParamSpec
from hyco.physics.profiles import profile_values
from hyco.physics.residuals import Derivatives, scalar_or_field

math.use(TORCH)

State = Dict[str, Any]  # field name -> phi.field.Field


@dataclasses.dataclass(frozen=True)
class TinyCase:
    """A configuration of a model small enough for the contract tests (milliseconds per step).

    Every registered model declares at least one in :attr:`PhysicalModel.TINY_CASES`; the tests
    run each one through the model contract (round trip, single trace, gradients) and, when it
    names an experiment ``preset``, through every arm end to end. A new PDE (built-in or plug-in)
    is covered by declaring its case; no test list is edited.

    Attributes
    ----------
    physics
        A ``PhysicsConfig`` mapping on a tiny grid.
    ic
        Its initial-condition prior's config (None: the model's default prior).
    invalid
        ``(parameter, value)`` pairs that :meth:`PhysicalModel.validate_params` must refuse,
        naming the parameter.
    preset
        An experiment preset (``conf/experiment/``) whose physics this case replaces, for runs
        through every arm (None: the case is only checked at the model level).
    """

    physics: Mapping[str, Any]
    ic: Optional[Mapping[str, Any]] = None
    invalid: Tuple[Tuple[str, float], ...] = ()
    preset: Optional[str] = None


# ------------------------------------------------------------------------------------------------
# the model interface
# ------------------------------------------------------------------------------------------------
class PhysicalModel(ABC):
    """A differentiable, jit-compiled PDE solver on a box.

    Subclasses declare their fields (``FIELDS``, :class:`~hyco.fields.FieldSpec`), the
    boundaries their scheme supports (``BOUNDARIES``), the parameters they need (``PARAMS``),
    their default initial-condition prior (``IC_PRIOR``), and implement :meth:`_step` (pure: no
    I/O, no Python-side state changes — it runs under ``math.jit_compile``). Static fields are
    inputs of the step; the base class carries them from one state to the next.

    Parameters
    ----------
    resolution : sequence of int
        Cells per axis; its length is the dimension (axes ``x`` or ``x, y``).
    domain_size : float
        Edge length ``L`` of the box ``[origin, origin + L)^dim``.
    dt : float
        Time step of :meth:`step`.
    param_specs : mapping of str to ParamSpec
    grid : str
        ``'centered'`` or ``'staggered'``: how the model's vector fields are sampled (models
        with ``GRIDS = ('centered',)`` refuse ``'staggered'``).
    substeps : int
        Minimum number of sub-steps for stiff sub-operators (model specific).
    ic : mapping, optional
        The initial-condition prior's config (``name`` and its knobs, see :mod:`hyco.physics.ic`).
    jit : bool
        Compile :meth:`step` with ``math.jit_compile`` (default) or run it eagerly.
    boundary : str or sequence of str
        Overrides the declared boundary of every field: one name or one per axis; empty keeps
        the model's own.
    domain_origin : float
        Lower corner of the box on every axis.
    terms : sequence of str
        The terms of the equation that act (a subset of ``TERMS``); empty: all of them.
    jit_frames : int
        Frames compiled into one trace by :meth:`tensor_rollout` (1: a trace of one step, called
        once per frame). More frames trade a longer first trace for less per-call overhead, which
        dominates on small grids: the heat papers' 18 x 18 learner steps 99 frames in one call.
    """

    name: ClassVar[str] = ""
    FIELDS: ClassVar[Tuple[FieldSpec, ...]] = ()
    BOUNDARIES: ClassVar[Tuple[str, ...]] = ("periodic",)
    GRIDS: ClassVar[Tuple[str, ...]] = ("centered",)
    PARAMS: ClassVar[Tuple[str, ...]] = ()
    IC_PRIOR: ClassVar[str] = "fourier"
    #: the spatial dimensions the model steps: 1, 2, or 0 for an ODE system (a state without
    #: spatial axes, ``resolution: []``: its fields are scalars, phiml Tensors with batch dims only)
    DIMS: ClassVar[Tuple[int, ...]] = (1, 2)
    #: the equation's terms that ``physics.terms`` may switch off (an incomplete physics for the
    #: learner while the truth keeps all of them); empty: the model has no optional terms
    TERMS: ClassVar[Tuple[str, ...]] = ()
    #: the model's own options (``physics.options``) and their defaults, e.g. heat's operator form
    OPTIONS: ClassVar[Mapping[str, Any]] = {}
    #: tiny configurations for the contract tests, by case name (:class:`TinyCase`)
    TINY_CASES: ClassVar[Dict[str, TinyCase]] = {}
    #: False for a static problem (:class:`hyco.physics.static.StaticModel`): no time axis, one
    #: solution of the parameters instead of a rollout from an initial state
    TIME_DEPENDENT: ClassVar[bool] = True

    def __init__(
        self,
        resolution: Sequence[int],
        domain_size: float,
        dt: float,
        param_specs: Mapping[str, ParamSpec],
        grid: str = "centered",
        substeps: int = 1,
        ic: Optional[Mapping[str, Any]] = None,
        jit: bool = True,
        boundary: Union[str, Sequence[str]] = "",
        domain_origin: float = 0.0,
        terms: Sequence[str] = (),
        layout: str = "cells",
        options: Optional[Mapping[str, Any]] = None,
        jit_frames: int = 1,
    ) -> None:
        self.resolution: Tuple[int, ...] = tuple(int(n) for n in resolution)
        if len(self.resolution) not in self.DIMS:
            raise ConfigError(f"physics.resolution: {type(self).__name__} takes "
                              f"{' or '.join(f'{d}D' for d in self.DIMS)} states, got {list(self.resolution)}")
        self.domain_size = float(domain_size)
        if not self.domain_size > 0:
            raise ConfigError(f"physics.domain_size: must be positive, got {domain_size}")
        self.domain_origin = float(domain_origin)
        self.layout = str(getattr(layout, "value", layout))
        if self.layout not in ("cells", "nodes"):
            raise ConfigError(f"physics.layout: cells or nodes, got {self.layout!r}")
        if self.layout == "nodes":
            # nodes from the box's lower to its upper corner, spacing h = L / (N - 1): internally a
            # cell grid whose centres are the nodes (the box grows by h / 2 on every side)
            if len(set(self.resolution)) != 1 or self.resolution[0] < 3:
                raise ConfigError(f"physics.resolution: layout nodes needs the same node count (>= 3) on every "
                                  f"axis, got {list(self.resolution)}")
            h = self.domain_size / (self.resolution[0] - 1)
            self.node_box = (self.domain_origin, self.domain_size)
            self.domain_origin, self.domain_size = self.domain_origin - h / 2, self.domain_size + h
        unknown_options = sorted(set(options or {}) - set(self.OPTIONS))
        if unknown_options:
            raise ConfigError(f"physics.options: {unknown_options} are not options of {type(self).__name__}; "
                              f"its options are {dict(self.OPTIONS) or 'none'}")
        self.options: Dict[str, Any] = {**self.OPTIONS, **dict(options or {})}
        self.dt = float(dt)
        self.grid = str(getattr(grid, "value", grid))
        if self.grid not in self.GRIDS:
            raise ConfigError(f"physics.grid: {type(self).__name__} supports {list(self.GRIDS)}, got '{self.grid}'")
        self.substeps = int(substeps)
        unknown = [t for t in terms if t not in self.TERMS]
        if unknown:
            known = f"; its terms are {list(self.TERMS)}" if self.TERMS else ", which has no optional terms"
            raise ConfigError(f"physics.terms: {unknown} are not terms of {type(self).__name__}{known}")
        self.terms: Tuple[str, ...] = tuple(terms) or self.TERMS
        self.param_specs: Dict[str, ParamSpec] = dict(param_specs)
        if self.PARAMS and set(self.param_specs) != set(self.PARAMS):
            raise ConfigError(f"physics.params: {type(self).__name__} has the parameters {list(self.PARAMS)}, "
                              f"got {list(self.param_specs)}")
        self.ic: Dict[str, Any] = dict(ic or {})
        self.ic.setdefault("name", self.IC_PRIOR)
        self.ic_max_wavenumber = int(self.ic.get("max_wavenumber", 4))
        self.ic_amplitude = float(self.ic.get("amplitude", 1.0))
        self.ic_decay = float(self.ic.get("decay", 1.0))
        if not self.FIELDS:
            raise TypeError(f"{type(self).__name__} declares no FIELDS; "
                            "a model names its fields (hyco.fields.FieldSpec)")
        self.field_specs: Tuple[FieldSpec, ...] = self._resolve_fields(boundary)
        self.converter = FieldTensorConverter(self.spatial_names, self.resolution, self.bounds_box(),
                                              self.field_specs)
        self._jit = bool(jit)
        self._walls = self._wall_masks()
        self._step_jit: Callable = math.jit_compile(self._step_with_walls) if jit else self._step_with_walls
        self.jit_frames = int(jit_frames)
        if self.jit_frames < 1:
            raise ConfigError(f"physics.jit_frames: frames per compiled trace, >= 1, got {jit_frames}")
        if self.jit_frames > 1 and type(self).step is not PhysicalModel.step:
            raise ConfigError(f"physics.jit_frames: {type(self).__name__} checks every step itself (its own step()), "
                              f"so it cannot compile several frames into one trace; use 1")
        self._frames_jit: Callable = (math.jit_compile(self._frames, auxiliary_args="count") if jit
                                      else self._frames)

    def _wall_masks(self) -> Dict[str, Tensor]:
        """Layout nodes: per field with zero-value (Dirichlet) walls, 1 inside and 0 on the wall
        nodes, which the step holds at zero."""
        if self.layout != "nodes":
            return {}
        masks = {}
        for spec in self.field_specs:
            if spec.role != "dynamic":
                continue
            if any(b == "periodic" for b in spec.boundary) or spec.kind != "scalar":
                raise ConfigError(f"physics.layout: nodes supports scalar fields with walls; '{spec.name}' is "
                                  f"{spec.kind} with boundaries {list(spec.boundary)}")
            mask = np.ones(self.resolution)
            for axis, b in enumerate(spec.boundary):
                if b == "dirichlet":
                    index = [slice(None)] * self.dim
                    for end in (0, -1):
                        index[axis] = end
                        mask[tuple(index)] = 0.0
            if not mask.all():
                masks[spec.name] = math.tensor(torch.as_tensor(mask, dtype=torch.float32, device=self._device()),
                                               spatial(*self.spatial_names))
        return masks

    def _step_with_walls(self, state: State, params: Dict[str, Tensor]) -> State:
        out = self._step(state, params)
        for name, mask in self._walls.items():
            out[name] = out[name].with_values(out[name].values * mask)
        return out

    def _resolve_fields(self, boundary: Union[str, Sequence[str]]) -> Tuple[FieldSpec, ...]:
        override = parse_boundary(boundary, self.dim, "physics.boundary") if boundary else None
        if override is not None and any(b not in self.BOUNDARIES for b in override):
            raise ConfigError(f"physics.boundary: {type(self).__name__} supports {list(self.BOUNDARIES)}, "
                              f"got {list(override)}")
        specs = []
        for spec in self.FIELDS:
            spec = spec.for_dim(self.dim)
            if override is not None:
                spec = spec.with_boundary(override)
            if spec.kind == "vector":
                spec = dataclasses.replace(spec, grid=self.grid)
            specs.append(spec)
        return tuple(specs)

    # ---------------------------------------------------------------- fields
    @property
    def dynamic_fields(self) -> Tuple[str, ...]:
        """Fields stepped by the model and predicted by the network, in state order."""
        return tuple(s.name for s in self.field_specs if s.role == "dynamic")

    @property
    def static_fields(self) -> Tuple[str, ...]:
        """Known, time-constant input fields (after the dynamic ones in a state tensor)."""
        return tuple(s.name for s in self.field_specs if s.role == "static")

    @property
    def field_names(self) -> Tuple[str, ...]:
        return tuple(s.name for s in self.field_specs)

    def spec(self, name: str) -> FieldSpec:
        for s in self.field_specs:
            if s.name == name:
                return s
        raise KeyError(f"field '{name}': the model {type(self).__name__} has {list(self.field_names)}")

    @property
    def time_dependent(self) -> bool:
        """Whether the model steps in time (False: a static problem, :mod:`hyco.physics.static`)."""
        return bool(self.TIME_DEPENDENT)

    def check_learner(self) -> None:
        """Raise :class:`~hyco.errors.ConfigError` if this configuration may generate data but not
        learn (a closed-form truth that ignores its parameters); default: it may do both."""

    def exact_values(self, points: np.ndarray, time: float = 0.0) -> Optional[np.ndarray]:
        """The model's solution in closed form at ``points [P, dim]`` as ``[P, C]`` (a truth that is
        known analytically, read exactly rather than interpolated from a grid); None (the default):
        it has none, and its grid is read by interpolation."""
        return None

    # ---------------------------------------------------------------- geometry
    @property
    def dim(self) -> int:
        return len(self.resolution)

    @property
    def spatial_names(self) -> Tuple[str, ...]:
        return ("x", "y", "z")[: self.dim]

    @property
    def channels(self) -> Dict[str, int]:
        """Channels per *dynamic* field in the tensor representation (vector fields: ``dim``)."""
        return {s.name: s.channels(self.dim) for s in self.field_specs if s.role == "dynamic"}

    @property
    def dx(self) -> Tuple[float, ...]:
        return tuple(self.domain_size / n for n in self.resolution)

    @property
    def domain_lower(self) -> Tuple[float, ...]:
        return (self.domain_origin,) * self.dim

    def bounds_box(self) -> Box:
        return Box(**{n: (self.domain_origin, self.domain_origin + self.domain_size) for n in self.spatial_names})

    @property
    def bounds(self) -> Box:
        return self.converter.bounds

    def cell_centres(self) -> List[np.ndarray]:
        """Cell-centre coordinates per axis, broadcastable to ``resolution`` (``ij`` indexing)."""
        axes = [self.domain_origin + (np.arange(n) + 0.5) * h for n, h in zip(self.resolution, self.dx)]
        return list(np.meshgrid(*axes, indexing="ij"))

    def sample_points(self, name: str) -> List[np.ndarray]:
        """Where each component of field ``name`` is sampled: one ``[*field_shape, dim]`` array of
        coordinates per component (scalar fields: one), in the converter's layout."""
        spec = self.spec(name)
        shape = spec.sample_shape(self.resolution)
        comps = self.dim if spec.kind == "vector" else 1
        points = []
        for c in range(comps):
            axes = []
            for d, (n, h) in enumerate(zip(shape, self.dx)):
                i = np.arange(n, dtype=np.float64)
                on_face = spec.grid == "staggered" and d == c
                # face i sits half a cell below centre i (written this way: the same floats as
                # the centres shifted, so centered and staggered samples of a function agree)
                axes.append(self.domain_origin + (i + 0.5) * h - (0.5 * h if on_face else 0.0))
            points.append(np.stack(np.meshgrid(*axes, indexing="ij"), -1))
        return points

    def pad_to_field(self, name: str, arr: np.ndarray) -> np.ndarray:
        """Zero the entries of a ``[B, C, *field_shape]`` array that are not samples of the field
        (a walled staggered layout has ``N + 1`` entries on every axis, component ``c`` only
        ``N`` along the other axes; the converter ignores them)."""
        spec = self.spec(name)
        if spec.grid != "staggered" or spec.periodic:
            return arr
        arr = np.array(arr, copy=True)
        for c in range(self.dim):
            for d in range(self.dim):
                if d != c:
                    index = [slice(None), c] + [slice(None)] * self.dim
                    index[2 + d] = slice(self.resolution[d], None)
                    arr[tuple(index)] = 0.0
        return arr

    # ---------------------------------------------------------------- parameters
    @property
    def device(self) -> torch.device:
        """Where the model's tensors live: PhiFlow's default torch device, which
        :func:`build_physics` points at the configured ``device`` (CUDA on a GPU machine)."""
        return torch.device(TORCH.get_default_device().ref)

    def _device(self) -> str:
        return TORCH.get_default_device().ref

    def _param_tensor(self, name: str, value: Any) -> Tensor:
        """One value (float, numpy, torch, phiml) as the parameter's phiml Tensor, on the default
        torch device; torch tensors keep their autograd graph."""
        spec = self.param_specs[name]
        if isinstance(value, Tensor):
            value = value.native(list(self.spatial_names)) if value.shape.rank else value.native()
        native = torch.as_tensor(value, dtype=torch.float32, device=self._device())
        if spec.kind == "scalar" or native.ndim == 0:
            if native.numel() != 1:
                raise PhysicsParameterError(f"physics parameter '{name}' is a scalar; got shape {tuple(native.shape)}")
            native = native.reshape(())
            if spec.kind == "scalar":
                return math.tensor(native)
            native = native.expand(self.resolution)  # a number for a field parameter: uniform field
        if tuple(native.shape) != self.resolution:
            raise PhysicsParameterError(
                f"physics parameter '{name}' is a field on the grid {self.resolution}; got shape {tuple(native.shape)}"
            )
        return math.tensor(native, spatial(*self.spatial_names))

    def params_from_values(self, values: Mapping[str, Any]) -> Dict[str, Tensor]:
        """Parameters from floats / numpy arrays / torch tensors / phiml Tensors (differentiable)."""
        unknown = sorted(set(values) - set(self.param_specs))
        if unknown:
            raise PhysicsParameterError(f"unknown physics parameter(s) {unknown}; "
                                        f"the model has {list(self.param_specs)}")
        missing = sorted(set(self.param_specs) - set(values))
        if missing:
            raise PhysicsParameterError(f"missing physics parameter(s) {missing}")
        return {name: self._param_tensor(name, values[name]) for name in self.param_specs}

    def true_params(self) -> Dict[str, Tensor]:
        """The truth used for data: scalars as 0-d tensors, fields at cell centres
        ``true_value * (1 + a * profile(x))`` or ``true_value + a * profile(x)`` (see
        :mod:`hyco.physics.profiles`)."""
        out = {}
        for name, spec in self.param_specs.items():
            if spec.kind == "scalar":
                out[name] = spec.true_value
            elif spec.kind == "family":
                out[name] = self.family_field(name, torch.tensor(spec.true_theta, dtype=torch.float64))
            else:
                prof = profile_values(spec.true_profile, self.cell_centres(), self.domain_size, self.domain_lower,
                                      spec.profile_args)
                out[name] = (spec.true_value * (1.0 + spec.profile_amplitude * prof) if spec.profile_scale == "relative"
                             else spec.true_value + spec.profile_amplitude * prof)
        return self.params_from_values(out)

    def initial_params(self) -> Dict[str, Tensor]:
        """The starting point of a fit (a uniform field for ``kind='field'``, the field of
        ``initial_theta`` for ``kind='family'``)."""
        return self.params_from_values({
            n: (self.family_field(n, torch.tensor(s.initial_theta, dtype=torch.float64)) if s.kind == "family"
                else s.initial_guess) for n, s in self.param_specs.items()})

    # ---------------------------------------------------------------- parametric families
    def family_field(self, name: str, theta: torch.Tensor) -> torch.Tensor:
        """The field of family parameter ``name`` generated from ``theta`` at the grid's sample
        positions (differentiable in ``theta``), ``[*resolution]``."""
        from hyco.physics.families import FAMILIES

        spec = self.param_specs[name]
        coords = torch.as_tensor(np.stack(self.cell_centres(), -1), dtype=theta.dtype, device=theta.device)
        return FAMILIES.get(spec.family).field(theta, coords, spec.family_args)

    def family_at(self, name: str, theta: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Family parameter ``name`` of scalars ``theta`` at arbitrary ``points [N, dim]``: ``[N]``,
        exactly (no grid), differentiable in ``theta`` and in the points."""
        from hyco.physics.families import FAMILIES

        spec = self.param_specs[name]
        return FAMILIES.get(spec.family).field(theta, points, spec.family_args)

    def theta_names(self, name: str) -> List[str]:
        """The names of the scalars of family parameter ``name`` (``A1``, ``x1``, ...)."""
        from hyco.physics.families import FAMILIES

        spec = self.param_specs[name]
        return FAMILIES.get(spec.family).names(spec.family_args, self.dim)

    def validate_params(self, params: Mapping[str, Any]) -> None:
        """Raise :class:`PhysicsParameterError` if a parameter is missing, unknown or out of
        bounds. Subclasses add their own rules (sign, stability) and call this."""
        unknown = sorted(set(params) - set(self.param_specs))
        missing = sorted(set(self.param_specs) - set(params))
        if unknown or missing:
            raise PhysicsParameterError(
                f"physics parameters: missing {missing}, unknown {unknown}; the model has {list(self.param_specs)}"
            )
        for name, spec in self.param_specs.items():
            spec.validate(params[name])

    # ---------------------------------------------------------------- dynamics
    def initial_state(self, batch: int, seed: Union[int, Sequence[int]]) -> State:
        """Random ICs from the configured prior (:mod:`hyco.physics.ic`); entry ``i`` uses seed
        ``seed[i]`` (or ``seed + i`` for an int) and depends on nothing else."""
        seeds = [int(seed) + i for i in range(batch)] if isinstance(seed, (int, np.integer)) else [int(s) for s in seed]
        if len(seeds) != batch:
            raise ValueError(f"initial_state: {len(seeds)} seeds for a batch of {batch}")
        return self.converter.from_numpy(sample_prior(self, seeds, self.ic))

    @abstractmethod
    def _step(self, state: State, params: Dict[str, Tensor]) -> State:
        """One step of size ``dt`` (pure; compiled by :meth:`step`): the new dynamic fields
        (static fields of ``state`` are inputs only)."""

    def check_state(self, state: State) -> None:
        """Raise if the scheme is unstable for this state (model specific; default: no check)."""

    def step(self, state: State, params: Dict[str, Tensor]) -> State:
        """One jit-compiled time step of size ``dt``; differentiable w.r.t. state and params.
        Static fields are carried over unchanged."""
        out = self._step_jit(state, params)
        if self.static_fields:
            out = {**out, **{n: state[n] for n in self.static_fields}}
        return out

    # ---------------------------------------------------------------- continuous form (PINN)
    def residual(self, values: Dict[str, torch.Tensor], d: Derivatives,
                 params: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """The PDE's continuous residual ``{field: R [N, C]}`` at ``N`` space-time points (zero
        where ``values`` solve the PDE); see :mod:`hyco.physics.residuals` for the arguments.
        Optional: a model that does not override it has no residual (:attr:`has_residual`)."""
        raise ResidualNotDefined(f"the physical model '{self.name or type(self).__name__}' does not state its PDE's "
                                 "continuous residual (PhysicalModel.residual), which the pinn arm needs")

    @property
    def has_residual(self) -> bool:
        """Whether the model implements :meth:`residual`."""
        return type(self).residual is not PhysicalModel.residual

    def params_at(self, values: Mapping[str, torch.Tensor], points: Optional[torch.Tensor],
                  thetas: Optional[Mapping[str, torch.Tensor]] = None) -> Dict[str, torch.Tensor]:
        """Physical-space parameter values (0-d tensors or grids ``[*resolution]``) at ``points
        [N, dim]``: scalars as they are, fields interpolated multilinearly between cell centres
        (wrapping around on a periodic box, held constant beyond the outer centres otherwise).
        ``thetas`` (the scalars of family parameters) are not read here: a family is interpolated
        from its grid like any field; a static model evaluates its families exactly instead."""
        periodic = all(s.periodic for s in self.field_specs)
        return {n: scalar_or_field(torch.as_tensor(v), points, self.domain_lower, self.dx, periodic)
                for n, v in values.items()}

    # ---------------------------------------------------------------- continuous right-hand side
    def derivative(self, state: State, params: Dict[str, Tensor]) -> State:
        """The continuous right-hand side ``dX/dt = F_p(X; θ)`` of the dynamic fields (pure; the
        same kind of state as ``state``, holding time derivatives). Optional: APHYNITY's
        continuous form integrates it; a model that does not override it has none
        (:attr:`has_derivative`)."""
        raise DerivativeNotDefined(f"the physical model '{self.name or type(self).__name__}' does not state its "
                                   "continuous right-hand side (PhysicalModel.derivative), which "
                                   "trainer.aphynity.form=continuous integrates")

    @property
    def has_derivative(self) -> bool:
        """Whether the model implements :meth:`derivative`."""
        return type(self).derivative is not PhysicalModel.derivative

    def tensor_derivative(self, params: Dict[str, Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        """:meth:`derivative` as a map of state tensors ``[B, C_in, *s] -> [B, C_dyn, *s]`` (static
        fields after the dynamic ones, as :meth:`tensor_step`); jit-compiled, differentiable in the
        state and ``params``."""
        if not hasattr(self, "_derivative_jit"):
            self._derivative_jit = math.jit_compile(self.derivative) if self._jit else self.derivative
        conv = self.converter

        def derivative(x: torch.Tensor) -> torch.Tensor:
            state = conv.tensor_to_state(x[:, : conv.num_channels].to(self.device))
            return conv.state_to_tensor(self._derivative_jit(state, params), self.dynamic_fields)

        return derivative

    @property
    def trace_count(self) -> int:
        """How often :meth:`step` has been traced (one per new shape/dtype signature)."""
        return len(getattr(self._step_jit, "traces", {}))

    def tensor_step(self, params: Dict[str, Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        """One step as a map of state tensors ``[B, C_in, *s] -> [B, C_dyn, *s]`` (dynamic fields,
        then the model's static fields; further input channels, such as known parameters given
        to the network, are ignored), for :func:`hyco.synthetic.rollout.rollout`. Differentiable
        in the state and ``params``; runs on the model's device."""
        conv = self.converter

        def step(x: torch.Tensor) -> torch.Tensor:
            state = conv.tensor_to_state(x[:, : conv.num_channels].to(self.device))
            return conv.state_to_tensor(self.step(state, params), self.dynamic_fields)

        return step

    def _frames(self, state: State, params: Dict[str, Tensor], count: int) -> Tuple[State, Tensor]:
        """``count`` steps from ``state`` (compiled as one trace by :meth:`tensor_rollout`): the last
        state and the dynamic fields of every step as one tensor ``(b, frames, c, *spatial)``."""
        conv = self.converter
        frames = []
        for _ in range(int(count)):
            out = self._step_with_walls(state, params)
            state = {**out, **{n: state[n] for n in self.static_fields}}
            frames.append(conv.state_to_tensor(state, self.dynamic_fields))
        native = torch.stack(frames, dim=1)  # [B, count, C, *sample_shape]
        names = [f"s{d}" for d in range(native.ndim - 3)]  # sample axes (staggered: N + 1 faces)
        return state, math.tensor(native, batch("b", "frames"), channel("c"), spatial(*names))

    def tensor_rollout(self, x0: torch.Tensor, steps: int, params: Dict[str, Tensor]) -> torch.Tensor:
        """``steps`` frames from ``x0 [B, C_in, *s]`` as ``[B, steps, C_dyn, *s]`` (the map of
        :meth:`tensor_step` applied ``steps`` times, differentiable likewise), compiled
        ``jit_frames`` frames per call."""
        if steps < 1:
            raise ValueError(f"tensor_rollout: steps must be >= 1, got {steps}")
        conv = self.converter
        if self.jit_frames == 1:  # one step per call, through step() (a model's own checks included)
            channels = sum(self.channels.values())
            step, state, frames = self.tensor_step(params), x0[:, :channels], []
            for _ in range(int(steps)):
                state = step(torch.cat([state, x0[:, channels:].to(state)], dim=1) if x0.shape[1] > channels
                             else state)
                frames.append(state)
            return torch.stack(frames, dim=1)
        state = conv.tensor_to_state(x0[:, : conv.num_channels].to(self.device))
        chunks, done = [], 0
        while done < steps:
            count = min(self.jit_frames, steps - done)
            state, frames = self._frames_jit(state, params, count)
            chunks.append(frames.native(["b", "frames", "c", *frames.shape.spatial.names]))
            done += count
        return torch.cat(chunks, dim=1) if len(chunks) > 1 else chunks[0]

    def rollout(self, state: State, params: Dict[str, Tensor], n: int, every: int = 1) -> List[State]:
        """``n`` frames from ``state``, each ``every`` steps after the last: ``n + 1`` states, the
        first being ``state`` itself. Parameters and the initial state are validated first."""
        self.validate_params(params)
        self.check_state(state)
        states = [state]
        current = state
        for _ in range(int(n)):
            for _ in range(int(every)):
                current = self.step(current, params)
            states.append(current)
        return states
