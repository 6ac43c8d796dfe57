"""Arms: the HYCO variants, the baselines and the field's other hybrid methods, as plug-ins.

Each arm is one module here (or in a plug-in package) that declares an :class:`ArmSpec`; the
registry (:data:`ARMS`) imports them on its first look-up. Everything above (evaluation,
comparison, sweep) reads the registry and never names an arm.
"""

from hyco.arms.spec import (
    ARMS,
    PHYSICAL_KEYS,
    PLAYERS,
    SYNTHETIC_KEYS,
    ArmSpec,
    Player,
    PlayerContext,
    TrainedPlayer,
    arm_nodes,
    arm_of,
    available_arms,
    baseline_arms,
    get_arm,
    node_owners,
    reconstruction_arms,
    register_arm,
    static_arms,
    with_params,
)

__all__ = [
    "ARMS",
    "PHYSICAL_KEYS",
    "PLAYERS",
    "SYNTHETIC_KEYS",
    "ArmSpec",
    "Player",
    "PlayerContext",
    "TrainedPlayer",
    "arm_nodes",
    "arm_of",
    "available_arms",
    "baseline_arms",
    "build_trainer",
    "get_arm",
    "node_owners",
    "reconstruction_arms",
    "register_arm",
    "static_arms",
    "with_params",
]


def build_trainer(cfg, data, context, model=None):
    """The trainer of ``cfg.trainer.variant`` on ``data`` (the physical model is built from
    ``cfg.physics`` on ``cfg.device`` unless given)."""
    from hyco.core.devices import select_device
    from hyco.physics.registry import build_physics

    model = model or build_physics(cfg.physics, cfg.data.ic, device=select_device(cfg.device))
    return arm_of(cfg).build(cfg, model, data, context)
