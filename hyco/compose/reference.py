"""The reference of every config key, generated from the schema (the docs site's config page).

It walks the root dataclass that composition registers (:func:`hyco.compose.composition.bootstrap`:
the shared groups plus every arm's ``trainer.<node>`` and every network's ``synthetic.<name>``)
and writes one row per key: its type, its default, its range (declared beside the field with
:func:`hyco.config.schema.ranged`), what it changes (:mod:`hyco.config.keys`) and the comment
written beside the field in its dataclass. Nothing here is written by hand, so a new key, arm or
network appears on the page at the next build (``mkdocs build``: ``docs/hooks/config_reference.py``).
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import typing
from typing import Any, Dict, Iterator, List, Optional, Tuple

from omegaconf import MISSING

from hyco.arms import arm_nodes, node_owners
from hyco.compose.composition import bootstrap, network_nodes
from hyco.config.keys import rule_of
from hyco.config.schema import current_schema

EFFECTS = {"data": "the data (cache key)", "run": "a run (resume fingerprint)", "trial": "a run; set per trial",
           "study": "how a study scores", "none": "nothing computed"}


def _comments(cls: type) -> Dict[str, str]:
    """``{field: comment}`` from the dataclass source: the comment on the field's line, else the
    comment lines just above it."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out: Dict[str, str] = {}
    above: List[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        match = re.match(r"(\w+)\s*:[^=#]*(=[^#]*)?(#\s*(.*))?$", stripped)
        if stripped.startswith("#"):
            above.append(stripped.lstrip("# ").strip())
        elif match and not stripped.startswith(("def ", "class ", "return")):
            comment = match.group(4) or " ".join(above)
            if comment:
                out[match.group(1)] = comment
            above = []
        else:
            above = []
    return out


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _type_name(args[0]) if len(args) == 1 else " | ".join(_type_name(a) for a in args)
    if origin in (list, List):
        return f"list[{_type_name(typing.get_args(tp)[0])}]"
    if origin in (dict, Dict):
        return "mapping"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " \\| ".join(m.value for m in tp)
    return getattr(tp, "__name__", str(tp))


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = f.default_factory()  # type: ignore[misc]
    else:
        return ""
    if value is MISSING or value == "???":
        return "required"
    if isinstance(value, enum.Enum):
        value = value.value
    if dataclasses.is_dataclass(value):
        return ""
    return f"`{value!r}`" if not isinstance(value, str) else (f"`{value}`" if value else '`""`')


def _node_class(tp: Any) -> Optional[type]:
    if typing.get_origin(tp) is typing.Union:
        tp = next((a for a in typing.get_args(tp) if a is not type(None)), tp)
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


def schema_keys(cls: Optional[type] = None, prefix: str = "") -> Iterator[Tuple[str, dataclasses.Field, type]]:
    """Every leaf key of the schema: ``(dotted key, field, the dataclass declaring it)``."""
    if cls is None:
        bootstrap()
        cls = current_schema()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        tp = hints.get(f.name, f.type)
        node = _node_class(tp)
        values = typing.get_args(tp)[1] if typing.get_origin(tp) in (dict, Dict) and typing.get_args(tp) else None
        if node is not None:
            yield from schema_keys(node, key + ".")
        elif values is not None and dataclasses.is_dataclass(values):  # a mapping of typed entries
            yield from schema_keys(values, key + ".<name>.")
        else:
            yield key, f, cls


def _where(key: str) -> str:
    """Which arm or network a node key belongs to (empty for a shared key)."""
    parts = key.split(".")
    if len(parts) > 2 and parts[0] == "trainer" and parts[1] in arm_nodes():
        return "arm " + ", ".join(node_owners(parts[1]))
    if len(parts) > 2 and parts[0] == "synthetic" and parts[1] in network_nodes():
        return f"network {parts[1]}"
    return ""


def config_reference() -> str:
    """The Markdown page: one table per top-level group, a row per key."""
    rows: Dict[str, List[str]] = {}
    comments: Dict[type, Dict[str, str]] = {}
    for key, f, owner in schema_keys():
        hints = typing.get_type_hints(owner)
        note = comments.setdefault(owner, _comments(owner)).get(f.name, "")
        where = _where(key)
        rule = rule_of(key)
        effect = EFFECTS.get(rule.effect, rule.effect) if rule else "—"
        bound = f.metadata.get("range")
        cells = [f"`{key}`", _type_name(hints.get(f.name, f.type)), _default(f),
                 bound.describe() if bound is not None else "", effect,
                 (f"({where}) " if where else "") + note.replace("|", "\\|")]
        group = key.split(".", 1)[0] if "." in key else "(root)"
        rows.setdefault(group, []).append("| " + " | ".join(cells) + " |")
    lines = ["# Config reference", "",
             "Every key of the composed configuration, generated from the schema at each build of this site "
             "(`hyco/compose/reference.py`): the shared groups of `hyco/config/schema.py`, every arm's node "
             "`trainer.<node>` and every network's node `synthetic.<name>`. **Changes** is the key's declared "
             "effect (`hyco/config/keys.py`): the data (part of the data cache key), a run (part of the resume "
             "fingerprint), set per trial by a sweep, how a study scores, or nothing computed (where, how fast "
             "or how visibly). **Range** is checked by `hyco.config.validate` before any compute.", ""]
    for group, body in rows.items():
        lines += [f"## `{group}`" if group != "(root)" else "## Top level", "",
                  "| key | type | default | range | changes | meaning |", "|---|---|---|---|---|---|", *body, ""]
    return "\n".join(lines)
