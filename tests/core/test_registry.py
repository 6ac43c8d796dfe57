"""The one registry utility and plug-in loading."""

from __future__ import annotations

import pytest

from hyco.core import plugins
from hyco.core.registry import Registry
from hyco.errors import ConfigError, PluginError


def test_registry_adds_looks_up_and_names_the_key_on_an_unknown_name():
    reg: Registry = Registry("widget", key="widget.name")

    @reg.register("a")
    def a():
        return 1

    assert reg.get("a") is a and reg.names() == ["a"] and "a" in reg and len(reg) == 1
    with pytest.raises(ConfigError, match=r"widget\.name: unknown widget 'b'; registered: \['a'\]"):
        reg.get("b")
    reg.add("a", a)  # the same definition again (a re-imported module) is fine
    with pytest.raises(PluginError, match="registered twice"):
        reg.add("a", lambda: 2)
    assert reg.remove("a") is a and reg.names() == []


def test_a_registry_discovers_the_modules_of_its_package():
    from hyco.physics.registry import PHYSICS

    assert {"burgers", "heat", "smoke"} <= set(PHYSICS.names())


def test_a_broken_plugin_is_named(monkeypatch):
    class EntryPoint:
        name, value = "broken", "nowhere.at_all"

        def load(self):
            raise ImportError("No module named 'nowhere'")

    monkeypatch.setattr(plugins, "_loaded", False)
    monkeypatch.setattr(plugins, "entry_points", lambda group: [EntryPoint()])
    with pytest.raises(PluginError, match=r"plug-in 'broken' \(nowhere.at_all, entry-point group hyco.plugins\) "
                                          r"failed to load: ImportError"):
        plugins.load_plugins()


def test_config_paths_of_plugins_are_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(plugins, "_config_paths", [])
    with pytest.raises(PluginError, match="not a directory"):
        plugins.add_config_path(tmp_path / "missing")
    plugins.add_config_path(tmp_path)
    plugins.add_config_path(tmp_path)  # once
    assert plugins._config_paths == [f"file://{tmp_path.resolve()}"]
