"""Figures of an evaluation: snapshots per field, error versus time, learned parameters (per epoch; fields as maps)."""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Tuple

import matplotlib.pyplot as plt
import numpy as np

PLAYER_STYLE = {"synthetic": "tab:blue", "physical": "tab:orange", "persistence": "tab:gray"}


def error_vs_time(per_step: Dict[str, np.ndarray]) -> plt.Figure:
    """Relative L2 error per rollout step for each player (log scale)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for player, errors in per_step.items():
        steps = np.arange(1, len(errors) + 1)
        ax.plot(steps, errors, label=player, color=PLAYER_STYLE.get(player),
                linestyle="--" if player == "persistence" else "-")
    ax.set_xlabel("rollout step")
    ax.set_ylabel("relative L2 error")
    ax.set_yscale("log")
    ax.set_title("held-out rollout error")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def _times(horizon: int, count: int) -> List[int]:
    return sorted({int(t) for t in np.linspace(1, horizon, max(1, count))})


def snapshots(truth: np.ndarray, predictions: Dict[str, np.ndarray], count: int = 3,
              fields: Optional[Mapping[str, slice]] = None) -> plt.Figure:
    """Truth, each player's prediction and its error for the first test simulation, per field.

    ``truth [N, H+1, C, *s]`` includes the IC; predictions ``[N, H, C, *s]`` start at step 1.
    ``fields`` maps each dynamic field to its channels (default: one field over all channels);
    each field gets its own block of panel rows. 2D fields show the field's magnitude (its
    value for a scalar field); 1D fields show its first component as curves; a state without
    spatial axes shows every field's trajectory against the step.
    """
    fields = dict(fields) if fields else {"u": slice(0, truth.shape[2])}
    players = [p for p in predictions if p != "persistence"] or list(predictions)
    horizon = truth.shape[1] - 1
    times = _times(horizon, count)
    if truth.ndim == 3:  # no spatial axes (an ODE system): [N, T, C]; every field against time
        return _trajectories(truth, predictions, players, fields)
    if truth.ndim == 4:  # 1D: [N, T, C, X]; per field a row of values and a row of errors
        fig, axes = plt.subplots(2 * len(fields), len(times), figsize=(4 * len(times), 3 * 2 * len(fields)),
                                 squeeze=False)
        for f, (name, ch) in enumerate(fields.items()):
            first = ch.start  # first component of the field
            for j, t in enumerate(times):
                top, bottom = axes[2 * f, j], axes[2 * f + 1, j]
                top.plot(truth[0, t, first], "k", label="truth")
                for p in players:
                    top.plot(predictions[p][0, t - 1, first], color=PLAYER_STYLE.get(p), label=p)
                    bottom.plot(predictions[p][0, t - 1, first] - truth[0, t, first], color=PLAYER_STYLE.get(p),
                                label=p)
                top.set_title(f"{name}, step {t}")
                bottom.set_title(f"{name} error, step {t}")
            axes[2 * f, 0].legend()
        fig.tight_layout()
        return fig
    magnitude = lambda a: np.sqrt((a**2).sum(axis=0))  # noqa: E731
    block = 1 + 2 * len(players)  # truth, then prediction and error of each player
    rows = block * len(fields)
    fig, axes = plt.subplots(rows, len(times), figsize=(3 * len(times), 2.6 * rows), squeeze=False)
    for f, (name, ch) in enumerate(fields.items()):
        r0 = f * block
        for j, t in enumerate(times):
            true = magnitude(truth[0, t, ch])
            vmax = float(true.max())
            axes[r0, j].imshow(true.T, origin="lower", vmin=0, vmax=vmax)
            axes[r0, j].set_title(f"truth |{name}|, step {t}")
            for i, p in enumerate(players):
                pred = magnitude(predictions[p][0, t - 1, ch])
                err = magnitude(predictions[p][0, t - 1, ch] - truth[0, t, ch])
                axes[r0 + 1 + 2 * i, j].imshow(pred.T, origin="lower", vmin=0, vmax=vmax)
                axes[r0 + 1 + 2 * i, j].set_title(f"{p} |{name}|")
                im = axes[r0 + 2 + 2 * i, j].imshow(err.T, origin="lower", cmap="magma")
                axes[r0 + 2 + 2 * i, j].set_title(f"{p} |{name} error|")
                fig.colorbar(im, ax=axes[r0 + 2 + 2 * i, j], fraction=0.046)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def _trajectories(truth: np.ndarray, predictions: Dict[str, np.ndarray], players: List[str],
                  fields: Mapping[str, slice]) -> plt.Figure:
    """A state without spatial axes: per field, the first test simulation's truth and each
    player's forecast against the step."""
    fig, axes = plt.subplots(len(fields), 1, figsize=(7, 2.8 * len(fields)), squeeze=False)
    steps = np.arange(truth.shape[1])
    for ax, (name, ch) in zip(axes[:, 0], fields.items()):
        ax.plot(steps, truth[0, :, ch.start], "k", label="truth")
        for p in players:
            ax.plot(steps[1:], predictions[p][0, :, ch.start], color=PLAYER_STYLE.get(p), label=p)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    axes[0, 0].legend()
    fig.tight_layout()
    return fig


def field_parameter(name: str, learned: np.ndarray, truth: np.ndarray) -> plt.Figure:
    """A learned field parameter beside its truth: two curves (1D) or two images (2D)."""
    learned = np.squeeze(np.asarray(learned, dtype=np.float64))
    truth = np.broadcast_to(np.squeeze(np.asarray(truth, dtype=np.float64)), learned.shape)
    if learned.ndim == 1:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(truth, "k--", label=f"{name} (truth)")
        ax.plot(learned, color=PLAYER_STYLE["physical"], label=f"{name} (learned)")
        ax.set_xlabel("cell")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_title(f"learned field parameter {name}")
        fig.tight_layout()
        return fig
    vmin, vmax = float(min(truth.min(), learned.min())), float(max(truth.max(), learned.max()))
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, (label, values) in zip(axes, (("truth", truth), ("learned", learned))):
        im = ax.imshow(values.T, origin="lower", vmin=vmin, vmax=vmax)
        ax.set_title(f"{name} ({label})")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=list(axes), fraction=0.046)
    return fig


def parameter_history(history: Dict[str, List[Tuple[int, float]]], truth: Dict[str, float]) -> plt.Figure:
    """Learned parameter (mean for fields) per epoch against its true (mean) value, by parameter name."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in history.items():
        steps, values = zip(*points)
        ax.plot(steps, values, marker="o", label=name)
        if name in truth:
            ax.axhline(truth[name], color="k", linestyle="--", label=f"{name} (truth)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("value")
    ax.set_title("learned physical parameters")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
