"""A noise sweep: the comparison of arms repeated at several observation-noise levels, drawn as the
static papers' figure (solution error and parameter error against the noise level, +- one std).

Each level is one :func:`~hyco.compare.comparison.compare_runs` with ``observation.noise=<level>``
(its seed scheme, parent run and table). What is drawn per arm is read off its runs: every player's
reconstruction error (``eval/recon/<player>/rel_l2_final``), and an arm's own reconstruction metric
where it declares one (a metric named ``.../reconstruction_rel_l2``: the PINN's network), labelled
``<arm> <player>``; the parameter error is ``||theta - theta*|| / ||theta*||`` over every family
scalar (``eval/recon/param/theta_rel_error``) for the arms that learn parameters.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from hyco import metrics as M
from hyco import tracking
from hyco.arms import baseline_arms, get_arm
from hyco.compare.comparison import Comparison, compare_runs
from hyco.core.paths import mlruns_dir
from hyco.evaluation.stats import paired, t_interval

log = logging.getLogger(__name__)

#: (level, arm, seed, series label, kind "solution" | "parameters", value)
Record = Tuple[float, str, int, str, str, float]


def solution_series(arm: str) -> List[Tuple[str, str]]:
    """``[(label, metric)]`` of an arm's solution errors (module docstring)."""
    spec = get_arm(arm)
    series = [(f"{arm} {p.name}", M.eval_recon(p.name, "final")) for p in spec.players]
    series += [(f"{arm} network", key) for key in spec.metrics if key.endswith("/reconstruction_rel_l2")]
    return series


def records_of(comparisons: Dict[float, Comparison]) -> List[Record]:
    """Every drawn value of every run of the sweep."""
    out: List[Record] = []
    for level, comparison in comparisons.items():
        for row in comparison.rows:
            for label, key in solution_series(row.arm):
                if key in row.metrics:
                    out.append((level, row.arm, row.seed, label, "solution", float(row.metrics[key])))
            theta = row.metrics.get(M.eval_recon_param(M.PARAM_THETA_ERROR))
            if get_arm(row.arm).learns_params and theta is not None:
                out.append((level, row.arm, row.seed, row.arm, "parameters", float(theta)))
    return out


def figure(records: Sequence[Record], title: str):
    """Two panels, solution relative L2 and parameter error against the noise level: each series'
    mean over seeds with a band of +- one standard deviation."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, kind, ylabel in ((axes[0], "solution", "relative L2 of u (50 x 50 grid)"),
                             (axes[1], "parameters", "||theta - theta*|| / ||theta*||")):
        for label in dict.fromkeys(r[3] for r in records if r[4] == kind):
            levels = sorted({r[0] for r in records if r[4] == kind and r[3] == label})
            stats = [t_interval([r[5] for r in records if r[4] == kind and r[3] == label and r[0] == lv])
                     for lv in levels]
            mean = np.array([s.mean for s in stats])
            std = np.array([s.std if s.n > 1 else 0.0 for s in stats])
            line, = ax.plot(levels, mean, marker="o", label=label)
            ax.fill_between(levels, np.maximum(mean - std, 1e-6), mean + std, alpha=0.2, color=line.get_color())
        ax.set_xlabel("noise level (sigma / max |u_obs|)")
        ax.set_ylabel(ylabel)
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{title}: mean ± 1 std over seeds")
    fig.tight_layout()
    return fig


def paired_series(records: Sequence[Record]) -> List[Tuple[str, str]]:
    """``[(series, baseline series)]``: each arm's player against the baseline arm of that player (the
    arm registry's ``baseline_for``), among the arms of ``records`` with a solution series of it."""
    arms = list(dict.fromkeys(r[1] for r in records))
    labels = {r[3] for r in records if r[4] == "solution"}
    return [(f"{arm} {player}", f"{baseline} {player}")
            for baseline, players in baseline_arms(arms).items() for player in players for arm in arms
            if arm != baseline and {f"{arm} {player}", f"{baseline} {player}"} <= labels]


