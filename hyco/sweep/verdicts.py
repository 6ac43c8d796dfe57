"""The end of a sweep on the terminal: one row per arm that fits 100 columns, and one verdict per
question the sweep answers.

The full table (every objective, the test errors, the intervals, the parameters and run ids)
is the parent run's ``sweep/summary.md``; the terminal gets what a person reads first:

* per arm: the player that was scored (its network, or its physical model when it has none),
  the best trial's value (a minimum over noisy trials: optimistic), the same objective of that
  configuration retrained on fresh seeds (each seed's value below three seeds, mean ± std
  [95 % t interval] from three on, the interval floored at 0: errors are never negative), the
  parameter error, and the registered network (``models:/<study>-<arm>@best``) when it has one;
* a verdict per question, from the arms each baseline stands for (:attr:`ArmSpec.baseline_for`):
  does any arm's network forecast better than the network alone, does any arm's physics forecast
  better than the physics alone, does any arm recover the parameters better than the physics
  alone. The best other arm is compared with the baseline seed by seed on the fresh seeds
  (the same data for both), or, without re-evaluations, on the best trials (said so).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

from hyco.arms import get_arm
from hyco.evaluation.stats import t_interval

WIDTH = 100
INTERVAL_FROM = 3  # seeds from which an interval says more than the values themselves
SCORED = {"synthetic": "network", "physical": "physics"}  # the player an objective scored, in words


def _num(value: Optional[float]) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.4g}"


def seed_cell(values: Sequence[float]) -> str:
    """Fresh-seed values as the terminal shows them (module docstring)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return "—"
    if len(values) < INTERVAL_FROM:
        return ", ".join(_num(v) for v in values)
    return t_interval(finite).format(digits=3, floor=0.0)


def fit(line: str, width: int = WIDTH) -> List[str]:
    """``line`` wrapped to ``width`` columns, continuation lines indented."""
    if len(line) <= width:
        return [line]
    return textwrap.wrap(line, width=width, subsequent_indent="    ", break_on_hyphens=False)


@dataclass(frozen=True)
class Question:
    """One question a sweep answers: the best of ``rivals`` against ``baseline`` on ``quantity``."""

    label: str
    baseline: str
    rivals: List[str]
    quantity: str


def questions(arms: Sequence[str], objective_names: Sequence[str]) -> List[Question]:
    """The questions the arms of a sweep can answer (module docstring)."""
    out = []
    forecast = "forecast_error" in objective_names
    for base in arms:
        roles = get_arm(base).baseline_for
        if "synthetic" in roles and forecast:
            rivals = [a for a in arms if a != base and get_arm(a).forecast == "synthetic"]
            out.append(Question("network forecast", base, rivals, "forecast_error"))
        if "physical" in roles:
            if forecast:
                rivals = [a for a in arms if a != base and get_arm(a).forecast == "physical"]
                out.append(Question("physics forecast", base, rivals, "forecast_error"))
            rivals = [a for a in arms if a != base and get_arm(a).learns_params]
            out.append(Question("parameter error", base, rivals, "param_error"))
    return [q for q in out if q.rivals]


def _values(summary: Any, arm: str, quantity: str) -> List[float]:
    """Per-seed values of ``quantity`` for ``arm`` (fresh seeds), else its best trial's value."""
    record = summary.reeval.get(arm)
    if record and record.get(quantity):
        return [float(v) for v in record[quantity]]
    row = next((r for r in summary.rows if r["arm"] == arm), None)
    if row is None:
        return []
    value = row.get(quantity, row.get(f"test_{quantity}", math.nan))
    return [float(value)] if value is not None and math.isfinite(float(value)) else []


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def verdict(summary: Any, question: Question) -> Optional[str]:
    """One line: the best rival against the baseline (None when either has no value)."""
    base = _values(summary, question.baseline, question.quantity)
    scored = {a: _values(summary, a, question.quantity) for a in question.rivals}
    scored = {a: v for a, v in scored.items() if math.isfinite(_mean(v))}
    if not scored or not math.isfinite(_mean(base)):
        return None
    best = min(scored, key=lambda a: _mean(scored[a]))
    rival = scored[best]
    head = (f"{question.label}: {best} {_num(_mean(rival))} vs {question.baseline} {_num(_mean(base))}")
    if summary.reeval and len(rival) == len(base) and len(base) > 0:
        diffs = [a - b for a, b in zip(rival, base) if math.isfinite(a) and math.isfinite(b)]
        wins, losses, n = sum(d < 0 for d in diffs), sum(d > 0 for d in diffs), len(diffs)
        if n == 0:
            outcome = "no seed to compare"
        elif wins == n:
            outcome = f"better on all {n} fresh seeds"
        elif losses == n:
            outcome = f"worse on all {n} fresh seeds"
        elif wins == losses == 0:
            outcome = f"equal on all {n} fresh seeds"
        else:
            outcome = f"better on {wins} of {n} seeds only"
        return f"{head}: {outcome}"
    better = _mean(rival) < _mean(base)
    return f"{head}: {'better' if better else 'not better'} (best trials only, optimistic)"


def console_summary(summary: Any, objective: str) -> str:
    """The summary a terminal shows (module docstring), every line at most :data:`WIDTH` wide."""
    names = summary.objective_names
    counts = ", ".join(f"{v} {k.lower()}" for k, v in summary.counts.items() if v)
    lines = [f"Study {summary.study_name}: {counts}; {names[0]} on the validation simulations"]
    seeds = max((len(r.get("seeds", [])) for r in summary.reeval.values()), default=0)
    fresh = f"{seeds} fresh seeds" if seeds else "fresh seeds (off)"
    param = "param error" + (" (fresh)" if seeds else " (best)")
    lines.append(f"{'arm':<15} {'scored':<8} {'best':>10} {'trial':>5}  {fresh:<26} {param}")
    for row in summary.rows:
        arm = row["arm"]
        record = summary.reeval.get(arm, {})
        scored = "params" if objective == "param_error" else SCORED[get_arm(arm).forecast]
        cell = seed_cell(record.get(names[0], [])) if seeds else ""
        params = _values(summary, arm, "param_error")
        param_cell = _num(_mean(params)) if get_arm(arm).learns_params else "—"
        lines += fit(f"{arm:<15} {scored:<8} {_num(row[names[0]]):>10} {row['trial']:>5}  {cell:<26} {param_cell}")
        if record.get("model"):
            lines.append(f"{'':<15} network: {record['model']}")
    found = [v for v in (verdict(summary, q) for q in questions([r["arm"] for r in summary.rows], names)) if v]
    if found:
        lines.append("Verdicts (lower is better; every column: sweep/summary.md of the parent run):")
        for line in found:
            lines += fit("  " + line)
    return "\n".join(lines) + "\n"
