"""Evaluation of a reconstruction problem: how well each player reconstructed what it observed.

On scattered observations (the papers' protocol) the players reconstruct their training
trajectory; there is no held-out forecast. Scored, for every player the run trained:

* the physical player: its trajectory from the known initial state on its own grid against the
  clean truth resampled to that grid (frames ``1..T-1``), and the learned parameters (a family
  parameter with its scalars, ``||theta - theta*||/||theta*||`` and the papers' ``p_error``);
* the synthetic player (a neural field): queried at every sample of the truth's own grid (the
  fine grid when the truth was finer than the learner's, or the ``data.reference_nodes`` grid) at
  frames ``1..T-1``;
* on a static problem (one frame, the solution): both players read at every point of that
  reference grid (the physical solution by interpolation, as the static papers score it).

Each as relative L2 and as MSE (a sum over fields of the fields' MSEs): the final value
(``eval/recon/<player>/<score>_final``), the minimum over the training epochs of the last
``evaluation.min_window`` (``..._min``) and the value at the last epoch (``..._last_epoch``:
before a post-training, Gray–Scott's L-BFGS), both from the run's ``recon/<player>/<score>``
history (the network's is measured every ``evaluation.reconstruction_every`` epochs, so its
minimum is over those); and the final misfit at the observed points (``data_mse_final``).
Everything is logged to the evaluated run, with a figure of the reconstruction.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import matplotlib.pyplot as plt
import numpy as np
import torch
from omegaconf import DictConfig

from hyco import metrics as M
from hyco import tracking
from hyco.arms import PlayerContext, arm_of
from hyco.core.files import save_json
from hyco.data.cache import CacheReader
from hyco.data.scattered import ScatteredData, reconstruction_scores
from hyco.errors import CheckpointError
from hyco.evaluation.guard import guard_recorded
from hyco.physics.base import PhysicalModel
from hyco.physics.families import family_metrics
from hyco.physics.params import param_to_numpy, parameter_metrics

log = logging.getLogger(__name__)


def window_minimum(history: List[Tuple[int, float]], window: int) -> float:
    """The minimum of a metric ``[(step, value)]`` over its last ``window`` epochs (steps greater
    than the last step minus ``window``); NaN for an empty history."""
    finite = [(s, v) for s, v in history if np.isfinite(v)]
    if not finite:
        return float("nan")
    last = max(s for s, _ in finite)
    return float(min(v for s, v in finite if s > last - int(window)))


def score_players(rcfg: DictConfig, model: PhysicalModel, data: ScatteredData,
                  ckpt_dir: Path) -> Tuple[Dict[str, float], Dict[str, np.ndarray]]:
    """The final scores of every player of the run's arm (module docstring) and the
    reconstructions themselves (for the figure): ``(metrics, {player: [T, C, *s] of sim 0})``."""
    context = PlayerContext(rcfg, model, ckpt_dir)
    metrics: Dict[str, float] = {}
    pictures: Dict[str, np.ndarray] = {}
    for player in arm_of(rcfg).players:
        trained = player.load(context)
        if trained is None:
            continue
        if trained.query is not None:
            scores = data.field_error(trained.query)
            reference, (first, spacing) = data.reference()
            pictures[player.name] = _query_frames(trained.query, data, reference.shape[2:], first, spacing)
        elif trained.forecast is not None:
            x0 = data.x0
            grid = torch.as_tensor(np.asarray(trained.forecast(x0, data.num_frames - 1)))
            scores = reconstruction_scores(grid, data.truth[:, 1:])
            pictures[player.name] = grid[0].numpy()
        else:
            continue
        metrics[M.eval_recon(player.name, "final")] = scores["rel_l2"]
        metrics[M.eval_recon(player.name, "final", "mse")] = scores["mse"]
        if trained.params is not None:
            truth = {n: param_to_numpy(t) for n, t in model.true_params().items()}
            learnable = [n for n, s in model.param_specs.items() if s.learnable]
            found = parameter_metrics(trained.params, truth, learnable)
            if trained.theta:
                found.update(family_metrics(model, trained.theta))
            metrics.update({M.eval_recon_param(k): v for k, v in found.items()})
    if not metrics:
        raise CheckpointError(f"no trained player in {ckpt_dir}; nothing to evaluate")
    return metrics, pictures


def _query_frames(query, data: ScatteredData, shape, first, spacing) -> np.ndarray:
    """A neural field (or a static solution read at points) on a grid at the scored frames:
    ``[T - first, C, *shape]``."""
    axes = [torch.as_tensor(f + s * np.arange(n), dtype=torch.float32) for f, s, n in zip(first, spacing, shape)]
    space = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(shape))
    return np.stack([query(data.with_time(space, t)).T.reshape(-1, *shape).numpy()
                     for t in range(data.first, data.num_frames)])


def evaluate_reconstruction(cfg: DictConfig, rcfg: DictConfig, run_id: str, reader: CacheReader,
                            model: PhysicalModel, ckpt_dir: Path,
                            previous: Optional[Mapping[str, float]] = None) -> Dict[str, float]:
    """Score a reconstruction run (module docstring) and log the metrics and a figure to it;
    ``previous``: the run's recorded metrics, never overwritten with non-finite ones
    (:func:`hyco.evaluation.guard.guard_recorded`)."""
    data = ScatteredData.open(rcfg, reader)
    metrics, pictures = score_players(rcfg, model, data, ckpt_dir)
    window, epochs = int(cfg.evaluation.min_window), int(rcfg.trainer.epochs)
    for player in M.PLAYERS:
        for score, key in (("rel_l2", M.recon_rel_l2(player)), ("mse", M.recon_mse(player))):
            history = [(s, v) for s, v in tracking.get_metric_history(run_id, key, cfg.tracking) if s <= epochs]
            if history:
                metrics[M.eval_recon(player, "min", score)] = window_minimum(history, window)
                metrics[M.eval_recon(player, "last_epoch", score)] = history[-1][1]
        misfit = tracking.get_metric_history(run_id, M.recon_data_mse(player), cfg.tracking)
        if misfit:
            metrics[M.eval_recon(player, "final", "data_mse")] = misfit[-1][1]
    guard_recorded(run_id, previous or {}, metrics)
    logger = tracking.MlflowRunLogger(tracking.get_client(cfg.tracking), run_id)
    logger.log_metrics(metrics, step=0)
    out = tracking.local_artifact_path(run_id, "evaluation", cfg.tracking)
    save_json(out / "metrics.json", {"metrics": metrics})
    if not tracking.artifacts_are_local(run_id, cfg.tracking):
        logger.log_artifact(out / "metrics.json", "evaluation")
    if cfg.evaluation.figures and model.dim == 2:
        fig = reconstruction_figure(data, pictures, int(cfg.evaluation.num_snapshots))
        logger.log_figure(fig, "evaluation/reconstruction.png")
        plt.close(fig)
    log.debug("reconstruction metrics of run %s: %s", run_id, metrics)
    return metrics


def reconstruction_figure(data: ScatteredData, pictures: Dict[str, np.ndarray], count: int):
    """The truth and each player's reconstruction of the first field at ``count`` frames, with the
    observed points of those frames on the truth."""
    reference, _ = data.reference()
    truth = reference[data.first:].numpy()
    frames = np.unique(np.linspace(0, truth.shape[0] - 1, max(1, count)).astype(int))
    rows = [("truth", truth), *pictures.items()]
    fig, axes = plt.subplots(len(rows), len(frames), figsize=(2.6 * len(frames), 2.4 * len(rows)), squeeze=False)
    lo, hi = float(truth[:, 0].min()), float(truth[:, 0].max())
    first_field = next(iter(data.observed.values()), None)
    for r, (name, values) in enumerate(rows):
        for c, t in enumerate(frames):
            ax = axes[r, c]
            ax.imshow(values[t, 0].T, origin="lower", vmin=lo, vmax=hi, cmap="viridis", aspect="equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"frame {t + data.first}" if data.timed else "solution")
            if c == 0:
                ax.set_ylabel(name)
            if r == 0 and first_field is not None:
                _mark_points(ax, first_field, t + data.first, values.shape[2:], data)
    fig.tight_layout()
    return fig


def _mark_points(ax, obs, frame: int, shape, data: ScatteredData) -> None:
    """Observed points of ``frame`` drawn in the pixel coordinates of the reference grid."""
    _, (first, spacing) = data.reference()
    pick = obs.frames == frame
    if not bool(pick.any()):
        return
    pts = obs.points[pick][:, :2].numpy()
    ax.scatter((pts[:, 0] - first[0]) / spacing[0], (pts[:, 1] - first[1]) / spacing[1], s=4, c="white",
               edgecolors="black", linewidths=0.3)
    ax.set_xlim(-0.5, shape[0] - 0.5)
    ax.set_ylim(-0.5, shape[1] - 0.5)
