"""What a training run records beyond its metrics: the data it trained on as a dataset input, the
trained network as a loadable model, and its log file.

The network logged is the one the evaluation scores (the best checkpoint by validation loss when
the run kept one, else the last), so ``mlflow.pytorch.load_model`` on the run reproduces the
run's held-out rollout error.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np
from omegaconf import DictConfig

from hyco.arms.players import SYNTHETIC_BEST, SYNTHETIC_LAST
from hyco.core.checkpoints import first_existing
from hyco.data.training_data import TrainingData
from hyco.synthetic.checkpoint import load_network
from hyco.tracking.run_logger import DatasetRef, RunLogger

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

log = logging.getLogger(__name__)

LOG_ARTIFACT_DIR = "logs"


def dataset_ref(cfg: DictConfig, path: Path, key: str) -> DatasetRef:
    """The cache entry at ``path`` as a dataset: named after the preset and its physics, the
    cache key as digest, its directory as source. (What regenerates it elsewhere is the run's
    ``config/resolved_config.yaml``: its ``data``, ``physics`` and ``observation`` groups are
    what the key hashes, and the entry's ``metadata.json`` repeats them.)"""
    return DatasetRef(name=f"{cfg.experiment_name}/{cfg.physics.name}", digest=key, source=str(Path(path).resolve()))


def evaluated_network(checkpoint_dir: Path) -> Optional["nn.Module"]:
    """The run's trained network as the evaluation loads it (best, else last checkpoint), on the
    CPU in eval mode; None when the run trained no stand-alone network."""
    path = first_existing(Path(checkpoint_dir), (SYNTHETIC_BEST, SYNTHETIC_LAST))
    return None if path is None else load_network(path)


def input_example(data: TrainingData) -> np.ndarray:
    """Real network inputs ``[2, C_in, *spatial]``: the initial states (with their static channels)
    of the first two training windows. Two, not one: ``torch.export`` would take a batch of one
    for the only batch size the model accepts. A neural field's inputs are points: the first two
    observed ``(x, t)``."""
    if data.scattered is not None:
        points = next(iter(data.scattered.observed.values())).points
        return np.asarray(points[:2], dtype=np.float32)
    count = len(data.train)
    x0 = [np.asarray(data.train[i % count][0], dtype=np.float32) for i in range(2)]
    return np.stack(x0)


def log_network(cfg: DictConfig, logger: RunLogger, data: TrainingData,
                checkpoint_dir: Path) -> Optional[str]:
    """Log the trained network once as an MLflow model (``tracking.log_model``); returns its URI."""
    if not cfg.tracking.log_model:
        return None
    network = evaluated_network(checkpoint_dir)
    if network is None:
        return None
    start = time.perf_counter()
    uri = logger.log_model(network, input_example(data))
    log.debug("network logged as %s (%.1f s)", uri, time.perf_counter() - start)
    return uri
