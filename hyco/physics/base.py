"""Physical models: parameter specs, the :class:`PhysicalModel` interface and its registry.

A physical model steps a state ``Dict[str, Field]`` (batch dimension ``batch('b')``) with a few
interpretable parameters passed as phiml Tensors. ``step`` is jit-compiled once per model; the
parameters are *arguments* of the compiled function, so changing their values (an optimiser
step) does not retrace. New PDEs are one module with a ``@register_physics("name")`` class.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from phi.geom import Box
from phi.torch import TORCH
from phiml import math
from phiml.math import Tensor, spatial

from hyco.config import ConfigError
from hyco.convert import FieldTensorConverter
from hyco.physics.profiles import PROFILES, profile_values

math.use(TORCH)

State = Dict[str, Any]  # field name -> phi.field.Field


class PhysicsParameterError(ValueError):
    """A physical parameter (or the step size it is used with) is invalid; the message names it."""


# ------------------------------------------------------------------------------------------------
# parameter specs
# ------------------------------------------------------------------------------------------------
def _host_values(value: Any) -> Optional[np.ndarray]:
    """Values as float64 numpy for checks, or None while being traced by ``jit_compile``."""
    if isinstance(value, Tensor):
        if not value.available:
            return None
        value = value.numpy(value.shape.names) if value.shape.rank else value.numpy()
    elif torch.is_tensor(value):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One physical parameter.

    Attributes
    ----------
    name : str
        Parameter name (``nu``); error messages name it and its config key.
    kind : str
        ``'scalar'`` (0-d tensor) or ``'field'`` (one value per cell centre).
    lower, upper : float
        Admissible range; the model's explicit scheme is made stable for ``upper``.
    true_value, initial_guess : float
        Truth used to generate data, and the starting point of a fit.
    true_profile : str
        Spatial profile of the true field (``kind='field'``): ``constant`` | ``sine`` | ``bump``.
    profile_amplitude : float
        Relative amplitude: ``truth = true_value * (1 + profile_amplitude * profile(x))``.
    learnable : bool
        Whether trainers fit it.
    """

    name: str
    kind: str = "scalar"
    lower: float = 0.0
    upper: float = 1.0
    true_value: float = 0.0
    initial_guess: float = 0.0
    true_profile: str = "constant"
    profile_amplitude: float = 0.0
    learnable: bool = True

    def __post_init__(self) -> None:
        key = f"physics.params.{self.name}"
        if self.kind not in ("scalar", "field"):
            raise ConfigError(f"{key}.kind: must be 'scalar' or 'field', got '{self.kind}'")
        if self.true_profile not in PROFILES:
            raise ConfigError(f"{key}.true_profile: must be one of {list(PROFILES)}, got '{self.true_profile}'")
        if not self.lower <= self.upper:
            raise ConfigError(f"{key}.lower/upper: need lower <= upper, got [{self.lower}, {self.upper}]")

    @classmethod
    def from_config(cls, name: str, cfg: Mapping[str, Any]) -> "ParamSpec":
        """Build from a plain ``ParamSpecConfig`` mapping (enums already normalised to str)."""
        values: Dict[str, Any] = {"name": name}
        for f in dataclasses.fields(cls)[1:]:
            if f.name not in cfg:
                continue
            raw, kind = cfg[f.name], type(f.default)
            try:
                if kind is bool and not isinstance(raw, bool):
                    raise TypeError  # bool("false") would be True
                values[f.name] = kind(raw)
            except (TypeError, ValueError):
                raise ConfigError(f"physics.params.{name}.{f.name}: invalid value {raw!r}") from None
        return cls(**values)

    def validate(self, value: Any) -> None:
        """Raise :class:`PhysicsParameterError` if ``value`` (any array-like) is not finite or
        leaves ``[lower, upper]``. Traced (jit) values are not checked."""
        arr = _host_values(value)
        if arr is None:
            return
        if not np.all(np.isfinite(arr)):
            raise PhysicsParameterError(f"physics parameter '{self.name}': non-finite value(s) {arr.ravel()[:4]}")
        lo, hi = float(arr.min()), float(arr.max())
        # relative slack for float32 round-off: 0.1 stored as float32 (0.10000000149) is inside
        if lo < self.lower - 1e-6 * abs(self.lower) or hi > self.upper + 1e-6 * abs(self.upper):
            got = f"{lo:g}" if arr.size == 1 else f"values in [{lo:g}, {hi:g}]"
            raise PhysicsParameterError(
                f"physics parameter '{self.name}': {got} outside its bounds [{self.lower:g}, {self.upper:g}]; "
                f"pass a value inside them or widen physics.params.{self.name}.lower/upper"
            )


