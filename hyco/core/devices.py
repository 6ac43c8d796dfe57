"""Where tensors live: the configured ``device`` as a torch device."""

from __future__ import annotations

import torch

from hyco.errors import ConfigError


def select_device(spec: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; anything else is passed to ``torch.device``."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {spec!r} requested but CUDA is not available; use device=auto or cpu")
    return device
