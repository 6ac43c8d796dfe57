"""``task=evaluate``: roll each trained model out on held-out simulations and score it.

For every player a run trained (the synthetic network, the physical model) and for the
persistence forecast ``u_{t+1} = u_t`` as a reference, the rollout starts from the true initial
state of each *test* simulation (IC seeds disjoint from training) and is compared to the clean
truth. Reported per step ``t = 1..H`` (step 0, the given IC, is excluded): the relative L2 error
``||u_pred(t) - u(t)||_2 / ||u(t)||_2`` averaged over test simulations; its mean over the horizon
and its final value, over all dynamic fields together and per field (the channels of each field
of ``model.channels``, in that order); and the relative error of each learned parameter. Metric
names come from :mod:`hyco.metrics` (``eval/<split>/...``). Everything is logged to the evaluated
run (metrics, ``evaluation/metrics.json``, figures).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence

import matplotlib.pyplot as plt  # headless: matplotlib falls back to Agg
import numpy as np
import torch
from omegaconf import DictConfig

from hyco import metrics as M
from hyco import tracking
from hyco.arms import PlayerContext, arm_of
from hyco.compose import load_run_config
from hyco.core.checkpoints import RUN_TAG as CHECKSUM_TAG
from hyco.core.checkpoints import verify_files
from hyco.core.devices import select_device
from hyco.core.files import save_json
from hyco.data.cache import CacheReader
from hyco.data.generate import generate_dataset
from hyco.data.training_data import static_inputs
from hyco.errors import CheckpointError, ConfigError, NotFoundError
from hyco.evaluation.guard import guard_recorded
from hyco.physics.base import PhysicalModel
from hyco.physics.families import family_metrics
from hyco.physics.params import param_to_numpy, parameter_metrics
from hyco.physics.registry import build_physics
from hyco.runs.train import experiment_name

log = logging.getLogger(__name__)


@dataclass
class EvaluationResult:
    """Per-step errors per player (all fields), summary metrics and the figures' file names."""

    run_id: str
    per_step: Dict[str, np.ndarray]
    metrics: Dict[str, float]
    figures: list = field(default_factory=list)
    split: str = "test"


