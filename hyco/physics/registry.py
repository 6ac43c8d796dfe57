"""The registry of physical models and their construction from configs.

A model class registers itself with ``@register_physics("name")``; importing :mod:`hyco.physics`
imports every built-in model. :func:`build_physics` builds one from a ``PhysicsConfig``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Mapping, Type, Union

import torch
from omegaconf import DictConfig, OmegaConf
from phi.torch import TORCH

from hyco.config import ConfigError
from hyco.physics.base import PhysicalModel
from hyco.physics.params import ParamSpec

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


def use_device(device: Union[str, torch.device, None]) -> None:
    """Point PhiFlow's torch backend at ``device`` (``cuda[:N]`` or ``cpu``): the physics then
    creates and steps its tensors there. PhiFlow keeps one default device per process."""
    if device is None:
        return
    device = torch.device(device)
    if device.type == "cuda":
        if not TORCH.set_default_device("GPU"):
            raise ConfigError("device: CUDA was requested for the physics but PhiFlow finds no GPU; use device=cpu")
        if device.index is not None:
            torch.cuda.set_device(device)
    else:
        TORCH.set_default_device("CPU")


def build_physics(physics_cfg: Any, ic_cfg: Any = None, jit: bool = True,
                  device: Union[str, torch.device, None] = None) -> PhysicalModel:
    """The registered model named ``physics_cfg.name``, built from a ``PhysicsConfig`` (DictConfig,
    dataclass or mapping) and an ``InitialConditionConfig`` (or None for its defaults); ``device``
    (default: leave PhiFlow's device as it is) is where the physics runs (:func:`use_device`)."""
    use_device(device)
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
        boundary=cfg.get("boundary") or "",
        domain_origin=float(cfg.get("domain_origin", 0.0)),
    )
