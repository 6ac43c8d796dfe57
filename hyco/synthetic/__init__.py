"""Synthetic models: PyTorch networks mapping ``[B, C, *spatial]`` at t to t+1, and rollouts."""

from hyco.synthetic.registry import available_networks, build_network, register_network
from hyco.synthetic.rollout import masked_rollout_loss, rollout
from hyco.synthetic.unet import UNet

__all__ = [
    "UNet",
    "available_networks",
    "build_network",
    "masked_rollout_loss",
    "register_network",
    "rollout",
]
