"""The one config normaliser: any config node as plain Python (dicts, lists, numbers, strings).

Configs arrive as Hydra ``DictConfig`` in runs, as dataclasses in tests and as dicts from files;
every consumer (cache key, fingerprints, network builders, MLflow params) reads them through
:func:`to_plain`, so "the same config" means the same plain value everywhere.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Mapping

from omegaconf import DictConfig, ListConfig, OmegaConf


def to_plain(node: Any) -> Any:
    """DictConfig / ListConfig / dataclass / mapping / sequence -> plain Python, resolved; enums
    become their values."""
    if isinstance(node, (DictConfig, ListConfig)):
        return OmegaConf.to_container(node, resolve=True, enum_to_str=True)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return to_plain(OmegaConf.structured(node))
    if isinstance(node, Mapping):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [to_plain(v) for v in node]
    if isinstance(node, enum.Enum):
        return node.value
    return node


def value_of(node: Any, key: str, default: Any = None) -> Any:
    """``node[key]`` from a DictConfig, a dataclass, a mapping or any object; enums as their value."""
    if node is None:
        value = default
    elif isinstance(node, Mapping):
        value = node.get(key, default)
    elif isinstance(node, DictConfig):
        value = node.get(key, default)  # .get never raises in struct mode
    else:
        value = getattr(node, key, default)
    return value.value if isinstance(value, enum.Enum) else value