def summary_table(records: Sequence[Record]) -> str:
    """Markdown: mean ± std [95 % t interval] per level and series, and the paired wins of every
    arm's solution error against its baseline's (:func:`paired_series`), seed by seed."""
    levels = sorted({r[0] for r in records})
    series = list(dict.fromkeys((r[4], r[3]) for r in records))
    lines = ["| noise | " + " | ".join(f"{label} ({kind})" for kind, label in series) + " |",
             "|---" * (len(series) + 1) + "|"]
    for level in levels:
        cells = [t_interval([r[5] for r in records if r[0] == level and (r[4], r[3]) == s]).format(3) for s in series]
        lines.append(f"| {level:g} | " + " | ".join(cells) + " |")
    for hybrid, baseline in paired_series(records):
        lines += ["", f"Solution error, {hybrid} against {baseline} on the same seeds:", "",
                  "| noise | wins | mean difference |", "|---|---|---|"]
        for level in levels:
            def values(label: str) -> List[float]:
                picked = sorted((r[2], r[5]) for r in records
                                if r[0] == level and r[3] == label and r[4] == "solution")
                return [v for _, v in picked]
            p = paired(values(hybrid), values(baseline))
            if p.n:
                lines.append(f"| {level:g} | {p.wins} of {p.n} | {p.difference.mean:+.4f} ± {p.difference.std:.4f} |")
    return "\n".join(lines) + "\n"


def records_csv(records: Sequence[Record]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["noise", "arm", "seed", "series", "kind", "value"])
    writer.writerows(records)
    return buffer.getvalue()


def noise_sweep(experiment: str, levels: Sequence[float], arms: Sequence[str], seeds: int,
                overrides: Sequence[str] = (), output: Path = Path("static_noise"),
                tables: Optional[Path] = None) -> str:
    """Compare ``arms`` at every noise level (module docstring); write ``output``'s ``.png``,
    ``.csv`` and ``.md`` and log them to an MLflow run; return the Markdown summary. The levels'
    comparison tables go to ``tables`` (default ``mlruns/comparisons``)."""
    comparisons: Dict[float, Comparison] = {}
    tables = Path(tables) if tables is not None else mlruns_dir() / "comparisons"
    for level in levels:
        log.info("noise sweep %s: level %g", experiment, level)
        target = tables / f"{experiment}_noise{level:g}_seeds{seeds}.md"
        comparisons[float(level)] = compare_runs(experiment, arms, [*overrides, f"observation.noise={level}"],
                                                 target, seeds)
    records = records_of(comparisons)
    summary = (f"**{experiment}**, noise sweep over {len(levels)} levels, {seeds} seed(s) per arm "
               f"(mean ± std [95 % t interval]; comparisons per level under mlruns/comparisons/)\n\n"
               + summary_table(records))
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig = figure(records, experiment)
    fig.savefig(output.with_suffix(".png"), dpi=120)
    output.with_suffix(".csv").write_text(records_csv(records))
    output.with_suffix(".md").write_text(summary)
    from hyco.compose import compose_config, overrides_for_arm

    tracking_cfg = compose_config([f"experiment={experiment}", f"trainer={arms[0]}",
                                   *overrides_for_arm(overrides, arms[0])], check=False).tracking
    with tracking.tracked_run(tracking_cfg, "static_noise", run_name=f"noise-{experiment}",
                              tags={"hyco.noise_sweep": experiment,
                                    **{f"hyco.comparison.{lv:g}": c.parent_run_id for lv, c in comparisons.items()}},
                              params={"levels": ",".join(f"{lv:g}" for lv in levels), "arms": ",".join(arms),
                                      "seeds": str(seeds), "overrides": " ".join(overrides)}) as run:
        run.log_figure(fig, "static_noise.png")
        run.log_text(records_csv(records), "static_noise.csv")
        run.log_text(summary, "static_noise.md")
        run.log_metrics({f"compare/noise_{r[0]:g}/{r[3].replace(' ', '_')}/{r[4]}": t_interval(
            [x[5] for x in records if x[:1] == r[:1] and x[3:5] == r[3:5]]).mean for r in records
            if math.isfinite(r[5])}, step=0)
    log.info("noise sweep written to %s (.png, .csv, .md)", output)
    return summary
