"""Synthetic models: PyTorch networks (forecasters ``[B, C, *s]`` at t to t+1), their registry,
rollouts and checkpoints."""

from hyco.synthetic.registry import (
    NETWORKS,
    NetworkSpec,
    available_networks,
    build_network,
    register_network,
)
from hyco.synthetic.rollout import masked_rollout_loss, rollout

__all__ = [
    "NETWORKS",
    "NetworkSpec",
    "available_networks",
    "build_network",
    "masked_rollout_loss",
    "register_network",
    "rollout",
]
