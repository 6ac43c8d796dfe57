"""Reports of a comparison over several seeds: statistics table, paired results, CSV, horizon figure.

Every metric of every arm is summarised over seeds by :func:`hyco.evaluation.stats.t_interval`; arms are
compared seed by seed with the baselines (:func:`hyco.evaluation.stats.paired`): the arm that is the
synthetic player's baseline (the network alone) on the forecast columns, the physical player's
baseline (physics alone) on the physical forecast and on each learned parameter
(``ArmSpec.baseline_for``).
"""

from __future__ import annotations

import csv
import io
import math
from typing import List, Sequence

import matplotlib.pyplot as plt
import numpy as np

from hyco.arms import baseline_arms, get_arm
from hyco.evaluation.stats import Summary, paired, t_interval

COLUMNS = ("synthetic_mean", "synthetic_final", "physical_mean", "physical_final", "synthetic_log_mse",
           "physical_log_mse")
#: the columns each player's baseline is compared on
PLAYER_COLUMNS = {"synthetic": ("synthetic_mean", "synthetic_final", "synthetic_log_mse"),
                  "physical": ("physical_mean", "physical_final", "physical_log_mse")}


def _values(rows: Sequence, arm: str, metric: str) -> List[float]:
    """Per-seed values of ``metric`` (a column or ``param:<name>``) for ``arm``, in seed order."""
    mine = sorted((r for r in rows if r.arm == arm), key=lambda r: r.seed)
    if metric.startswith("param:"):
        return [r.param_errors.get(metric[6:], math.nan) for r in mine]
    if metric.startswith("own:"):
        return [r.own.get(metric[4:], math.nan) for r in mine]
    return [getattr(r, metric) for r in mine]


def _metrics(params: Sequence[str]) -> List[str]:
    return [*COLUMNS, *(f"param:{n}" for n in params), "seconds"]


def _own_metrics(rows: Sequence, arm: str) -> List[str]:
    """``own:<name>`` for every metric of the arm's own (``ArmSpec.metrics``) its runs logged."""
    return [f"own:{k}" for k in dict.fromkeys(k for r in rows if r.arm == arm for k in r.own)]


def _label(metric: str, recon: bool = False) -> str:
    if metric.startswith("param:"):
        return f"{metric[6:]} rel. error"
    if metric.startswith("own:"):
        return metric[4:]
    if recon and metric.endswith("_mean"):  # a reconstruction's minimum over the last epochs
        return metric.replace("_mean", " min").replace("_", " ")
    return metric.replace("_", " ").replace("mse", "MSE")


def seed_tables(title: str, rows: Sequence, arms: Sequence[str], params: Sequence[str], persistence: Summary) -> str:
    """Markdown: per arm and metric ``mean ± std [95 % t interval]``, then the paired results."""
    seeds = len({r.seed for r in rows})
    metrics = _metrics(params)
    recon = any(getattr(r, "reconstruction", False) for r in rows)
    what = ("reconstruction relative L2, minimum over the last epochs and final" if recon
            else f"held-out rollout relative L2; persistence forecast: {persistence.format()}")
    lines = [f"**{title}**, {seeds} seeds ({what}; mean ± std [95 % t interval])", "",
             "| arm | " + " | ".join(_label(m, recon) for m in metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for arm in arms:
        cells = []
        for m in metrics:
            s = t_interval(_values(rows, arm, m))
            cells.append(f"{s.mean:.1f}" if m == "seconds" and s.n else s.format())
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    own = [(arm, m) for arm in arms for m in _own_metrics(rows, arm)]
    if own:
        lines += ["", "The arms' own metrics at their last epoch:", "",
                  "| arm | metric | mean ± std [95 % t interval] |", "|---|---|---|"]
        lines += [f"| {arm} | {_label(m)} | {t_interval(_values(rows, arm, m)).format()} |" for arm, m in own]
    lines += ["", "Paired against the baselines on the same seeds (wins = seeds where the arm's error is "
              "lower; mean difference arm − baseline ± std):", ""]
    lines += ["| arm | baseline | metric | wins | mean difference |", "|---|---|---|---|---|"]
    for sentence in paired_results(rows, arms, params):
        lines.append(sentence)
    return "\n".join(lines) + "\n"


def paired_results(rows: Sequence, arms: Sequence[str], params: Sequence[str]) -> List[str]:
    """One Markdown row per (arm, baseline, metric) where both have the metric."""
    recon = any(getattr(r, "reconstruction", False) for r in rows)
    out = []
    for baseline, players in baseline_arms(arms).items():
        columns = [c for p in players for c in PLAYER_COLUMNS[p]]
        metrics = [*columns, *((f"param:{n}" for n in params) if "physical" in players else ())]
        for arm in arms:
            if arm == baseline:
                continue
            for m in metrics:
                p = paired(_values(rows, arm, m), _values(rows, baseline, m))
                if p.n == 0:
                    continue
                d = p.difference
                spread = f" ± {d.std:.4f}" if p.n > 1 else ""
                out.append(f"| {arm} | {baseline} | {_label(m, recon)} | {p.wins} of {p.n} | {d.mean:+.4f}{spread} |")
    return out


def seed_csv(rows: Sequence, arms: Sequence[str], params: Sequence[str]) -> str:
    """Long CSV: one line per (arm, metric) with n, mean, std, interval and the per-seed values."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["arm", "metric", "n", "mean", "std", "ci95_low", "ci95_high", "values"])
    for arm in arms:
        for m in [*_metrics(params), *_own_metrics(rows, arm)]:
            values = _values(rows, arm, m)
            s = t_interval(values)
            if s.n:
                writer.writerow([arm, m, s.n, s.mean, s.std, s.low, s.high, " ".join(f"{v:.6g}" for v in values)])
    return buffer.getvalue()


def horizon_figure(title: str, rows: Sequence, arms: Sequence[str]) -> plt.Figure:
    """Each arm's forecaster (its registered forecast player) error per rollout step: the mean over
    seeds with a band of ± one standard deviation."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for arm in arms:
        player = get_arm(arm).forecast
        curves = [np.asarray(r.per_step[player]) for r in rows if r.arm == arm and player in r.per_step]
        if not curves:
            continue
        stack = np.stack(curves)
        mean = stack.mean(axis=0)
        steps = np.arange(1, len(mean) + 1)
        line, = ax.plot(steps, mean, label=f"{arm} ({player})")
        if len(curves) > 1:
            std = stack.std(axis=0, ddof=1)
            ax.fill_between(steps, np.maximum(mean - std, 1e-12), mean + std, alpha=0.2, color=line.get_color())
    ax.set_xlabel("rollout step")
    ax.set_ylabel("relative L2 error (test)")
    ax.set_yscale("log")
    ax.set_title(f"{title}: forecast error, mean ± std over seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
