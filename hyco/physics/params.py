"""Physical parameters: :class:`ParamSpec` (shape, bounds, truth, initial guess, learnable,
smoothness) and the error raised for invalid values."""

from __future__ import annotations

import dataclasses
from typing import Any, Collection, Dict, Mapping, Optional, Tuple

import numpy as np
import torch
from phiml import math
from phiml.math import Tensor

from hyco import metrics as M
from hyco.errors import ConfigError, PhysicsParameterError
from hyco.physics.profiles import PROFILES


# ------------------------------------------------------------------------------------------------
# parameter specs
# ------------------------------------------------------------------------------------------------
def host_values(value: Any) -> Optional[np.ndarray]:
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
        Spatial profile of the true field (``kind='field'``), see :mod:`hyco.physics.profiles`.
    profile_amplitude : float
        ``a`` in ``truth = true_value * (1 + a * profile(x))`` (``profile_scale='relative'``) or
        ``truth = true_value + a * profile(x)`` (``'additive'``).
    profile_scale : str
        ``'relative'`` or ``'additive'``.
    profile_args : dict
        Extra arguments of the profile (``gaussians``: ``centres``, ``amplitudes``, ``width``).
    learnable : bool
        Whether trainers fit it (``False``: a known, fixed parameter such as Gray–Scott's ``F``).
    smoothness : float
        ``beta`` of the penalty ``beta * ||grad theta||^2`` (mean over cells) added to the
        physical fit's loss for a field parameter; 0 disables it. A field is not identifiable
        where the solution carries no information; the penalty fills such regions smoothly.
    family, family_args, true_theta, initial_theta
        ``kind='family'``: the field is generated from the scalars ``theta`` by the family
        (:mod:`hyco.physics.families`); the truth and the starting point are ``theta`` vectors.
    initial_jitter : float
        ``j > 0``: a fit starts from the initial guess (or ``initial_theta``) times
        ``1 + j * N(0, 1)`` per value, drawn from the run's seed: several starts over seeds.
    initial_uniform : tuple of (low, high)
        One range per scalar (a family's ``theta``, or the one value of a scalar parameter): a fit
        starts from values drawn uniformly in them from the run's seed (the Helmholtz paper's
        ``theta0``: amplitudes in ``[1, 3]``, centres in ``[0, 1]``); replaces the initial guess.
    """

    name: str
    kind: str = "scalar"
    lower: float = 0.0
    upper: float = 1.0
    true_value: float = 0.0
    initial_guess: float = 0.0
    true_profile: str = "constant"
    profile_amplitude: float = 0.0
    profile_scale: str = "relative"
    profile_args: Any = None
    learnable: bool = True
    smoothness: float = 0.0
    space: str = "bounded"
    family: str = ""
    family_args: Any = None
    true_theta: Tuple[float, ...] = ()
    initial_theta: Tuple[float, ...] = ()
    initial_jitter: float = 0.0
    initial_uniform: Tuple[Tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "profile_args", dict(self.profile_args or {}))
        object.__setattr__(self, "family_args", dict(self.family_args or {}))
        object.__setattr__(self, "true_theta", tuple(float(v) for v in self.true_theta))
        object.__setattr__(self, "initial_theta", tuple(float(v) for v in self.initial_theta))
        key = f"physics.params.{self.name}"
        try:
            ranges = tuple((float(lo), float(hi)) for lo, hi in (self.initial_uniform or ()))
        except (TypeError, ValueError):
            raise ConfigError(f"{key}.initial_uniform: one [low, high] pair per scalar, got "
                              f"{self.initial_uniform!r}") from None
        if any(not lo <= hi for lo, hi in ranges):
            raise ConfigError(f"{key}.initial_uniform: need low <= high in every pair, got {list(ranges)}")
        object.__setattr__(self, "initial_uniform", ranges)
        if self.kind not in ("scalar", "field", "family"):
            raise ConfigError(f"{key}.kind: must be 'scalar', 'field' or 'family', got '{self.kind}'")
        if self.space not in ("bounded", "log", "linear"):
            raise ConfigError(f"{key}.space: bounded, log or linear, got '{self.space}'")
        if self.kind == "family":
            from hyco.physics.families import FAMILIES  # the registry of the same layer

            family = FAMILIES.get(self.family) if self.family else None
            if family is None:
                raise ConfigError(f"{key}.family: kind family needs a family; registered: {FAMILIES.names()}")
            for which in ("true_theta", "initial_theta"):
                count = len(getattr(self, which))
                if count != len(family.names(self.family_args, 2)) and count != len(family.names(self.family_args, 1)):
                    raise ConfigError(f"{key}.{which}: {count} values, the family {self.family} with "
                                      f"{self.family_args} has the components {family.names(self.family_args, 2)} "
                                      f"(2D) or {family.names(self.family_args, 1)} (1D)")
        if self.true_profile not in PROFILES:
            raise ConfigError(f"{key}.true_profile: must be one of {list(PROFILES)}, got '{self.true_profile}'")
        if not self.lower <= self.upper:
            raise ConfigError(f"{key}.lower/upper: need lower <= upper, got [{self.lower}, {self.upper}]")
        if self.profile_scale not in ("relative", "additive"):
            raise ConfigError(f"{key}.profile_scale: must be 'relative' or 'additive', got '{self.profile_scale}'")
        if self.smoothness < 0:
            raise ConfigError(f"{key}.smoothness: must be >= 0, got {self.smoothness}")
        if not self.initial_jitter >= 0:
            raise ConfigError(f"{key}.initial_jitter: must be >= 0, got {self.initial_jitter}")
        if self.smoothness > 0 and self.kind != "field":  # a family is smooth by construction
            raise ConfigError(f"{key}.smoothness: a smoothness penalty needs kind: field")
        if ranges:
            expected = len(self.initial_theta) if self.kind == "family" else 1
            if self.kind == "field" or len(ranges) != expected:
                raise ConfigError(f"{key}.initial_uniform: one [low, high] per scalar ({expected} for a {self.kind} "
                                  f"parameter; a field has none), got {len(ranges)}")

    @classmethod
    def from_config(cls, name: str, cfg: Mapping[str, Any]) -> "ParamSpec":
        """Build from a plain ``ParamSpecConfig`` mapping (enums already normalised to str)."""
        values: Dict[str, Any] = {"name": name}
        for f in dataclasses.fields(cls)[1:]:
            if f.name not in cfg:
                continue
            raw, kind = cfg[f.name], type(f.default)
            if f.name in ("profile_args", "family_args"):
                values[f.name] = dict(raw or {})
                continue
            if f.name in ("true_theta", "initial_theta", "initial_uniform"):
                values[f.name] = tuple(raw or ())
                continue
            if raw is None and f.name in ("true_value", "initial_guess"):
                continue  # a family has theta instead; the other kinds are checked by validate()
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
        arr = host_values(value)
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


def param_to_numpy(value: Any) -> np.ndarray:
    """A parameter value (phiml or torch tensor, number) as a numpy array."""
    if isinstance(value, math.Tensor):
        return value.numpy(value.shape.names) if value.shape.rank else np.asarray(value.numpy())
    if torch.is_tensor(value):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def parameter_metrics(params: Dict[str, np.ndarray], truth: Dict[str, np.ndarray],
                      learnable: Optional[Collection[str]] = None) -> Dict[str, float]:
    """Learned values and their error against the truth (only the ``learnable`` ones when given:
    a fixed, known parameter such as Gray–Scott's ``F`` has nothing to report).

    Scalars: ``param/<name>`` and ``param/<name>_rel_error = |p - p*| / |p*|``.
    Fields: ``param/<name>`` (the spatial mean) and ``param/<name>_rel_error = ||p - p*||_2 / ||p*||_2``.
    """
    out: Dict[str, float] = {}
    for name, value in params.items():
        if learnable is not None and name not in learnable:
            continue
        value = np.asarray(value, dtype=np.float64)
        true = np.asarray(truth[name], dtype=np.float64) if name in truth else None
        out[M.param(name)] = float(value.mean())
        if true is not None:
            true = np.broadcast_to(true, value.shape) if true.size == 1 else true
            denom = float(np.linalg.norm(true.ravel())) or 1.0
            out[M.param_rel_error(name)] = float(np.linalg.norm((value - true).ravel()) / denom)
    return out
