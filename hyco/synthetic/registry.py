"""Registry of synthetic networks: ``@register_network("name")`` and ``build_network(cfg, ...)``.

A new network is one module that decorates its class (or a factory function), one import line in
``hyco/synthetic/__init__.py`` (importing the package registers the built-in networks; this module
never imports them, so the two do not depend on each other) and one YAML file in ``conf/synthetic/``.
"""

from __future__ import annotations

import enum
from typing import Any, Callable, Dict, List, Optional, TypeVar

import torch
from torch import nn

__all__ = [
    "NetworkBuilder",
    "available_networks",
    "build_network",
    "cfg_value",
    "register_network",
]

#: ``builder(cfg, dim, in_channels, out_channels) -> nn.Module``
NetworkBuilder = Callable[[Any, int, int, int], nn.Module]
_T = TypeVar("_T")

_REGISTRY: Dict[str, NetworkBuilder] = {}


def cfg_value(cfg: Any, key: str, default: Any = None) -> Any:
    """Read ``key`` from a DictConfig, a dataclass, a dict or any object; enums become their value.

    Networks receive their config as whatever the caller has (Hydra DictConfig in runs, the
    dataclass in tests); this keeps each network free of that distinction.
    """
    if cfg is None:
        value = default
    elif isinstance(cfg, dict):
        value = cfg.get(key, default)
    elif hasattr(cfg, "get") and callable(cfg.get) and not hasattr(cfg, "__dataclass_fields__"):
        value = cfg.get(key, default)  # DictConfig: .get never raises in struct mode
    else:
        value = getattr(cfg, key, default)
    if isinstance(value, enum.Enum):
        value = value.value
    return value


def register_network(name: str) -> Callable[[_T], _T]:
    """Class/function decorator that registers a network under ``name``.

    A decorated class must provide ``from_config(cfg, dim, in_channels, out_channels)``
    (classmethod); a decorated function is itself the builder with that signature.
    Registering a different object under a taken name raises ``ValueError``.
    """
    key = name.lower()

    def decorator(obj: _T) -> _T:
        builder = getattr(obj, "from_config", obj) if isinstance(obj, type) else obj
        if not callable(builder):
            raise TypeError(f"register_network('{name}'): {obj!r} is not callable")
        previous = _REGISTRY.get(key)
        # Re-importing the same module (e.g. importlib.reload) registers an equal-named object
        # again; only a genuinely different network under the same name is an error.
        if previous is not None and getattr(previous, "__qualname__", None) != getattr(
            builder, "__qualname__", None
        ):
            raise ValueError(f"network '{name}' is already registered ({previous!r})")
        _REGISTRY[key] = builder
        return obj

    return decorator


def available_networks() -> List[str]:
    """Sorted names of the registered networks."""
    return sorted(_REGISTRY)


def build_network(
    synthetic_cfg: Any,
    dim: int,
    in_channels: int,
    out_channels: int,
    seed: Optional[int] = None,
) -> nn.Module:
    """Build the network named by ``synthetic_cfg.name``.

    Parameters
    ----------
    synthetic_cfg
        ``SyntheticConfig`` dataclass, its DictConfig, or a dict; ``name`` picks the network.
    dim
        Number of spatial dimensions (1 or 2).
    in_channels, out_channels
        Channels of the input ``[B, in_channels, *spatial]`` and of the output.
    seed
        When given, the weights are initialised from this seed inside a forked RNG, so the
        result does not depend on, and does not advance, the global torch RNG. When ``None``
        the global RNG is used (deterministic after ``torch.manual_seed``).

    Raises
    ------
    KeyError
        for an unknown name; the message lists the registered names.
    """
    name = str(cfg_value(synthetic_cfg, "name", "unet")).lower()
    if name not in _REGISTRY:
        raise KeyError(
            f"synthetic.name: unknown network '{name}'; available networks: {available_networks()}"
        )
    builder = _REGISTRY[name]
    if seed is None:
        return builder(synthetic_cfg, dim, in_channels, out_channels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return builder(synthetic_cfg, dim, in_channels, out_channels)
