"""Differentiable PDE models (PhiFlow, torch backend) and their registry.

Importing this package registers every built-in model (``burgers``).
"""

from hyco.physics.base import (
    ParamSpec,
    PhysicalModel,
    PhysicsParameterError,
    available_physics,
    build_physics,
    register_physics,
)
from hyco.physics.burgers import Burgers

__all__ = [
    "Burgers",
    "ParamSpec",
    "PhysicalModel",
    "PhysicsParameterError",
    "available_physics",
    "build_physics",
    "register_physics",
]
