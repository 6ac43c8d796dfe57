"""Differentiable PDE models (PhiFlow, torch backend) and their registry.

Importing this package registers every built-in model (``burgers``, ``inviscid_burgers``,
``gray_scott``, ``heat``).
"""

from hyco.physics.base import PhysicalModel
from hyco.physics.params import ParamSpec, PhysicsParameterError
from hyco.physics.registry import available_physics, build_physics, register_physics
from hyco.physics.burgers import Burgers
from hyco.physics.gray_scott import GrayScott
from hyco.physics.heat import Heat
from hyco.physics.inviscid_burgers import InviscidBurgers

__all__ = [
    "Burgers",
    "GrayScott",
    "Heat",
    "InviscidBurgers",
    "ParamSpec",
    "PhysicalModel",
    "PhysicsParameterError",
    "available_physics",
    "build_physics",
    "register_physics",
]
