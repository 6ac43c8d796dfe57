"""Figures of an evaluation: snapshots, error versus time, learned parameters versus epoch."""

from __future__ import annotations

from typing import Dict, List, Tuple

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

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


def snapshots(truth: np.ndarray, predictions: Dict[str, np.ndarray], count: int = 3) -> plt.Figure:
    """Truth, each player's prediction and its error for the first test simulation.

    ``truth [N, H+1, C, *s]`` includes the IC; predictions ``[N, H, C, *s]`` start at step 1.
    2D fields show the velocity magnitude; 1D fields show the first component as curves.
    """
    players = [p for p in predictions if p != "persistence"] or list(predictions)
    horizon = truth.shape[1] - 1
    times = _times(horizon, count)
    if truth.ndim == 4:  # 1D: [N, T, C, X]
        fig, axes = plt.subplots(2, len(times), figsize=(4 * len(times), 6), squeeze=False)
        for j, t in enumerate(times):
            axes[0, j].plot(truth[0, t, 0], "k", label="truth")
            for p in players:
                axes[0, j].plot(predictions[p][0, t - 1, 0], color=PLAYER_STYLE.get(p), label=p)
                axes[1, j].plot(predictions[p][0, t - 1, 0] - truth[0, t, 0], color=PLAYER_STYLE.get(p), label=p)
            axes[0, j].set_title(f"step {t}")
            axes[1, j].set_title(f"error, step {t}")
        axes[0, 0].legend()
        fig.tight_layout()
        return fig
    magnitude = lambda a: np.sqrt((a**2).sum(axis=0))  # noqa: E731
    rows = 1 + 2 * len(players)
    fig, axes = plt.subplots(rows, len(times), figsize=(3 * len(times), 2.6 * rows), squeeze=False)
    for j, t in enumerate(times):
        true = magnitude(truth[0, t])
        vmax = float(true.max())
        axes[0, j].imshow(true.T, origin="lower", vmin=0, vmax=vmax)
        axes[0, j].set_title(f"truth |u|, step {t}")
        for i, p in enumerate(players):
            pred = magnitude(predictions[p][0, t - 1])
            err = magnitude(predictions[p][0, t - 1] - truth[0, t])
            axes[1 + 2 * i, j].imshow(pred.T, origin="lower", vmin=0, vmax=vmax)
            axes[1 + 2 * i, j].set_title(f"{p} |u|")
            im = axes[2 + 2 * i, j].imshow(err.T, origin="lower", cmap="magma")
            axes[2 + 2 * i, j].set_title(f"{p} |error|")
            fig.colorbar(im, ax=axes[2 + 2 * i, j], fraction=0.046)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def parameter_history(history: Dict[str, List[Tuple[int, float]]], truth: Dict[str, float]) -> plt.Figure:
    """Learned parameter (mean for fields) per epoch against its true (mean) value."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, points in history.items():
        steps, values = zip(*points)
        ax.plot(steps, values, marker="o", label=key)
        base = key[: -len("_mean")] if key.endswith("_mean") else key
        if base in truth:
            ax.axhline(truth[base], color="k", linestyle="--", label=f"{base} (truth)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("value")
    ax.set_title("learned physical parameters")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