def relative_l2_per_step(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Mean over simulations of ``||pred_t - truth_t|| / ||truth_t||``; arrays ``[N, H, C, *s]``."""
    axes = tuple(range(2, pred.ndim))
    err = np.sqrt(((pred - truth) ** 2).sum(axis=axes))
    norm = np.sqrt((truth**2).sum(axis=axes))
    return (err / np.maximum(norm, 1e-12)).mean(axis=0)


def run_config(run_id: str, cfg: DictConfig) -> DictConfig:
    """The evaluated run's own resolved config (falls back to ``cfg`` if it was not logged)."""
    path = tracking.download_artifact(run_id, "config/resolved_config.yaml", cfg.tracking)
    if not Path(path).is_file():
        log.warning("run %s has no logged config; evaluating with the current config", run_id)
        return cfg
    loaded = load_run_config(path)
    loaded.tracking = cfg.tracking  # where to log is the caller's choice
    loaded.evaluation = cfg.evaluation
    return loaded


def resolve_run_id(cfg: DictConfig) -> str:
    """``evaluation.run_id``, else the latest FINISHED run of the configured arm
    (``trainer.variant``) in the experiment, named in the log. It never takes another arm's run:
    with none of this arm, the error names the experiment's latest run and its arm."""
    if cfg.evaluation.run_id:
        return str(cfg.evaluation.run_id)
    tracking.ensure_backend(cfg.tracking)
    arm = str(cfg.trainer.variant)
    runs = [r for r in tracking.search_runs(experiment_name(cfg), "attributes.status = 'FINISHED'",
                                            tracking=cfg.tracking) if "hyco.variant" in r.tags]  # not parents
    if not runs:
        raise NotFoundError(
            f"no finished run in experiment '{experiment_name(cfg)}' to evaluate; train first "
            "(task=[train,evaluate]) or pass evaluation.run_id=<id>"
        )
    mine = [r for r in runs if r.tags["hyco.variant"] == arm]
    if not mine:
        latest = runs[0]
        raise NotFoundError(
            f"no finished run of arm {arm} (trainer.variant) in experiment '{experiment_name(cfg)}'; its latest "
            f"finished run is {latest.run_name} ({latest.run_id}) of arm {latest.tags['hyco.variant']}. Not "
            f"guessing across arms: pass evaluation.run_id={latest.run_id} or trainer={latest.tags['hyco.variant']}")
    log.info("evaluating run %s (%s), the latest finished run of arm %s in experiment '%s'",
             mine[0].run_name, mine[0].run_id, arm, experiment_name(cfg))
    return mine[0].run_id


def load_test_set(cfg: DictConfig, reader: CacheReader, horizon: int, split: str = "test",
                  channels: Optional[Mapping[str, int]] = None) -> Dict[str, np.ndarray]:
    """Clean held-out trajectories ``[N, H+1, C, *s]`` of ``split`` and their static inputs ``[N, C_s, *s]``.

    The dynamic fields ``truth_<field>`` of ``channels`` (the physical model's, in its order)
    are concatenated along the channel axis; default: the model of ``cfg.physics``.
    """
    count = reader.num_sims(split)
    if count == 0:
        raise ConfigError(f"data.num_{split}: the run's data has 0 simulations in split '{split}'; "
                          "there is nothing held out to evaluate on")
    if channels is None:
        channels = build_physics(cfg.physics, cfg.data.ic).channels
    sims = [reader.load(split, i) for i in range(count)]
    truth = np.stack([np.concatenate([s[f"truth_{name}"][: horizon + 1] for name in channels], axis=1)
                      for s in sims]).astype(np.float32)
    inputs = static_inputs(cfg, reader.static_fields)
    keys = [("static_" if n in reader.static_fields else "param_") + n for n in inputs]
    static = np.stack([np.concatenate([s[k] for k in keys]) for s in sims]).astype(np.float32) if keys else None
    return {"truth": truth, "static": static}


def evaluate_run(cfg: DictConfig, split: str = "test") -> EvaluationResult:
    """Evaluate a run's players on held-out simulations and log the results to it.

    ``split="test"`` (the default) reports ``eval/test/...`` metrics and figures; ``split="val"``
    is for model selection (sweeps), reported as ``eval/val/...`` metrics without figures, so
    hyperparameters are never chosen on the test simulations.
    """
    return evaluate_splits(cfg, (split,))[split]


def evaluate_splits(cfg: DictConfig, splits: Sequence[str]) -> Dict[str, EvaluationResult]:
    """:func:`evaluate_run` for several splits, sharing the run's config, data and physics model.

    Nothing is logged until every split is scored; a run that already holds finite evaluation
    metrics never gets non-finite ones over them (:func:`guard_recorded`)."""
    if not cfg.tracking.enabled:
        raise ValueError("tracking.enabled=false: evaluation reads the run's checkpoints from MLflow")
    run_id = resolve_run_id(cfg)
    try:
        record = tracking.get_run(run_id, cfg.tracking)
    except NotFoundError as err:
        raise NotFoundError(f"evaluation.run_id: {err}") from None
    rcfg = run_config(run_id, cfg)
    reader = CacheReader(generate_dataset(rcfg).path)
    if reader.metadata.get("scattered"):  # a reconstruction problem: scored on what it reconstructed
        from hyco.evaluation.reconstruction import evaluate_reconstruction

        model = build_physics(rcfg.physics, rcfg.data.ic, device=select_device(str(cfg.device)))
        ckpt_dir = _verified_checkpoints(cfg, run_id, record)
        metrics = evaluate_reconstruction(cfg, rcfg, run_id, reader, model, ckpt_dir, previous=record.metrics)
        return {split: EvaluationResult(run_id, {}, metrics, split=split) for split in splits}
    horizon = int(cfg.evaluation.horizon) or reader.num_frames - 1
    horizon = min(horizon, reader.num_frames - 1)
    model = build_physics(rcfg.physics, rcfg.data.ic, device=select_device(str(cfg.device)))
    ckpt_dir = _verified_checkpoints(cfg, run_id, record)
    scored = {split: _evaluate_split(rcfg, run_id, reader, model, ckpt_dir, horizon, split) for split in splits}
    guard_recorded(run_id, record.metrics, {k: v for result, *_ in scored.values() for k, v in result.metrics.items()})
    held: Dict[str, float] = {}  # metrics of the splits without figures, logged with the test split's
    for split, (result, predictions, truth, learned) in scored.items():
        if split != "test":
            held.update(result.metrics)
    if "test" in scored:
        result, predictions, truth, learned = scored["test"]
        _log_results(rcfg, result, predictions, truth, model, learned, held)
    elif held:
        tracking.MlflowRunLogger(tracking.get_client(cfg.tracking), run_id).log_metrics(held, step=0)
    return {split: entry[0] for split, entry in scored.items()}


def _verified_checkpoints(cfg: DictConfig, run_id: str, record: tracking.RunRecord) -> Path:
    """The run's checkpoint folder (downloaded if remote), each file checked against the SHA-256
    its run recorded when it finished (each file also carries its own digest, checked on load)."""
    ckpt_dir = tracking.download_artifact(run_id, "checkpoints", cfg.tracking)
    recorded = record.tags.get(CHECKSUM_TAG)
    if recorded:
        verify_files(ckpt_dir, json.loads(recorded))
    return ckpt_dir


def _evaluate_split(rcfg: DictConfig, run_id: str, reader: CacheReader, model: PhysicalModel,
                    ckpt_dir: Path, horizon: int, split: str) -> tuple:
    """``(result, predictions, truth [N, H+1, ...], learned parameters)`` of one split; logs nothing."""
    test = load_test_set(rcfg, reader, horizon, split, model.channels)
    truth = test["truth"][:, 1:]
    predictions: Dict[str, np.ndarray] = {M.PERSISTENCE: np.repeat(test["truth"][:, :1], horizon, axis=1)}
    metrics: Dict[str, float] = {}
    x0 = torch.from_numpy(test["truth"][:, 0])
    if test["static"] is not None:
        x0 = torch.cat([x0, torch.from_numpy(test["static"])], dim=1)
    context = PlayerContext(rcfg, model, ckpt_dir)
    learned: Dict[str, np.ndarray] = {}
    for player in arm_of(rcfg).players:
        trained = player.load(context)
        if trained is None:
            continue
        predictions[player.name] = np.asarray(trained.forecast(x0, horizon))
        if trained.params is not None:
            learned = trained.params
            truth_params = {n: param_to_numpy(t) for n, t in model.true_params().items()}
            scores = parameter_metrics(trained.params, truth_params,
                                       [n for n, s in model.param_specs.items() if s.learnable])
            for name in trained.params:
                if M.param(name) not in scores:
                    continue  # a fixed, known parameter
                metrics[M.eval_param(split, name)] = scores[M.param(name)]
                if M.param_rel_error(name) in scores:
                    metrics[M.eval_param_rel_error(split, name)] = scores[M.param_rel_error(name)]
            if trained.theta:  # the scalars of family parameters and their errors
                metrics.update({f"eval/{split}/{key}": value
                                for key, value in family_metrics(model, trained.theta).items()})
    if len(predictions) == 1:
        raise CheckpointError(f"run {run_id} has no checkpoints in {ckpt_dir}; nothing to evaluate")

    per_step = {p: relative_l2_per_step(pred, truth) for p, pred in predictions.items()}
    slices = model.converter.channel_slices(model.dynamic_fields)
    for player, errors in per_step.items():
        metrics[M.rel_l2_mean(split, player)] = float(errors.mean())
        metrics[M.rel_l2_final(split, player)] = float(errors[-1])
        for name, channels in slices.items():
            field_errors = relative_l2_per_step(predictions[player][:, :, channels], truth[:, :, channels])
            metrics[M.rel_l2_mean(split, player, name)] = float(field_errors.mean())
            metrics[M.rel_l2_final(split, player, name)] = float(field_errors[-1])
    return EvaluationResult(run_id, per_step, metrics, split=split), predictions, test["truth"], learned


def _log_results(cfg: DictConfig, result: EvaluationResult, predictions: Dict[str, np.ndarray],
                 truth: np.ndarray, model: PhysicalModel, learned: Mapping[str, np.ndarray],
                 other_metrics: Mapping[str, float]) -> None:
    from hyco.evaluation.figures import (  # matplotlib
        error_vs_time,
        field_parameter,
        parameter_history,
        snapshots,
    )

    logger = tracking.MlflowRunLogger(tracking.get_client(cfg.tracking), result.run_id)
    logger.log_history([(key, value, 0) for key, value in {**other_metrics, **result.metrics}.items()]  # one call
                       + [(M.rel_l2_curve(result.split, player), float(value), t)
                          for player, errors in result.per_step.items() for t, value in enumerate(errors, start=1)])
    out = tracking.local_artifact_path(result.run_id, "evaluation", cfg.tracking)
    save_json(out / "metrics.json", {"metrics": result.metrics,
                                     "per_step": {p: e.tolist() for p, e in result.per_step.items()}})
    if not tracking.artifacts_are_local(result.run_id, cfg.tracking):  # out is a download folder
        logger.log_artifact(out / "metrics.json", "evaluation")
    if not cfg.evaluation.figures:
        return
    figures = {"eval_error_vs_time": error_vs_time(result.per_step),
               "eval_snapshots": snapshots(truth, predictions, int(cfg.evaluation.num_snapshots),
                                           model.converter.channel_slices(model.dynamic_fields))}
    history = {}
    for name in cfg.physics.params:
        points = tracking.get_metric_history(result.run_id, M.param(name), cfg.tracking)
        if points:
            history[str(name)] = points
    if history:
        truth_means = {str(n): float(s.true_value) for n, s in cfg.physics.params.items()}
        figures["param_vs_epoch"] = parameter_history(history, truth_means)
    true_params = {n: param_to_numpy(t) for n, t in model.true_params().items()}
    for name, value in learned.items():
        value = np.asarray(value)
        if value.size > 1 and name in true_params:  # a learned field: its map beside the truth
            figures[f"eval_param_{name}_field"] = field_parameter(name, value, true_params[name])
    for name, fig in figures.items():
        logger.log_figure(fig, f"evaluation/{name}.png")
        plt.close(fig)
        result.figures.append(f"evaluation/{name}.png")
