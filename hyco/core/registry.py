"""One registry utility for every kind of plug-in: PDEs, initial-condition priors, networks, arms.

A :class:`Registry` maps names to objects. Built-in entries register themselves when their module
is imported; the registry imports the modules of its own ``discover`` package on the first
look-up (so a new built-in PDE is one module in ``hyco/physics/models/``, nothing else names it),
and then every plug-in of the ``hyco.plugins`` entry-point group (:mod:`hyco.core.plugins`), so a
researcher's own package adds entries without editing ``hyco/``::

    PHYSICS = Registry("physics model", key="physics.name", discover="hyco.physics.models")

    @PHYSICS.register("heat")
    class Heat(PhysicalModel): ...

    PHYSICS.get("heat")        # the class; an unknown name is a ConfigError naming the key
    PHYSICS.names()            # sorted names

Registering a different object under a taken name raises :class:`~hyco.errors.PluginError`
(re-importing a module registers an equal object again, which is allowed).
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from typing import Callable, Dict, Generic, Iterator, List, Optional, TypeVar

from hyco.errors import ConfigError, PluginError

T = TypeVar("T")


def _same(a: object, b: object) -> bool:
    """Whether two registered objects are the same definition (a reloaded module re-creates them)."""
    if a is b:
        return True
    return (getattr(a, "__module__", None), getattr(a, "__qualname__", None)) == (
        getattr(b, "__module__", None), getattr(b, "__qualname__", None)) and getattr(a, "__qualname__", None)


class Registry(Generic[T]):
    """Names to objects of one kind.

    Parameters
    ----------
    kind
        What an entry is, for messages (``"physics model"``).
    key
        The config key that names an entry (``"physics.name"``), for messages.
    discover
        A package whose modules are imported on the first look-up (the built-in entries).
    """

    def __init__(self, kind: str, key: str, discover: Optional[str] = None) -> None:
        self.kind = kind
        self.key = key
        self.discover = discover
        self._entries: Dict[str, T] = {}
        self._discovered = False
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ registration
    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name``; returns ``obj``."""
        with self._lock:
            previous = self._entries.get(name)
            if previous is not None and not _same(previous, obj):
                raise PluginError(f"{self.kind} '{name}' is registered twice ({_label(previous)} and {_label(obj)}); "
                                  "rename one of them")
            self._entries[name] = obj
        return obj

    def remove(self, name: str) -> Optional[T]:
        """Unregister ``name`` (returns its entry, or None); for tests and interactive sessions."""
        with self._lock:
            return self._entries.pop(name, None)

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorate(obj: T) -> T:
            return self.add(name, obj)

        return decorate

    # ------------------------------------------------------------------ look-up
    def _load(self) -> None:
        if self._discovered:
            return
        with self._lock:
            if self._discovered:
                return
            self._discovered = True
            if self.discover:
                package = importlib.import_module(self.discover)
                for module in pkgutil.iter_modules(package.__path__):
                    if not module.name.startswith("_"):
                        importlib.import_module(f"{self.discover}.{module.name}")
            from hyco.core.plugins import load_plugins

            load_plugins()

    def get(self, name: str) -> T:
        """The entry ``name``; :class:`~hyco.errors.ConfigError` naming :attr:`key` and the
        registered names when there is none."""
        self._load()
        name = str(getattr(name, "value", name))
        if name not in self._entries:
            raise ConfigError(f"{self.key}: unknown {self.kind} '{name}'; registered: {self.names()}")
        return self._entries[name]

    def names(self) -> List[str]:
        """Sorted names of every entry."""
        self._load()
        return sorted(self._entries)

    def items(self) -> List[tuple]:
        """``(name, entry)`` pairs, sorted by name."""
        self._load()
        return sorted(self._entries.items())

    def __contains__(self, name: object) -> bool:
        self._load()
        return str(getattr(name, "value", name)) in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


def _label(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"
