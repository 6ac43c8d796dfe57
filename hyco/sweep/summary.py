"""The end of a sweep: the best trial per arm (the full table of the parent run's
``sweep/summary.md``; the terminal's version is :mod:`hyco.sweep.verdicts`), figures, and how to
browse the study."""

from __future__ import annotations

import csv
import io
import logging
import math
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import matplotlib.pyplot as plt
import optuna
from optuna.trial import FrozenTrial, TrialState

from hyco import metrics as M
from hyco.evaluation.stats import t_interval
from hyco.sweep.labels import dashboard_url, runs_table_url
from hyco.sweep.verdicts import console_summary, questions, verdict

log = logging.getLogger(__name__)


@dataclass
class SweepSummary:
    """Best trial per arm (finite, COMPLETE only), state counts and the Pareto front if any."""

    study_name: str
    objective_names: List[str]
    rows: List[Dict[str, Any]]
    counts: Dict[str, int]
    pareto: List[int] = field(default_factory=list)
    # arm -> per-seed values of the best configuration retrained on fresh seeds (hyco.sweep.reeval)
    reeval: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    @property
    def best_trials(self) -> Dict[str, int]:
        """Arm -> number of its best trial."""
        return {r["arm"]: r["trial"] for r in self.rows}

    def _reeval_columns(self) -> List[str]:
        if not self.reeval:
            return []
        k = max(len(r.get("seeds", [])) for r in self.reeval.values())
        return [f"{n}, {k} fresh seeds" for n in self.objective_names] + [f"test forecast error, {k} fresh seeds"]

    def _reeval_cells(self, arm: str) -> List[str]:
        if not self.reeval:
            return []
        record = self.reeval.get(arm, {})
        return [t_interval(record.get(n, [])).format(floor=0.0)
                for n in [*self.objective_names, "test_forecast_error"]]

    def console(self, objective: str) -> str:
        """The terminal's summary: 100 columns, a row per arm, one verdict per question."""
        return console_summary(self, objective)

    def verdicts(self) -> List[str]:
        """One line per question the sweep answers (:mod:`hyco.sweep.verdicts`)."""
        found = (verdict(self, q) for q in questions([r["arm"] for r in self.rows], self.objective_names))
        return [v for v in found if v]

    def markdown(self) -> str:
        head = ["arm", "trial", *self.objective_names, *self._reeval_columns(), "test forecast error",
                "test param error", "params", "mlflow run", *(["registered network"] if self.reeval else [])]
        lines = [f"**Study `{self.study_name}`** — " + ", ".join(f"{k}: {v}" for k, v in self.counts.items()), "",
                 "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            run = f"{r.get('mlflow_run_name') or ''} ({r['mlflow_run_id']})" if r["mlflow_run_id"] else ""
            cells = [r["arm"], str(r["trial"]), *[_fmt(r[n]) for n in self.objective_names],
                     *self._reeval_cells(r["arm"]), _fmt(r["test_forecast_error"]), _fmt(r["test_param_error"]),
                     r["params"], run, *([self.reeval.get(r["arm"], {}).get("model") or "—"] if self.reeval else [])]
            lines.append("| " + " | ".join(cells) + " |")
        if self.reeval:
            lines.append("\nThe best value of an arm is a minimum over noisy trials (optimistic); the fresh-seed "
                         "columns retrain that configuration on new data and seeds: mean ± std [95 % t interval, "
                         "floored at 0].")
        verdicts = self.verdicts()
        if verdicts:
            lines.append("\n**Verdicts** (lower is better):\n")
            lines += [f"* {v}" for v in verdicts]
        if self.pareto:
            lines.append(f"\nPareto front (trials): {self.pareto}")
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        buf = io.StringIO()
        rows = [{**r, **self._reeval_fields(r["arm"])} for r in self.rows]
        if rows:
            writer = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
            writer.writeheader()
            writer.writerows(rows)
        return buf.getvalue()

    def _reeval_fields(self, arm: str) -> Dict[str, Any]:
        record = self.reeval.get(arm)
        if not record:
            return {}
        out: Dict[str, Any] = {}
        for n in [*self.objective_names, "test_forecast_error"]:
            summary = t_interval(record.get(n, []))
            out.update({f"reeval_{n}_mean": summary.mean, f"reeval_{n}_std": summary.std,
                        f"reeval_{n}_ci95_low": summary.low, f"reeval_{n}_ci95_high": summary.high,
                        f"reeval_{n}_n": summary.n})
        out["registered_network"] = record.get("model", "")
        return out


def _fmt(value: Any) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def _finite(trial: FrozenTrial) -> bool:
    return (trial.state == TrialState.COMPLETE and trial.values is not None
            and all(math.isfinite(v) for v in trial.values))


def summarize(study: optuna.Study, objective_names: List[str]) -> SweepSummary:
    trials = study.get_trials(deepcopy=False)
    counts = {state.name: sum(t.state == state for t in trials) for state in
              (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING, TrialState.WAITING)}
    best: Dict[str, FrozenTrial] = {}
    for trial in filter(_finite, trials):
        arm = trial.params.get("arm", "?")
        if arm not in best or trial.values[0] < best[arm].values[0]:
            best[arm] = trial
    rows = []
    for arm, trial in sorted(best.items(), key=lambda kv: kv[1].values[0]):
        row: Dict[str, Any] = {"arm": arm, "trial": trial.number}
        row.update({name: value for name, value in zip(objective_names, trial.values)})
        row["test_forecast_error"] = trial.user_attrs.get(M.TRIAL_TEST_FORECAST_ERROR, math.nan)
        row["test_param_error"] = trial.user_attrs.get(M.TRIAL_TEST_PARAM_ERROR, math.nan)
        row["params"] = ", ".join(f"{k}={_short(v)}" for k, v in sorted(trial.params.items()) if k != "arm")
        row["mlflow_run_id"] = trial.user_attrs.get("mlflow_run_id", "")
        row["mlflow_run_name"] = trial.user_attrs.get("mlflow_run_name", "")
        rows.append(row)
    pareto = [t.number for t in study.best_trials] if len(objective_names) > 1 and best else []
    return SweepSummary(study.study_name, objective_names, rows, counts, pareto)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def figures(study: optuna.Study, objective_names: List[str]) -> Dict[str, plt.Figure]:
    """Optimisation history and metric by arm (first objective), parameter importances if computable."""
    done = [t for t in study.get_trials(deepcopy=False) if _finite(t)]
    out: Dict[str, plt.Figure] = {}
    if not done:
        return out
    arms = sorted({t.params.get("arm", "?") for t in done})
    colors = {arm: plt.cm.tab10(i % 10) for i, arm in enumerate(arms)}
    fig, ax = plt.subplots(figsize=(7, 4))
    for arm in arms:
        pts = [(t.number, t.values[0]) for t in done if t.params.get("arm") == arm]
        ax.scatter(*zip(*pts), label=arm, color=colors[arm])
    ordered = sorted(done, key=lambda t: t.number)
    best, running = [], math.inf
    for t in ordered:
        running = min(running, t.values[0])
        best.append(running)
    ax.step([t.number for t in ordered], best, where="post", color="k", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(objective_names[0])
    _log_if_positive(ax, [t.values[0] for t in done], "y")
    ax.set_title("optimisation history")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out["optimization_history"] = fig

    fig, ax = plt.subplots(figsize=(7, 4))
    for i, arm in enumerate(arms):
        values = [t.values[0] for t in done if t.params.get("arm") == arm]
        ax.scatter([i] * len(values), values, color=colors[arm])
        ax.hlines(min(values), i - 0.3, i + 0.3, color="k")
    ax.set_xticks(range(len(arms)), arms, rotation=20)
    ax.set_xlabel("arm")
    ax.set_ylabel(objective_names[0])
    _log_if_positive(ax, [t.values[0] for t in done], "y")
    ax.set_title("objective by arm (bar: best)")
    fig.tight_layout()
    out["metric_by_arm"] = fig

    if len(objective_names) == 1 and len(done) >= 3:
        try:
            with warnings.catch_warnings():  # "some regimes have less than 2 trials": a few trials per arm is the point
                warnings.filterwarnings("ignore", message="Some regimes for parameter")
                importances = optuna.importance.get_param_importances(study)
        except Exception as err:  # conditional spaces or too few trials: skip, say why
            log.info("parameter importances not available: %s", err)
        else:
            if importances:
                fig, ax = plt.subplots(figsize=(7, 0.4 * len(importances) + 1.5))
                names = list(importances)[::-1]
                ax.barh(names, [importances[n] for n in names])
                ax.set_xlabel("importance (Optuna's default evaluator)")
                ax.set_ylabel("parameter")
                ax.set_title("parameter importances")
                fig.tight_layout()
                out["param_importances"] = fig
    if len(objective_names) == 2:
        fig, ax = plt.subplots(figsize=(6, 4))
        for arm in arms:
            pts = [t.values for t in done if t.params.get("arm") == arm]
            ax.scatter(*zip(*pts), label=arm, color=colors[arm])
        front = sorted((t.values for t in study.best_trials), key=lambda v: v[0])
        if front:
            ax.plot(*zip(*front), "k--", label="Pareto front")
        ax.set_xlabel(objective_names[0])
        ax.set_ylabel(objective_names[1])
        _log_if_positive(ax, [t.values[0] for t in done], "x")
        _log_if_positive(ax, [t.values[1] for t in done], "y")
        ax.legend(fontsize=8)
        fig.tight_layout()
        out["pareto_front"] = fig
    return out


def _log_if_positive(ax, values: List[float], axis: str) -> None:
    """Log scale when every value is positive (a log axis would silently drop zeros)."""
    if values and min(values) > 0:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")


def arm_figures(study: optuna.Study, objective_names: List[str]) -> Dict[str, plt.Figure]:
    """Per arm: its trials' first objective in trial order with the arm's best so far
    (``arms/<arm>_history``), the figure a study of that arm alone would draw."""
    out: Dict[str, plt.Figure] = {}
    done = [t for t in study.get_trials(deepcopy=False) if _finite(t)]
    for arm in sorted({t.params.get("arm", "?") for t in done}):
        mine = sorted((t for t in done if t.params.get("arm") == arm), key=lambda t: t.number)
        values = [t.values[0] for t in mine]
        best = [min(values[: i + 1]) for i in range(len(values))]
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot([t.number for t in mine], values, "o", label="trial")
        ax.step([t.number for t in mine], best, where="post", color="k", label="best so far")
        ax.set_xlabel("trial (number in the sweep)")
        ax.set_ylabel(objective_names[0])
        _log_if_positive(ax, values, "y")
        ax.set_title(f"{arm}: {objective_names[0]} per trial")
        ax.legend(fontsize=8)
        fig.tight_layout()
        out[f"arms/{arm}_history"] = fig
    return out


def venv_command(name: str) -> str:
    """The command ``name`` of the environment this Python runs in, by path (a fresh shell has no
    activated environment), else the bare name."""
    path = Path(sys.executable).parent / name
    return str(path) if path.is_file() else (shutil.which(name) or name)


def browse_commands(tracking_uri: str, storage: str, experiment_id: Optional[str] = None,
                    study_id: Optional[int] = None, view: str = "") -> str:
    """The commands that serve the study's browsers, as they run from a fresh shell (``make ui``
    starts both; a tracking server serves its own UI), then the pages to open in them: the runs of
    this sweep grouped by arm (``view``: the saved runs-table view's query parameter) and the
    studies (the sweep's and one per arm)."""
    server = tracking_uri.startswith(("http:", "https:"))
    lines = ["  make ui   # both browsers, or each one:"]
    lines.append(f"  MLflow UI of the tracking server: {tracking_uri}" if server else
                 f"  {venv_command('mlflow')} ui --backend-store-uri {tracking_uri} --host 127.0.0.1 --port 5000 "
                 "--workers 1")
    lines.append(f"  {venv_command('optuna-dashboard')} {storage} --host 127.0.0.1 --port 8080")
    if experiment_id is not None:
        table = runs_table_url(str(experiment_id), tracking_uri) if server else runs_table_url(str(experiment_id))
        lines.append(f"  runs of this sweep, by arm: {table}{'&' + view if view else ''}")
    if study_id is not None:
        lines.append(f"  studies (the sweep's, one per arm): {dashboard_url()}")
    return "\n".join(lines) + "\n"
