"""Every key of the config schema, generated from the dataclasses themselves (the root schema with
every registered arm's and network's node), for the fault suite's value tests.

A key is ``(dotted path, kind, arm)``: ``kind`` is ``"float"``, ``"int"``, ``"float_list"``,
``"int_list"``, ``"float_matrix"`` (a list of lists), ``"int_matrix"`` or ``"enum"``; ``arm`` is
the arm whose config has the key's node (None for the shared keys). ``physics.params`` is a mapping
of one dataclass per parameter: its keys are walked under a parameter the base config has.
"""

from __future__ import annotations

import dataclasses
import typing
from enum import Enum
from typing import Any, Dict, List, NamedTuple, Optional

from hyco.arms import node_owners
from hyco.config.schema import ParamSpecConfig, current_schema


class SchemaKey(NamedTuple):
    path: str
    kind: str
    arm: Optional[str]
    enum: Optional[type] = None


def _unwrap(hint: Any) -> Any:
    """``Optional[X]`` -> X."""
    if typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else hint
    return hint


def _kind(hint: Any) -> Optional[str]:
    hint = _unwrap(hint)
    if hint is bool:
        return None
    if hint is int:
        return "int"
    if hint is float:
        return "float"
    if isinstance(hint, type) and issubclass(hint, Enum):
        return "enum"
    if typing.get_origin(hint) in (list, List):
        (item,) = typing.get_args(hint) or (Any,)
        if typing.get_origin(item) in (list, List):  # a matrix, a list of points
            return {int: "int_matrix", float: "float_matrix"}.get((typing.get_args(item) or (Any,))[0])
        return {int: "int_list", float: "float_list"}.get(item)
    return None


def walk(cls: type, prefix: str = "", arm: Optional[str] = None, param: str = "nu") -> List[SchemaKey]:
    """Every numeric and enumerated key under the dataclass ``cls``."""
    keys: List[SchemaKey] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint, path = hints[f.name], f"{prefix}{f.name}"
        inner = _unwrap(hint)
        if dataclasses.is_dataclass(inner):
            owner = arm
            if prefix == "trainer.":  # an arm's node: compose it under the arm that owns it
                owners = node_owners(f.name)
                if owners:
                    owner = owners[0]
            keys.extend(walk(inner, path + ".", owner, param))
            continue
        if typing.get_origin(inner) in (dict, Dict) and typing.get_args(inner)[1] is ParamSpecConfig:
            keys.extend(walk(ParamSpecConfig, f"{path}.{param}.", arm, param))
            continue
        kind = _kind(hint)
        if kind is not None:
            keys.append(SchemaKey(path, kind, arm, inner if kind == "enum" else None))
    return keys


def schema_keys() -> List[SchemaKey]:
    """Every numeric and enumerated key of the registered root schema."""
    return walk(current_schema())
