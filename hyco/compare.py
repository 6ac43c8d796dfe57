"""Evidence: every registered arm (baselines, HYCO variants) on one seeded problem, equal budgets.

Each arm trains with the same ``trainer.epochs`` (epochs for the baselines, rounds for HYCO:
every player gets at most that many synthetic epochs / physical fits of
``physical_iterations_per_epoch`` iterations), then is evaluated on the held-out test
simulations. The arms are child runs of one parent MLflow run, which receives the table as a
Markdown artifact and the per-arm numbers as metrics.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from hyco import metrics as M
from hyco import tracking
from hyco.app import configure_threads
from hyco.config import validate
from hyco.evaluation import evaluate_run
from hyco.paths import conf_dir, mlruns_dir
from hyco.training.runs import train_run
from hyco.training.variants import available_variants

log = logging.getLogger(__name__)

ARMS = tuple(available_variants())  # every registered variant, in listing order


@dataclass
class ArmResult:
    """One row of the comparison."""

    arm: str
    run_id: str
    synthetic_mean: float = math.nan
    synthetic_final: float = math.nan
    physical_mean: float = math.nan
    physical_final: float = math.nan
    param_errors: Dict[str, float] = field(default_factory=dict)  # parameter name -> test rel. error
    seconds: float = math.nan


def compose_arm(experiment: str, arm: str, overrides: Sequence[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="config",
                      overrides=[f"experiment={experiment}", f"trainer={arm}", *overrides])
    validate(cfg)
    return cfg


def run_arm(cfg: DictConfig, arm: str, parent_run_id: Optional[str]) -> ArmResult:
    configure_threads(cfg)
    start = time.perf_counter()
    outcome = train_run(cfg, parent_run_id=parent_run_id, extra_tags={"hyco.arm": arm})
    seconds = time.perf_counter() - start
    cfg.evaluation.run_id = outcome.run_id
    m = evaluate_run(cfg).metrics
    return ArmResult(
        arm, outcome.run_id,
        m.get(M.rel_l2_mean("test", "synthetic"), math.nan), m.get(M.rel_l2_final("test", "synthetic"), math.nan),
        m.get(M.rel_l2_mean("test", "physical"), math.nan), m.get(M.rel_l2_final("test", "physical"), math.nan),
        {str(n): m.get(M.eval_param_rel_error("test", str(n)), math.nan) for n in learnable_params(cfg)}, seconds,
    )


def _fmt(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.4f}"


def markdown_table(title: str, rows: List[ArmResult], persistence: float,
                   params: Optional[Sequence[str]] = None) -> str:
    """The comparison table: one ``<name> rel. error`` column per physical parameter (``params``,
    default: every parameter any row has, in order seen), read by name."""
    if params is None:
        params = list(dict.fromkeys(n for r in rows for n in r.param_errors))
    head = ["arm", "synthetic mean", "synthetic final", "physical mean", "physical final",
            *(f"{n} rel. error" for n in params), "wall time [s]"]
    lines = [
        f"**{title}** (held-out rollout relative L2; persistence forecast: mean {persistence:.4f})",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        cells = [r.arm, _fmt(r.synthetic_mean), _fmt(r.synthetic_final), _fmt(r.physical_mean),
                 _fmt(r.physical_final), *(_fmt(r.param_errors.get(n, math.nan)) for n in params),
                 f"{r.seconds:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def compare(experiment: str, arms: Sequence[str] = ARMS, overrides: Sequence[str] = (),
            output: Optional[Path] = None) -> str:
    """Run ``arms`` on ``experiment`` and return (and write) the Markdown table."""
    base = compose_arm(experiment, arms[0], overrides)
    tracking.ensure_backend(base.tracking)
    rows: List[ArmResult] = []
    persistence = math.nan
    with tracking.tracked_run(base.tracking, base.tracking.experiment_name or base.experiment_name,
                              run_name=f"compare-{experiment}", tags={"hyco.compare": experiment},
                              params={"arms": ",".join(arms), "overrides": " ".join(overrides)}) as parent:
        for arm in arms:
            log.info("comparison %s: arm %s", experiment, arm)
            cfg = compose_arm(experiment, arm, overrides)
            row = run_arm(cfg, arm, parent.run_id)
            rows.append(row)
            persistence = tracking.get_run(row.run_id, cfg.tracking).metrics.get(
                M.rel_l2_mean("test", M.PERSISTENCE), persistence)
            parent.log_metrics(nan_safe({M.compare_rel_l2_mean(arm, "synthetic"): row.synthetic_mean,
                                         M.compare_rel_l2_mean(arm, "physical"): row.physical_mean,
                                         **{M.compare_param_rel_error(arm, n): v for n, v in row.param_errors.items()},
                                         M.compare_wall_time(arm): row.seconds}), step=0)
        table = markdown_table(experiment, rows, persistence, learnable_params(base))
        parent.log_text(table, f"comparison_{experiment}.md")
    target = output or mlruns_dir() / "comparisons" / f"{experiment}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(table)
    log.info("comparison table written to %s", target)
    return table


def learnable_params(cfg: DictConfig) -> List[str]:
    """The parameters a comparison reports: the learnable ones (a fixed one has no error)."""
    return [str(n) for n, spec in cfg.physics.params.items() if spec.learnable]


def nan_safe(metrics: Dict[str, float]) -> Dict[str, float]:
    return {k: v for k, v in metrics.items() if not math.isnan(v)}
