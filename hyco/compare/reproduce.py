"""Reproductions: the papers' experiments run with N seeds and set beside the published numbers.

For each chosen benchmark of the registry (:mod:`hyco.compare.published`), every run group (an
arm and its overrides on the benchmark's preset) is trained and evaluated with seeds ``0..N-1``;
seed ``s`` adds ``s`` to the training seed and to the observation seed, and leaves the simulated
truth alone: the published runs repeat one trajectory with another draw of sensors (unseeded in
the authors' code) and another training (the network's initialisation, the ghost points, the
batch order, and where a preset asks for it the jittered initial guess of the parameters). Each
row's values over seeds are summarised as mean ± std with a 95 % Student-t interval
(:mod:`hyco.evaluation.stats`) and given a verdict against the published values
(:func:`~hyco.compare.published.verdict`).

Everything is checked before any compute (every config composed). The runs are children of one
MLflow parent run, which receives the Markdown table, the CSV of every value and the figure. A
run group already finished with the same fingerprint (the same command, interrupted and
restarted) is reused rather than retrained, so an interrupted reproduction picks up where it
stopped; ``reuse=False`` retrains.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from omegaconf import DictConfig

from hyco import tracking
from hyco.compare.published import Benchmark, Outcome, load_registry, verdict
from hyco.compose import compose_config
from hyco.core.paths import mlruns_dir
from hyco.errors import ConfigError
from hyco.evaluation import evaluate_run
from hyco.runs.threads import configure_threads
from hyco.runs.train import experiment_name, run_fingerprint, train_run

log = logging.getLogger(__name__)

REUSE_TAG = "hyco.reproduce"


@dataclass
class RunRecord:
    """One trained and evaluated run of a reproduction."""

    benchmark: str
    arm: str
    overrides: Tuple[str, ...]
    seed: int
    run_id: str
    metrics: Dict[str, float]
    seconds: float
    reused: bool = False


def select(benchmarks: Sequence[Benchmark], names: Optional[Sequence[str]]) -> List[Benchmark]:
    """The benchmarks named (all when ``names`` is empty); a :class:`ConfigError` listing the
    registry for an unknown name."""
    if not names:
        return list(benchmarks)
    known = {b.name: b for b in benchmarks}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"--benchmarks: unknown {unknown}; the registry has {sorted(known)}")
    return [known[n] for n in names]


def run_config(bench: Benchmark, arm: str, row_overrides: Sequence[str], overrides: Sequence[str],
               seed: int) -> DictConfig:
    """The checked config of one run of a reproduction (seed ``s``: the preset's training and
    observation seeds + ``s``)."""
    base = compose_config([f"experiment={bench.preset}", f"trainer={arm}", *row_overrides, *overrides])
    if seed == 0:
        return base
    return compose_config([f"experiment={bench.preset}", f"trainer={arm}", *row_overrides, *overrides,
                           f"seed={int(base.seed) + seed}", f"observation.seed={int(base.observation.seed) + seed}"])


def _finished_run(cfg: DictConfig) -> Optional[str]:
    """A finished, evaluated run of this exact config from an earlier reproduction."""
    tracking.ensure_backend(cfg.tracking)
    runs = tracking.search_runs(experiment_name(cfg), f"tags.`hyco.fingerprint` = '{run_fingerprint(cfg)}' and "
                                f"tags.`{REUSE_TAG}` = '1' and attributes.status = 'FINISHED'",
                                order_by=["attributes.start_time DESC"], tracking=cfg.tracking)
    for run in runs:
        if any(k.startswith("eval/") for k in run.metrics):
            return run.run_id
    return None


def run_one(bench: Benchmark, arm: str, row_overrides: Tuple[str, ...], cfg: DictConfig, seed: int,
            parent_id: Optional[str], reuse: bool, train: bool = True) -> RunRecord:
    """Train and evaluate one run (or reuse a finished one of the same config); with ``train``
    false, a run that has not finished is recorded without values (the table says "no result")."""
    if reuse or not train:
        found = _finished_run(cfg)
        if found:
            record = tracking.get_run(found, cfg.tracking)
            log.info("reproduction %s: %s seed %d reused from run %s", bench.name, arm, seed, found)
            seconds = float(record.metrics.get("time/wall_s", math.nan))
            return RunRecord(bench.name, arm, row_overrides, seed, found, dict(record.metrics), seconds, True)
    if not train:
        log.info("reproduction %s: %s seed %d has no finished run (left out: --table-only)", bench.name, arm, seed)
        return RunRecord(bench.name, arm, row_overrides, seed, "", {}, math.nan)
    configure_threads(cfg)
    start = time.perf_counter()
    outcome = train_run(cfg, parent_run_id=parent_id, extra_tags={
        REUSE_TAG: "1", "hyco.benchmark": bench.name, "hyco.arm": arm, "hyco.seed": str(seed)})
    seconds = time.perf_counter() - start
    cfg.evaluation.run_id = outcome.run_id
    evaluated = dict(evaluate_run(cfg).metrics)
    tracking.MlflowRunLogger(tracking.get_client(cfg.tracking), outcome.run_id).log_metrics(
        {"time/wall_s": seconds}, step=0)
    # the run's last value of every metric (an arm's own, such as the PINN's reconstruction), then evaluation's
    metrics = {**tracking.get_run(outcome.run_id, cfg.tracking).metrics, **evaluated}
    return RunRecord(bench.name, arm, row_overrides, seed, outcome.run_id, metrics, seconds)


def outcomes(bench: Benchmark, records: Sequence[RunRecord]) -> List[Outcome]:
    """Each row of ``bench`` against our values over seeds."""
    out = []
    for row in bench.rows:
        values = [r.metrics.get(row.metric, math.nan) for r in sorted(records, key=lambda r: r.seed)
                  if r.benchmark == bench.name and (r.arm, r.overrides) == row.group]
        out.append(verdict(row, values))
    return out


def _fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.4g}" if abs(value) >= 1e-3 else f"{value:.3e}"


def markdown(benchmarks: Sequence[Benchmark], results: Dict[str, List[Outcome]], records: Sequence[RunRecord],
             seeds: int, overrides: Sequence[str] = ()) -> str:
    """The reproduction table: one section per benchmark, one line per row. ``overrides`` (the command
    line's, applied to every run after each row's own) are named at the top: they change what a row's
    arm column says it ran."""
    lines = [f"Reproduction over {seeds} seed(s): ours is mean ± std [95 % t interval] over seeds; "
             "the verdict compares our interval with the range of the published values.", ""]
    if overrides:
        lines += [f"Every run also had (after its row's own overrides, so these win): `{' '.join(overrides)}`", ""]
    for bench in benchmarks:
        lines += [f"### {bench.name} ({bench.protocol})", ""]
        if bench.claim:
            lines += [f"Claim: {bench.claim}", ""]
        if bench.source:
            lines += [f"Published: {bench.source}", ""]
        lines += ["| row | arm | metric | published | ours | n | verdict |", "|---|---|---|---|---|---|---|"]
        for o in results[bench.name]:
            r = o.row
            arm = r.arm + (f" ({' '.join(r.overrides)})" if r.overrides else "")
            published = (" / ".join(_fmt(v) for v in r.published) + (f" ± {_fmt(r.spread)}" if r.spread else "")
                         if r.published else "—")
            ours = "—"
            if o.summary is not None and o.summary.n:
                ours = _fmt(o.summary.mean)
                if o.summary.n > 1:
                    ours += f" ± {_fmt(o.summary.std)} [{_fmt(o.summary.low)}, {_fmt(o.summary.high)}]"
            n = o.summary.n if o.summary is not None else 0
            lines.append(f"| {r.label} | {arm} | `{r.metric}` | {published} | {ours} | {n} | {o.verdict} |")
        walls = {}
        for rec in records:
            if rec.benchmark == bench.name and math.isfinite(rec.seconds):
                walls.setdefault(rec.arm + (f" ({' '.join(rec.overrides)})" if rec.overrides else ""),
                                 []).append(rec.seconds)
        if walls:
            mean_walls = "; ".join(f"{k}: {sum(v) / len(v):.0f}" for k, v in walls.items())
            lines += ["", f"Wall time per run [s]: {mean_walls}"]
        if bench.notes:
            lines += ["", bench.notes.strip()]
        lines.append("")
    return "\n".join(lines)


def csv_text(records: Sequence[RunRecord], benchmarks: Sequence[Benchmark]) -> str:
    """Every value read by a row, one line per (benchmark, row, seed)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["benchmark", "protocol", "row", "arm", "overrides", "metric", "seed", "value", "published",
                     "run_id", "seconds"])
    for bench in benchmarks:
        for row in bench.rows:
            for rec in sorted((r for r in records if r.benchmark == bench.name and (r.arm, r.overrides) == row.group),
                              key=lambda r: r.seed):
                writer.writerow([bench.name, bench.protocol, row.label, row.arm, " ".join(row.overrides), row.metric,
                                 rec.seed, rec.metrics.get(row.metric, math.nan),
                                 " ".join(str(v) for v in row.published), rec.run_id, f"{rec.seconds:.1f}"])
    return buf.getvalue()


