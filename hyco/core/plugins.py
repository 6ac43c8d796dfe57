"""Plug-ins: a researcher's own PDEs, priors, networks and arms, from their own package.

A plug-in is a Python package installed beside ``hyco`` that declares an entry point in the group
``hyco.plugins`` (``pyproject.toml``)::

    [project.entry-points."hyco.plugins"]
    my_pde = "my_package.hyco_plugin"

Importing that module registers its entries with the registries (``@register_physics``,
``@register_network``, ``@register_arm``, ``@register_ic``). Its config files (a folder with the
groups ``physics/``, ``experiment/``, ``trainer/``, ``synthetic/``, ...) join Hydra's search path
when the module calls :func:`add_config_path` (e.g. ``add_config_path("pkg://my_package.conf")``),
so ``experiment=my_pde_quick`` composes like a built-in preset. Nothing under ``hyco/`` is edited.

Plug-ins are loaded once per process, on the first look-up in any registry.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points
from pathlib import Path
from typing import List, Union

from hyco.errors import PluginError

GROUP = "hyco.plugins"
log = logging.getLogger(__name__)

_loaded = False
_lock = threading.RLock()
_config_paths: List[str] = []


def load_plugins() -> List[str]:
    """Import every entry point of :data:`GROUP` (once per process); returns their names."""
    global _loaded
    with _lock:
        if _loaded:
            return [ep.name for ep in entry_points(group=GROUP)]
        _loaded = True
        names = []
        for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
            try:
                ep.load()
            except PluginError:
                raise
            except Exception as err:  # a broken plug-in is named, not a bare traceback from deep inside
                raise PluginError(f"plug-in '{ep.name}' ({ep.value}, entry-point group {GROUP}) failed to load: "
                                  f"{type(err).__name__}: {err}. Fix or uninstall that package") from err
            names.append(ep.name)
            log.debug("loaded plug-in %s (%s)", ep.name, ep.value)
        return names


def add_config_path(path: Union[str, Path]) -> None:
    """Add a folder of config groups to Hydra's search path (``pkg://module.sub`` or a directory)."""
    text = str(path)
    if "://" not in text:
        folder = Path(text).expanduser().resolve()
        if not folder.is_dir():
            raise PluginError(f"add_config_path: {folder} is not a directory of config groups")
        text = f"file://{folder}"
    with _lock:
        if text not in _config_paths:
            _config_paths.append(text)


def config_search_path() -> List[str]:
    """The config folders plug-ins added (after loading every plug-in)."""
    load_plugins()
    return list(_config_paths)
