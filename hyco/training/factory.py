"""Builds the trainer for ``trainer.variant`` from the data and run context it is given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

from omegaconf import DictConfig

from hyco.config import to_plain
from hyco.data.cache import CacheReader
from hyco.fields import padding_mode
from hyco.data.dataset import WindowDataset
from hyco.physics.base import PhysicalModel, build_physics
from hyco.synthetic.registry import build_network
from hyco.training.base import AbstractTrainer
from hyco.training.context import RunContext
from hyco.training.hybrid import ObservedWindows
from hyco.training.hyco import HYCOTrainer
from hyco.training.physical import PhysicalTrainer
from hyco.training.synthetic import SyntheticTrainer


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


def static_inputs(cfg: DictConfig, static_fields: Sequence[str]) -> List[str]:
    """Inputs appended to the dynamic state: the model's static fields (the physics needs them
    too), then the known parameters named in ``data.static_fields``."""
    return [*static_fields, *(n for n in cfg.data.static_fields if n not in static_fields)]


def input_channels(cfg: DictConfig, model: PhysicalModel) -> tuple[int, int]:
    """(in, out) channels of the synthetic network: dynamic fields, plus static fields and known
    parameters as inputs (one channel each)."""
    dynamic = sum(model.channels.values())
    static = sum(model.converter.fields[n] for n in model.static_fields)
    params = len([n for n in cfg.data.static_fields if n not in model.static_fields])
    return dynamic + static + params, dynamic


def network_config(cfg: DictConfig, model: PhysicalModel) -> Dict[str, Any]:
    """``synthetic`` config with ``padding: auto`` resolved from the fields' boundaries."""
    net = to_plain(cfg.synthetic) if isinstance(cfg.synthetic, DictConfig) else dict(cfg.synthetic)
    if str(net.get("padding", "auto")) == "auto":
        net["padding"] = padding_mode(model.field_specs)
    return net


def build_model_network(cfg: DictConfig, model: PhysicalModel):
    """The configured network for ``model``'s state (channels and padding from its fields)."""
    c_in, c_out = input_channels(cfg, model)
    return build_network(network_config(cfg, model), model.dim, c_in, c_out, seed=int(cfg.seed))


def synthetic_epochs(cfg: DictConfig) -> int:
    """Synthetic epochs a run plans for (the scheduler's horizon): hybrid rounds count
    ``synthetic_epochs_per_round`` each after the warm start."""
    tr = cfg.trainer
    if variant_of(cfg) not in HYBRID_VARIANTS:
        return int(tr.epochs)
    warm = min(int(tr.warmstart_epochs), int(tr.epochs))
    return warm + (int(tr.epochs) - warm) * int(tr.synthetic_epochs_per_round)


def variant_of(cfg: DictConfig) -> str:
    return str(getattr(cfg.trainer.variant, "value", cfg.trainer.variant))


def build_synthetic_trainer(cfg: DictConfig, model: PhysicalModel, data: TrainingData,
                            context: RunContext) -> SyntheticTrainer:
    network = build_model_network(cfg, model)
    return SyntheticTrainer(cfg, network, data.train, data.val, context, total_epochs=synthetic_epochs(cfg))


def build_physical_trainer(cfg: DictConfig, model: PhysicalModel, data: TrainingData,
                           context: RunContext) -> PhysicalTrainer:
    return PhysicalTrainer(cfg, model, data.train, data.val, context)


def build_hyco_trainer(cfg: DictConfig, model: PhysicalModel, data: TrainingData,
                       context: RunContext) -> HYCOTrainer:
    """Both players (built exactly as for the baselines) and the observed windows."""
    return HYCOTrainer(cfg, build_physical_trainer(cfg, model, data, context),
                       build_synthetic_trainer(cfg, model, data, context),
                       ObservedWindows(data.train), data.val, context)


Builder = Callable[[DictConfig, PhysicalModel, TrainingData, RunContext], AbstractTrainer]

HYBRID_VARIANTS = ("full", "warmstart", "mixed", "cooperative")
TRAINERS: Dict[str, Builder] = {
    "synthetic_only": build_synthetic_trainer,
    "physical_only": build_physical_trainer,
    **{variant: build_hyco_trainer for variant in HYBRID_VARIANTS},
}


def build_trainer(cfg: DictConfig, data: TrainingData, context: RunContext,
                  model: Optional[PhysicalModel] = None) -> AbstractTrainer:
    """The trainer for ``cfg.trainer.variant``; a variant without a builder is a clear error."""
    variant = getattr(cfg.trainer.variant, "value", cfg.trainer.variant)
    if variant not in TRAINERS:
        raise ValueError(f"trainer.variant: '{variant}' has no trainer here; available: {sorted(TRAINERS)}")
    model = model or build_physics(cfg.physics, cfg.data.ic)
    return TRAINERS[variant](cfg, model, data, context)
