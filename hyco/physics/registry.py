"""The registry of physical models and their construction from configs.

A model class registers itself with ``@register_physics("name")`` in its own module under
``hyco/physics/models/`` (imported on the first look-up) or in a plug-in package.
:func:`build_physics` builds one from a ``PhysicsConfig``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Type, Union

import torch
from phi.torch import TORCH

from hyco.core.plain import to_plain
from hyco.core.registry import Registry
from hyco.errors import ConfigError, PluginError
from hyco.physics.base import PhysicalModel, TinyCase
from hyco.physics.params import ParamSpec

PHYSICS: Registry[Type[PhysicalModel]] = Registry("physics model", key="physics.name", discover="hyco.physics.models")


def register_physics(name: str) -> Callable[[Type[PhysicalModel]], Type[PhysicalModel]]:
    """Class decorator: make a :class:`PhysicalModel` available as ``physics.name=<name>``."""

    def decorate(cls: Type[PhysicalModel]) -> Type[PhysicalModel]:
        PHYSICS.add(name, cls)  # a clash raises before the class is touched
        cls.name = name
        return cls

    return decorate


def available_physics() -> List[str]:
    """Names accepted by ``physics.name``."""
    return PHYSICS.names()


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
    cfg = to_plain(physics_cfg)
    model_class = PHYSICS.get(cfg.get("name"))
    for key in ("resolution", "dt"):
        if key not in cfg:
            raise ConfigError(f"physics.{key}: missing")
    if "dim" in cfg and int(cfg["dim"]) != len(cfg["resolution"]):
        raise ConfigError(f"physics.resolution: needs {cfg['dim']} entries for dim={cfg['dim']}, "
                          f"got {cfg['resolution']}")
    specs = {n: ParamSpec.from_config(n, s) for n, s in (cfg.get("params") or {}).items()}
    return model_class(
        resolution=cfg["resolution"],
        domain_size=float(cfg.get("domain_size", 1.0)),
        dt=float(cfg["dt"]),
        param_specs=specs,
        grid=str(cfg.get("grid", "centered")),
        substeps=int(cfg.get("substeps", 1)),
        ic=to_plain(ic_cfg) if ic_cfg is not None else None,
        jit=jit,
        boundary=cfg.get("boundary") or "",
        domain_origin=float(cfg.get("domain_origin", 0.0)),
        terms=tuple(cfg.get("terms") or ()),
        layout=str(cfg.get("layout", "cells")),
        options=dict(cfg.get("options") or {}),
        jit_frames=int(cfg.get("jit_frames", 1)),
    )


def tiny_cases() -> Dict[str, TinyCase]:
    """Every registered model's tiny configurations (:class:`~hyco.physics.base.TinyCase`), by
    case name, for the contract tests; a model that declares none is an error naming it."""
    cases: Dict[str, TinyCase] = {}
    for name, cls in PHYSICS.items():
        if not cls.TINY_CASES:
            raise PluginError(f"physics model '{name}' ({cls.__module__}) declares no TINY_CASES; every model "
                              "gives the contract tests at least one tiny configuration")
        for case, spec in cls.TINY_CASES.items():
            if spec.physics.get("name") != name:
                raise PluginError(f"physics model '{name}': its tiny case '{case}' builds "
                                  f"'{spec.physics.get('name')}'")
            cases[case] = spec
    return cases
