"""The data a run trains and validates on, opened from its cache entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, List, Optional, Sequence

from hyco.data.cache import CacheReader
from hyco.data.dataset import WindowDataset

if TYPE_CHECKING:  # pragma: no cover
    from hyco.data.scattered import ScatteredData


def static_inputs(cfg: Any, static_fields: Sequence[str]) -> List[str]:
    """Inputs appended to the dynamic state: the model's static fields (the physics needs them
    too), then the known parameters named in ``data.static_fields``."""
    return [*static_fields, *(n for n in cfg.data.static_fields if n not in static_fields)]


@dataclass
class TrainingData:
    """The observed windows a run trains and validates on, opened from the data cache; for
    scattered observations (a reconstruction problem) the observed points instead
    (``scattered``, with no windows)."""

    reader: CacheReader
    train: Optional[WindowDataset]
    val: Optional[WindowDataset]
    scattered: Optional["ScatteredData"] = None

    @classmethod
    def open(cls, cfg: Any, reader: CacheReader) -> "TrainingData":
        if reader.metadata.get("scattered"):
            from hyco.data.scattered import ScatteredData

            return cls(reader, None, None, ScatteredData.open(cfg, reader))
        kwargs = dict(rollout_steps=int(cfg.trainer.rollout_steps),
                      static_fields=static_inputs(cfg, reader.static_fields),
                      source="observed", max_cached_sims=int(cfg.data.max_cached_sims))
        train = WindowDataset(reader, "train", **kwargs)
        val = WindowDataset(reader, "val", **kwargs) if reader.num_sims("val") > 0 else None
        return cls(reader, train, val)