# ------------------------------------------------------------------------------------------------
# the model interface
# ------------------------------------------------------------------------------------------------
class PhysicalModel(ABC):
    """A differentiable, jit-compiled PDE solver on a periodic box.

    Subclasses set ``field_names`` and implement :meth:`initial_state` and :meth:`_step`
    (pure: no I/O, no Python-side state changes — it runs under ``math.jit_compile``).

    Parameters
    ----------
    resolution : sequence of int
        Cells per axis; its length is the dimension (axes ``x`` or ``x, y``).
    domain_size : float
        Edge length ``L`` of the periodic box ``[0, L)^dim``.
    dt : float
        Time step of :meth:`step`.
    param_specs : mapping of str to ParamSpec
    grid : str
        ``'centered'`` or ``'staggered'`` (how ``velocity`` is sampled).
    substeps : int
        Minimum number of sub-steps for stiff sub-operators (model specific).
    ic : mapping, optional
        ``max_wavenumber``, ``amplitude``, ``decay`` of the random initial conditions.
    jit : bool
        Compile :meth:`step` with ``math.jit_compile`` (default) or run it eagerly.
    """

    name: ClassVar[str] = ""
    field_names: ClassVar[Tuple[str, ...]] = ("velocity",)

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
    ) -> None:
        self.resolution: Tuple[int, ...] = tuple(int(n) for n in resolution)
        if len(self.resolution) not in (1, 2):
            raise ConfigError(f"physics.resolution: 1D or 2D only, got {list(self.resolution)}")
        self.domain_size = float(domain_size)
        self.dt = float(dt)
        self.grid = str(getattr(grid, "value", grid))
        if self.grid not in ("centered", "staggered"):
            raise ConfigError(f"physics.grid: must be 'centered' or 'staggered', got '{self.grid}'")
        self.substeps = int(substeps)
        self.param_specs: Dict[str, ParamSpec] = dict(param_specs)
        ic = dict(ic or {})
        self.ic_max_wavenumber = int(ic.get("max_wavenumber", 4))
        self.ic_amplitude = float(ic.get("amplitude", 1.0))
        self.ic_decay = float(ic.get("decay", 1.0))
        self.converter = FieldTensorConverter(
            self.spatial_names, self.resolution, self.domain_size, self.grid, self.channels
        )
        self._step_jit: Callable = math.jit_compile(self._step) if jit else self._step

    # ---------------------------------------------------------------- geometry
    @property
    def dim(self) -> int:
        return len(self.resolution)

    @property
    def spatial_names(self) -> Tuple[str, ...]:
        return ("x", "y", "z")[: self.dim]

    @property
    def channels(self) -> Dict[str, int]:
        """Channels per field in the tensor representation (vector fields: ``dim``)."""
        return {name: self.dim for name in self.field_names}

    @property
    def dx(self) -> Tuple[float, ...]:
        return tuple(self.domain_size / n for n in self.resolution)

    @property
    def bounds(self) -> Box:
        return self.converter.bounds

    def cell_centres(self) -> List[np.ndarray]:
        """Cell-centre coordinates per axis, broadcastable to ``resolution`` (``ij`` indexing)."""
        axes = [(np.arange(n) + 0.5) * h for n, h in zip(self.resolution, self.dx)]
        return list(np.meshgrid(*axes, indexing="ij"))

    # ---------------------------------------------------------------- parameters
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
            raise PhysicsParameterError(f"unknown physics parameter(s) {unknown}; the model has {list(self.param_specs)}")
        missing = sorted(set(self.param_specs) - set(values))
        if missing:
            raise PhysicsParameterError(f"missing physics parameter(s) {missing}")
        return {name: self._param_tensor(name, values[name]) for name in self.param_specs}

    def true_params(self) -> Dict[str, Tensor]:
        """The truth used for data: scalars as 0-d tensors, fields at cell centres
        ``true_value * (1 + profile_amplitude * profile(x))`` (see :func:`profile_values`)."""
        out = {}
        for name, spec in self.param_specs.items():
            if spec.kind == "scalar":
                out[name] = spec.true_value
            else:
                prof = profile_values(spec.true_profile, self.cell_centres(), self.domain_size)
                out[name] = spec.true_value * (1.0 + spec.profile_amplitude * prof)
        return self.params_from_values(out)

    def initial_params(self) -> Dict[str, Tensor]:
        """The starting point of a fit (a uniform field for ``kind='field'``)."""
        return self.params_from_values({n: s.initial_guess for n, s in self.param_specs.items()})

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
    @abstractmethod
    def initial_state(self, batch: int, seed: Union[int, Sequence[int]]) -> State:
        """Smooth random ICs; entry ``i`` uses seed ``seed[i]`` (or ``seed + i`` for an int)
        and depends on nothing else."""

    @abstractmethod
    def _step(self, state: State, params: Dict[str, Tensor]) -> State:
        """One step of size ``dt`` (pure; compiled by :meth:`step`)."""

    def check_state(self, state: State) -> None:
        """Raise if the scheme is unstable for this state (model specific; default: no check)."""

    def step(self, state: State, params: Dict[str, Tensor]) -> State:
        """One jit-compiled time step of size ``dt``; differentiable w.r.t. state and params."""
        return self._step_jit(state, params)

    @property
    def trace_count(self) -> int:
        """How often :meth:`step` has been traced (one per new shape/dtype signature)."""
        return len(getattr(self._step_jit, "traces", {}))

    def rollout(self, state: State, params: Dict[str, Tensor], n: int) -> List[State]:
        """``n`` steps from ``state``: ``n + 1`` states, the first being ``state`` itself.
        Parameters and the initial state are validated first (eagerly)."""
        self.validate_params(params)
        self.check_state(state)
        states = [state]
        for _ in range(int(n)):
            states.append(self.step(states[-1], params))
        return states


