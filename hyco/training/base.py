"""The one thing every trainer has in common."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Dict

from omegaconf import DictConfig

from hyco.errors import NonFiniteLossError


class AbstractTrainer(ABC):
    """Minimal trainer interface: a config and ``train() -> results``.

    Everything model-specific (epochs and optimisers for networks, ``math.minimize`` runs for
    physical parameters) lives in the subclasses :class:`~hyco.training.tensor.TensorTrainer`
    and :class:`~hyco.training.field.FieldTrainer`.
    """

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg

    @abstractmethod
    def train(self) -> Dict[str, Any]:
        """Run the training this trainer is for and return its results (final metrics)."""


def check_finite(value: float, *, term: str, step: int, where: str = "") -> float:
    """Raise :class:`NonFiniteLossError` naming ``term`` and ``step`` if ``value`` is not finite."""
    if not math.isfinite(value):
        suffix = f" ({where})" if where else ""
        raise NonFiniteLossError(
            f"non-finite loss '{term}' = {value} at optimisation step {step}{suffix}; the last "
            "checkpoint is kept. Lower the learning rate, enable trainer.grad_clip, or check the data."
        )
    return value
