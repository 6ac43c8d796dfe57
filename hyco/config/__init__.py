"""Configuration: the typed schema registered in Hydra's ConfigStore and the rules types cannot express.

``schema`` holds the dataclasses (one per config group); ``validation`` checks required values,
unknown keys and cross-field rules before any compute. Import either from here.
"""

from hyco.config.schema import *  # noqa: F401,F403
from hyco.config.schema import ConfigError, HycoConfig, default_torch_threads, to_plain  # noqa: F401
from hyco.config.validation import validate  # noqa: F401
