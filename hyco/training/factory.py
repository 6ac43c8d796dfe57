"""Builds the trainer for ``trainer.variant`` from the data and run context it is given.

The variants and their builders are declared once, in :mod:`hyco.training.variants`'s registry
(by the modules where their trainers live); this module opens the data and looks them up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from omegaconf import DictConfig

from hyco.data.cache import CacheReader
from hyco.data.dataset import WindowDataset
from hyco.physics.base import PhysicalModel
from hyco.physics.registry import build_physics
from hyco.training.base import AbstractTrainer
from hyco.training.context import RunContext
from hyco.training.tensor import select_device
# the built-in builders, re-exported for callers that build one player directly
from hyco.training.hyco import build_hyco_trainer  # noqa: F401
from hyco.training.physical import build_physical_trainer  # noqa: F401
from hyco.training.synthetic import (  # noqa: F401
    build_model_network, build_synthetic_trainer, input_channels, network_config, static_inputs,
)
from hyco.training.variants import get_variant, synthetic_epochs  # noqa: F401


@dataclass
class TrainingData:
    """The observed windows a run trains and validates on, opened from the data cache."""

    reader: CacheReader
    train: WindowDataset
    val: Optional[WindowDataset]

    @classmethod
    def open(cls, cfg: DictConfig, reader: CacheReader) -> "TrainingData":
        kwargs = dict(rollout_steps=int(cfg.trainer.rollout_steps), static_fields=static_inputs(cfg, reader.static_fields),
                      source="observed", max_cached_sims=int(cfg.data.max_cached_sims))
        train = WindowDataset(reader, "train", **kwargs)
        val = WindowDataset(reader, "val", **kwargs) if reader.num_sims("val") > 0 else None
        return cls(reader, train, val)


def variant_of(cfg: DictConfig) -> str:
    return str(getattr(cfg.trainer.variant, "value", cfg.trainer.variant))


def build_trainer(cfg: DictConfig, data: TrainingData, context: RunContext,
                  model: Optional[PhysicalModel] = None) -> AbstractTrainer:
    """The trainer for ``cfg.trainer.variant``; an unregistered variant is a clear error."""
    try:
        spec = get_variant(variant_of(cfg))
    except KeyError as err:
        raise ValueError(err.args[0]) from None
    model = model or build_physics(cfg.physics, cfg.data.ic, device=select_device(cfg.device))
    return spec.builder(cfg, model, data, context)