def figure(benchmarks: Sequence[Benchmark], results: Dict[str, List[Outcome]]):
    """One panel per row: our value per seed (dots), its mean and interval (bar), the published
    values (red crosses)."""
    import matplotlib.pyplot as plt

    panels = [(b, o) for b in benchmarks for o in results[b.name]]
    cols = min(4, max(1, len(panels)))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.8 * rows), squeeze=False)
    for ax, (bench, o) in zip(axes.flat, panels):
        finite = [v for v in o.values if math.isfinite(v)]
        ax.scatter([0] * len(finite), finite, s=18, color="tab:blue", label="ours (seeds)", zorder=3)
        if o.summary is not None and o.summary.n > 1:
            ax.errorbar([0.15], [o.summary.mean], yerr=[[o.summary.mean - o.summary.low],
                                                       [o.summary.high - o.summary.mean]],
                        fmt="o", color="tab:blue", capsize=3)
        ax.scatter([0.5] * len(o.row.published), o.row.published, marker="x", color="tab:red", s=30,
                   label="published", zorder=3)
        ax.set_xlim(-0.4, 0.9)
        ax.set_xticks([])
        ax.set_title(f"{bench.name}\n{o.row.label}", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if panels:
        axes.flat[0].legend(fontsize=6, loc="best")
    fig.tight_layout()
    return fig


def reproduce(names: Optional[Sequence[str]] = None, seeds: int = 3, registry: Sequence[Path] = (),
              overrides: Sequence[str] = (), output: Optional[Path] = None, reuse: bool = True,
              arms: Optional[Sequence[str]] = None, only_seeds: Optional[Sequence[int]] = None,
              train: bool = True) -> str:
    """Run the chosen benchmarks (module docstring); return (and write) the Markdown table.
    ``arms`` keeps only the rows of those arms (a cheap baseline with more seeds than the hybrid);
    ``only_seeds`` runs only those of the ``seeds`` seeds (several processes share the seeds of one
    reproduction; a last call without it reuses their runs and writes the whole table); ``train``
    false tabulates the finished runs only, training nothing."""
    if seeds < 1:
        raise ConfigError(f"--seeds: must be >= 1, got {seeds}")
    if not registry:
        raise ConfigError("--registry: no published-results file given (experiments/published/*.yaml)")
    chosen = select(load_registry(registry), names)
    if arms:
        chosen = [replace(b, rows=tuple(r for r in b.rows if r.arm in arms)) for b in chosen]
        chosen = [b for b in chosen if b.rows]
        if not chosen:
            raise ConfigError(f"--arms: no row of the chosen benchmarks runs {list(arms)}")
    plans = []  # every config first: a mistake is reported before any compute
    for bench in chosen:
        for arm, row_overrides in bench.groups():
            for seed in range(seeds):
                if only_seeds and seed not in only_seeds:
                    continue
                plans.append((bench, arm, row_overrides, seed, run_config(bench, arm, row_overrides, overrides, seed)))
    if not plans:
        raise ConfigError(f"--only-seeds: none of {list(only_seeds or [])} is among the {seeds} seeds")
    first = plans[0][4]
    tracking.ensure_backend(first.tracking)
    target = output or mlruns_dir() / "reproductions" / f"{'_'.join(b.name for b in chosen)[:80]}_seeds{seeds}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    records: List[RunRecord] = []
    with tracking.tracked_run(first.tracking, "reproductions", run_name=f"reproduce-{len(chosen)}-benchmarks",
                              tags={"hyco.reproduce_parent": "1"},
                              params={"benchmarks": ",".join(b.name for b in chosen), "seeds": str(seeds),
                                      "overrides": " ".join(overrides)}) as parent:
        for i, (bench, arm, row_overrides, seed, cfg) in enumerate(plans, start=1):
            log.info("reproduction %d/%d: %s, arm %s%s, seed %d", i, len(plans), bench.name, arm,
                     f" ({' '.join(row_overrides)})" if row_overrides else "", seed)
            records.append(run_one(bench, arm, row_overrides, cfg, seed, parent.run_id, reuse, train))
        results = {b.name: outcomes(b, records) for b in chosen}
        table = markdown(chosen, results, records, len({r.seed for r in records}), overrides)
        text = csv_text(records, chosen)
        parent.log_metrics({f"compare/{b.name}/{_slug(o.row.label)}": o.summary.mean for b in chosen
                            for o in results[b.name] if o.summary is not None and o.summary.n}, step=0)
        parent.log_text(table, "reproduction.md")
        parent.log_text(text, "reproduction.csv")
        fig = figure(chosen, results)
        parent.log_figure(fig, "reproduction.png")
        fig.savefig(target.with_suffix(".png"), dpi=120)
    target.write_text(table)
    target.with_suffix(".csv").write_text(text)
    log.info("reproduction written to %s (.csv, .png beside it)", target)
    return table


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_").lower()
