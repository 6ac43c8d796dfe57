"""``task=train``: one tracked, resumable training run of the configured variant.

A run is identified by a fingerprint of everything that determines its result (the keys whose
declared effect is ``data``, ``run`` or ``trial``: :mod:`hyco.config.keys`). Rerunning the same command after a
crash finds the FAILED/KILLED run with that fingerprint and continues it, in the same MLflow
run, from its last checkpoint; after a finished run, the same command starts a new run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence

from omegaconf import DictConfig, OmegaConf

from hyco import tracking
from hyco.arms import arm_of, build_trainer
from hyco.config.keys import RUN_FINGERPRINT, select
from hyco.core.checkpoints import RUN_TAG as CHECKSUM_TAG
from hyco.core.checkpoints import file_checksums
from hyco.core.console import capture_run_log
from hyco.core.devices import select_device
from hyco.core.plain import to_plain
from hyco.data.cache import CacheReader
from hyco.data.generate import generate_dataset
from hyco.data.training_data import TrainingData
from hyco.errors import Interrupted
from hyco.physics.registry import build_physics
from hyco.runs.outputs import LOG_ARTIFACT_DIR, dataset_ref, log_network
from hyco.training.context import RunContext
from hyco.training.rng import seed_everything

log = logging.getLogger(__name__)


def run_fingerprint(cfg: DictConfig) -> str:
    """SHA-256 (16 hex) of the keys that determine a training run's result (those whose declared
    effect is ``data``, ``run`` or ``trial``: :mod:`hyco.config.keys`)."""
    text = json.dumps(select(to_plain(cfg), RUN_FINGERPRINT), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_params(cfg: DictConfig) -> Dict[str, str]:
    """The flattened config logged as run parameters, with only the ``trainer`` knobs that act on
    the arm (its registered ``reads``): the run page then shows what was actually tuned. The
    complete resolved config is logged as an artifact beside them."""
    plain = to_plain(cfg)
    arm = arm_of(cfg)
    trainer = {k: v for k, v in plain["trainer"].items() if not isinstance(v, dict) and arm.knob_acts(k)}
    if arm.node:
        trainer[arm.node] = {k: v for k, v in plain["trainer"][arm.node].items() if arm.knob_acts(f"{arm.node}.{k}")}
    plain["trainer"] = trainer
    plain["synthetic"] = {k: v for k, v in plain["synthetic"].items() if v is not None}
    return tracking.flatten_config(plain)


def experiment_name(cfg: DictConfig) -> str:
    return cfg.tracking.experiment_name or cfg.experiment_name


def variant_name(cfg: DictConfig) -> str:
    return arm_of(cfg).name


def find_resumable_run(cfg: DictConfig, fingerprint: str) -> Optional[str]:
    """The newest FAILED/KILLED run with this fingerprint, if resuming is enabled."""
    if not cfg.trainer.resume or not cfg.tracking.enabled:
        return None
    tracking.ensure_backend(cfg.tracking)
    tracking.mark_stale_runs_killed(experiment_name(cfg), cfg.tracking)
    runs = tracking.search_runs(
        experiment_name(cfg),
        f"tags.`hyco.fingerprint` = '{fingerprint}'",
        order_by=["attributes.start_time DESC"],
        tracking=cfg.tracking,
    )
    for run in runs:
        if run.status in ("FAILED", "KILLED"):
            return run.run_id
        if run.status == "FINISHED":
            return None  # the newest attempt finished: the same command is a fresh repetition
    return None


@dataclass
class TrainOutcome:
    """What ``task=train`` produced: the MLflow run and the trainer's final results."""

    run_id: str
    results: Dict[str, Any]
    resumed: bool
    model_uri: Optional[str] = None  # the logged network (None: no network, or tracking.log_model=false)


def open_training_data(cfg: DictConfig) -> tuple[TrainingData, str]:
    """Generate (or hit) the data cache and open its observed windows."""
    generated = generate_dataset(cfg)
    return TrainingData.open(cfg, CacheReader(generated.path)), generated.key


def _upload_log(logger: tracking.RunLogger, log_path: Path) -> None:
    """A local artifact store already holds the log file (it is written into the run's artifact
    directory, appended to on resume); a remote one gets a copy of it."""
    from hyco.core.paths import mlruns_dir

    if log_path.is_file() and (mlruns_dir() / "downloads") in log_path.parents:
        logger.log_artifact(log_path, LOG_ARTIFACT_DIR)


