"""Differentiable PDE models (PhiFlow, torch backend) and their registry.

Importing this package registers every built-in model (``burgers``, ``inviscid_burgers``,
``gray_scott``, ``heat``, ``smoke``).
"""

from hyco.physics.base import PhysicalModel
from hyco.physics.params import ParamSpec, PhysicsParameterError, PhysicsSolveError
from hyco.physics.registry import available_physics, build_physics, register_physics
from hyco.physics.burgers import Burgers
from hyco.physics.gray_scott import GrayScott
from hyco.physics.heat import Heat
from hyco.physics.inviscid_burgers import InviscidBurgers
from hyco.physics.smoke import Smoke

__all__ = [
    "Burgers",
    "GrayScott",
    "Heat",
    "InviscidBurgers",
    "ParamSpec",
    "PhysicalModel",
    "PhysicsParameterError",
    "PhysicsSolveError",
    "Smoke",
    "available_physics",
    "build_physics",
    "register_physics",
]