# ------------------------------------------------------------------------------------------------
# registry and construction from configs
# ------------------------------------------------------------------------------------------------
_REGISTRY: Dict[str, Type[PhysicalModel]] = {}


def register_physics(name: str) -> Callable[[Type[PhysicalModel]], Type[PhysicalModel]]:
    """Class decorator: make a :class:`PhysicalModel` available as ``physics.name=<name>``."""

    def decorate(cls: Type[PhysicalModel]) -> Type[PhysicalModel]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"physics model '{name}' is registered twice ({_REGISTRY[name].__name__}, {cls.__name__})")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def available_physics() -> List[str]:
    """Names accepted by ``physics.name``."""
    return sorted(_REGISTRY)


def _plain(cfg: Any) -> Any:
    """DictConfig / dataclass / mapping -> plain Python; enums -> their values."""
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        cfg = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, Mapping):
        return {str(k): _plain(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [_plain(v) for v in cfg]
    return getattr(cfg, "value", cfg)


def build_physics(physics_cfg: Any, ic_cfg: Any = None, jit: bool = True) -> PhysicalModel:
    """The registered model named ``physics_cfg.name``, built from a ``PhysicsConfig`` (DictConfig,
    dataclass or mapping) and an ``InitialConditionConfig`` (or None for its defaults)."""
    cfg = _plain(physics_cfg)
    name = cfg.get("name")
    if name not in _REGISTRY:
        raise ConfigError(f"physics.name: unknown physics model '{name}'; available: {available_physics()}")
    for key in ("resolution", "dt"):
        if key not in cfg:
            raise ConfigError(f"physics.{key}: missing")
    if "dim" in cfg and int(cfg["dim"]) != len(cfg["resolution"]):
        raise ConfigError(f"physics.resolution: needs {cfg['dim']} entries for dim={cfg['dim']}, got {cfg['resolution']}")
    specs = {n: ParamSpec.from_config(n, s) for n, s in (cfg.get("params") or {}).items()}
    return _REGISTRY[name](
        resolution=cfg["resolution"],
        domain_size=float(cfg.get("domain_size", 1.0)),
        dt=float(cfg["dt"]),
        param_specs=specs,
        grid=str(cfg.get("grid", "centered")),
        substeps=int(cfg.get("substeps", 1)),
        ic=_plain(ic_cfg) if ic_cfg is not None else None,
        jit=jit,
    )