def train_run(cfg: DictConfig, parent_run_id: Optional[str] = None,
              extra_tags: Optional[Dict[str, str]] = None,
              observers: Sequence[Callable[[int, Dict[str, float]], None]] = (),
              on_start: Optional[Callable[[str], None]] = None, run_name: Optional[str] = None) -> TrainOutcome:
    """Train ``cfg.trainer.variant`` in a tracked MLflow run (resuming a crashed one).

    ``parent_run_id`` makes the run a child (comparisons, sweeps); ``extra_tags`` are added to it;
    ``observers`` receive every epoch's metrics (pruning); ``on_start(run_id)`` is called once
    the run exists; ``run_name`` (default ``tracking.run_name``, else the arm) names the run
    (sweeps: ``<arm>-t<trial>``, fresh seeds: ``<arm>-seed<k>``).
    """
    seed_everything(int(cfg.seed))
    data, cache_key = open_training_data(cfg)
    fingerprint = run_fingerprint(cfg)
    resume_id = find_resumable_run(cfg, fingerprint)
    if resume_id:
        log.info("resuming run %s (same config, last attempt did not finish)", resume_id)
    tags = {
        "hyco.variant": variant_name(cfg),
        "hyco.physics": cfg.physics.name,
        "hyco.data_key": cache_key,
        "hyco.fingerprint": fingerprint,
        "hyco.experiment_preset": cfg.experiment_name,
        **(extra_tags or {}),
    }
    params = run_params(cfg)
    started: list = []  # the run id once the run exists (for the message of an interruption)
    try:
        return _tracked_training(cfg, data, cache_key, tags, params, resume_id, parent_run_id, observers,
                                 on_start, started, run_name or cfg.tracking.run_name or variant_name(cfg))
    except Interrupted as stop:  # the run ended KILLED (tracked_run); say which, and how to go on
        if stop.message or not started:
            raise
        how = ("rerun the same command to resume it from its last checkpoint" if cfg.trainer.resume
               else "its last checkpoint is kept")
        raise stop.with_message(f"run {started[0]} ended KILLED; {how}") from None


def _tracked_training(cfg: DictConfig, data: TrainingData, cache_key: str, tags: Dict[str, str],
                      params: Dict[str, str], resume_id: Optional[str], parent_run_id: Optional[str],
                      observers: Sequence[Callable[[int, Dict[str, float]], None]],
                      on_start: Optional[Callable[[str], None]], started: list, run_name: str) -> TrainOutcome:
    with tracking.tracked_run(cfg.tracking, experiment_name(cfg), run_name=run_name,
                              tags=tags, params=params, resume_run_id=resume_id,
                              parent_run_id=parent_run_id) as logger:
        started.append(logger.run_id)
        ckpt_dir = (tracking.writable_artifact_dir(logger.run_id, cfg.tracking, resume=bool(resume_id))
                    if cfg.tracking.enabled else _scratch_dir(logger.run_id))
        if not resume_id:
            logger.log_text(OmegaConf.to_yaml(cfg), "config/resolved_config.yaml")
        if on_start is not None:
            on_start(logger.run_id)
        if not resume_id:
            logger.log_dataset(dataset_ref(cfg, data.reader.path, cache_key))
        context = RunContext(logger, ckpt_dir / "checkpoints", log_memory=cfg.tracking.log_memory,
                             resumed=bool(resume_id), observers=list(observers),
                             publish=_checkpoint_publisher(cfg, logger),
                             publish_every_s=float(cfg.tracking.checkpoint_upload_s))
        log_path = ckpt_dir / LOG_ARTIFACT_DIR / "train.log"
        try:
            with capture_run_log(log_path):  # every epoch at DEBUG, whatever the console shows
                model = build_physics(cfg.physics, cfg.data.ic, device=select_device(cfg.device))
                trainer = build_trainer(cfg, data, context, model=model)
                try:
                    results = trainer.train()
                finally:  # the last checkpoints reach the store also when training stops early (pruned)
                    context.flush()
                log.debug("run %s finished: %s", logger.run_id,
                          {k: v for k, v in results.items() if isinstance(v, float)})
                uri = log_network(cfg, logger, data, context.checkpoint_dir)
                # what evaluation checks the files against: a checkpoint damaged later is refused
                logger.set_tags({CHECKSUM_TAG: json.dumps(file_checksums(context.checkpoint_dir), sort_keys=True)})
        finally:  # a failed or pruned run keeps its log too
            _upload_log(logger, log_path)
        return TrainOutcome(logger.run_id, results, bool(resume_id), uri)


def _checkpoint_publisher(cfg: DictConfig, logger: tracking.RunLogger) -> Optional[Callable[[Any], None]]:
    """Uploads the checkpoint folder to a remote artifact store (None for a local one: the
    checkpoints are written straight into it)."""
    if not cfg.tracking.enabled or tracking.artifacts_are_local(logger.run_id, cfg.tracking):
        return None
    return lambda folder: logger.log_artifact(folder, "checkpoints")


def _scratch_dir(run_id: str):
    from hyco.core.paths import mlruns_dir

    return mlruns_dir() / "untracked" / run_id
