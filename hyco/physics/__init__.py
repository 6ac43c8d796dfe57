"""Differentiable PDE models (PhiFlow, torch backend) and their registry.

Each model is one module under ``hyco/physics/models/`` that registers itself with
``@register_physics("name")``; the registry imports them on its first look-up, and plug-in
packages add their own (:mod:`hyco.core.plugins`).
"""

from hyco.errors import PhysicsParameterError, PhysicsSolveError
from hyco.physics.base import PhysicalModel, TinyCase
from hyco.physics.params import ParamSpec
from hyco.physics.registry import (
    PHYSICS,
    available_physics,
    build_physics,
    register_physics,
)

__all__ = [
    "PHYSICS",
    "ParamSpec",
    "PhysicalModel",
    "PhysicsParameterError",
    "PhysicsSolveError",
    "TinyCase",
    "available_physics",
    "build_physics",
    "register_physics",
]
