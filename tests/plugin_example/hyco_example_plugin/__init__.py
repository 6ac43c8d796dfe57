"""A HYCO plug-in: one PDE, one network and one arm, registered from outside the platform."""

from pathlib import Path

from hyco.core.plugins import add_config_path
from hyco_example_plugin import convnet, decay, relay  # noqa: F401  (each registers itself)

add_config_path(Path(__file__).parent / "conf")  # physics/, experiment/, synthetic/, trainer/
