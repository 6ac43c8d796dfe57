"""Evidence: every registered arm (baselines, HYCO variants) on one problem, equal budgets, N seeds.

Each arm trains with the same ``trainer.epochs`` (epochs for the baselines, rounds for HYCO:
every player gets at most that many synthetic epochs / physical fits of
``physical_iterations_per_epoch`` iterations), then is evaluated on the held-out test
simulations. The arms are child runs of one parent MLflow run (tags ``hyco.arm``,
``hyco.seed``), which receives the table as a Markdown artifact and the per-arm numbers as
metrics.

Seeds (``seeds > 1``): seed ``s`` changes the data's initial conditions, the observation noise
and the training seed together, the same way for every arm (:func:`seed_overrides`), so seed
``s`` of any arm sees the same data and arms can be compared seed by seed. Each metric is then
reported as mean ± std with a 95 % Student-t interval (:mod:`hyco.evaluation.stats`), with paired results
against the baselines, as Markdown and CSV, and with a figure of each arm's forecast error along
the rollout horizon with its band.

A reconstruction problem (scattered observations, a static problem included) has no held-out
forecast: its columns are each player's reconstruction error (``eval/recon/<player>/rel_l2_min``,
the minimum over the last ``evaluation.min_window`` epochs, and ``..._final``) and the learned
parameters' errors, with ``theta`` (all family scalars together, ``||theta - theta*|| /
||theta*||``) beside them; every evaluated metric of a run is kept in :attr:`ArmResult.metrics`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from omegaconf import DictConfig

from hyco import metrics as M
from hyco import tracking
from hyco.arms import available_arms, get_arm
from hyco.compose import check_shared_overrides, compose_config, overrides_for_arm
from hyco.core.paths import mlruns_dir
from hyco.data.observation import POINT_KINDS
from hyco.errors import ConfigError, ProblemRefused
from hyco.evaluation import evaluate_run
from hyco.evaluation.scores import (
    learnable_params,  # the parameters reported: a fixed one has no error
)
from hyco.evaluation.stats import t_interval
from hyco.runs.seeds import SEED_STRIDE, seed_overrides
from hyco.runs.threads import configure_threads
from hyco.runs.train import train_run

log = logging.getLogger(__name__)



def all_arms() -> tuple:
    """Every registered arm, in listing order (the default of :func:`compare`)."""
    return tuple(available_arms())


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
    seed: int = 0
    per_step: Dict[str, Any] = field(default_factory=dict)  # player -> test error per rollout step
    synthetic_log_mse: float = math.nan  # ln of the test MSE over the horizon (APHYNITY's metric)
    physical_log_mse: float = math.nan
    own: Dict[str, float] = field(default_factory=dict)  # the arm's own metrics (ArmSpec.metrics), last value
    reconstruction: bool = False  # the columns are reconstruction errors (min over a window, final)
    metrics: Dict[str, float] = field(default_factory=dict)  # every metric of the run, evaluation's last


#: the run's metric behind each column of a reconstruction problem's row
RECONSTRUCTION_COLUMNS = {"synthetic_mean": M.eval_recon("synthetic", "min"),
                          "synthetic_final": M.eval_recon("synthetic", "final"),
                          "physical_mean": M.eval_recon("physical", "min"),
                          "physical_final": M.eval_recon("physical", "final")}
#: the column of all family scalars' error together (reconstruction problems with family parameters)
THETA = "theta"


def column_labels(reconstruction: bool) -> Dict[str, str]:
    """The header of each column: forecast errors, or a reconstruction's minimum and final error."""
    if reconstruction:
        return {"synthetic_mean": "synthetic min", "synthetic_final": "synthetic final",
                "physical_mean": "physical min", "physical_final": "physical final"}
    return {c: c.replace("_", " ") for c in ("synthetic_mean", "synthetic_final", "physical_mean", "physical_final")}


def compose_arm(experiment: str, arm: str, overrides: Sequence[str]) -> DictConfig:
    """The checked config of ``arm`` on ``experiment``; of ``overrides``, the arm gets the shared
    knobs and its own node's (one command line serves every arm of a comparison)."""
    return compose_config([f"experiment={experiment}", f"trainer={arm}", *overrides_for_arm(overrides, arm)])


def run_arm(cfg: DictConfig, arm: str, parent_run_id: Optional[str], seed: int = 0) -> ArmResult:
    configure_threads(cfg)
    start = time.perf_counter()
    # named by the training seed the run used (a one-seed comparison given ``seed=2`` is seed 2's run), tagged
    # by its index among the comparison's seeds
    outcome = train_run(cfg, parent_run_id=parent_run_id, extra_tags={"hyco.arm": arm, "hyco.seed": str(seed)},
                        run_name=f"{arm}-seed{int(cfg.seed)}")
    seconds = time.perf_counter() - start
    cfg.evaluation.run_id = outcome.run_id
    result = evaluate_run(cfg)
    m = result.metrics
    if any(k.startswith(f"eval/{M.RECON}/") for k in m):  # a reconstruction problem: no held-out forecast
        every = {**tracking.get_run(outcome.run_id, cfg.tracking).metrics, **m}
        params = {n: m.get(M.eval_recon_param(M.param_rel_error(n)), math.nan) for n in learnable_params(cfg)}
        if M.eval_recon_param(M.PARAM_THETA_ERROR) in m:
            params[THETA] = m[M.eval_recon_param(M.PARAM_THETA_ERROR)]
        columns = {c: m.get(k, math.nan) for c, k in RECONSTRUCTION_COLUMNS.items()}
        return ArmResult(arm, outcome.run_id, **columns, param_errors=params, seconds=seconds, seed=seed,
                         reconstruction=True, metrics=every)
    logged = tracking.get_run(outcome.run_id, cfg.tracking).metrics  # the last value of each
    return ArmResult(
        arm, outcome.run_id,
        m.get(M.rel_l2_mean("test", "synthetic"), math.nan), m.get(M.rel_l2_final("test", "synthetic"), math.nan),
        m.get(M.rel_l2_mean("test", "physical"), math.nan), m.get(M.rel_l2_final("test", "physical"), math.nan),
        {str(n): m.get(M.eval_param_rel_error("test", str(n)), math.nan) for n in learnable_params(cfg)}, seconds,
        seed, dict(result.per_step), metrics=dict(m),
        synthetic_log_mse=m.get(M.log_mse("test", "synthetic"), math.nan),
        physical_log_mse=m.get(M.log_mse("test", "physical"), math.nan),
        own={k: float(logged[k]) for k in get_arm(arm).metrics if k in logged},
    )


def _fmt(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.4f}"


def markdown_table(title: str, rows: List[ArmResult], persistence: float,
                   params: Optional[Sequence[str]] = None) -> str:
    """The comparison table: one ``<name> rel. error`` column per physical parameter (``params``,
    default: every parameter any row has, in order seen), read by name."""
    if params is None:
        params = list(dict.fromkeys(n for r in rows for n in r.param_errors))
    recon = any(r.reconstruction for r in rows)
    labels = column_labels(recon)
    head = ["arm", *labels.values(), *([] if recon else ["synthetic log MSE", "physical log MSE"]),
            *(f"{n} rel. error" for n in params), "wall time [s]"]
    what = ("reconstruction relative L2: minimum over the last epochs of evaluation.min_window, and final" if recon
            else f"held-out rollout relative L2; persistence forecast: mean {persistence:.4f}")
    lines = [
        f"**{title}** ({what})",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        cells = [r.arm, _fmt(r.synthetic_mean), _fmt(r.synthetic_final), _fmt(r.physical_mean),
                 _fmt(r.physical_final), *([] if recon else [_fmt(r.synthetic_log_mse), _fmt(r.physical_log_mse)]),
                 *(_fmt(r.param_errors.get(n, math.nan)) for n in params),
                 f"{r.seconds:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@dataclass
class Comparison:
    """A finished comparison: its Markdown table, every arm's row per seed and the parent run."""

    table: str
    rows: List[ArmResult]
    parent_run_id: str


def compare(experiment: str, arms: Optional[Sequence[str]] = None, overrides: Sequence[str] = (),
            output: Optional[Path] = None, seeds: int = 1) -> str:
    """Run ``arms`` (default: every registered arm that accepts the problem) on ``experiment`` for
    ``seeds`` seeds; return (and write) the Markdown table (with ``seeds > 1``: the seed
    statistics, beside a CSV and the horizon figure)."""
    return compare_runs(experiment, arms, overrides, output, seeds).table


def compare_runs(experiment: str, arms: Optional[Sequence[str]] = None, overrides: Sequence[str] = (),
                 output: Optional[Path] = None, seeds: int = 1) -> Comparison:
    """:func:`compare`, returning the rows too (every arm's metrics per seed) for a caller that
    draws its own figure from them (``experiments/static_noise.py``)."""
    if seeds < 1:
        raise ConfigError(f"--seeds: must be >= 1, got {seeds}")
    explicit = arms is not None
    arms = list(arms) if explicit else list(all_arms())
    unknown = [a for a in arms if a not in available_arms()]
    if unknown:
        raise ConfigError(f"--arms: unknown arm(s) {unknown}; registered: {available_arms()}")
    check_shared_overrides(overrides, arms)
    arms = runnable_arms(experiment, arms, overrides, explicit=explicit)
    base = compose_arm(experiment, arms[0], overrides)
    # a reconstruction problem (scattered points) is scored on its reconstruction: nothing is held out
    scattered = str(getattr(base.observation.spatial, "value", base.observation.spatial)) in POINT_KINDS
    if int(base.data.num_test) < 1 and not scattered:
        raise ConfigError("data.num_test: a comparison scores every arm on the test simulations; set it >= 1")
    seed_sets = {s: seed_overrides(base, s) for s in range(seeds)}
    tracking.probe_tracking(base.tracking)  # an unreachable or read-only store: one line, before any run
    tracking.ensure_backend(base.tracking)
    rows: List[ArmResult] = []
    persistence: List[float] = []
    target = output or mlruns_dir() / "comparisons" / f"{experiment}{'' if seeds == 1 else f'_seeds{seeds}'}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tracking.tracked_run(base.tracking, base.tracking.experiment_name or base.experiment_name,
                              run_name=f"compare-{experiment}", tags={"hyco.compare": experiment},
                              params={"arms": ",".join(arms), "overrides": " ".join(overrides),
                                      "seeds": str(seeds), "seed_stride": str(SEED_STRIDE)}) as parent:
        for seed, extra in seed_sets.items():
            for arm in arms:
                log.info("comparison %s: arm %s, seed %d", experiment, arm, seed)
                cfg = compose_arm(experiment, arm, [*overrides, *extra])
                row = run_arm(cfg, arm, parent.run_id, seed)
                rows.append(row)
                if arm == arms[0]:
                    persistence.append(tracking.get_run(row.run_id, cfg.tracking).metrics.get(
                        M.rel_l2_mean("test", M.PERSISTENCE), math.nan))
        params = learnable_params(base)
        if any(THETA in r.param_errors for r in rows):
            params = [*params, THETA]
        for arm in arms:
            mine = [r for r in rows if r.arm == arm]
            parent.log_metrics(nan_safe({
                M.compare_rel_l2_mean(arm, "synthetic"): _mean([r.synthetic_mean for r in mine]),
                M.compare_rel_l2_mean(arm, "physical"): _mean([r.physical_mean for r in mine]),
                M.compare_log_mse(arm, "synthetic"): _mean([r.synthetic_log_mse for r in mine]),
                M.compare_log_mse(arm, "physical"): _mean([r.physical_log_mse for r in mine]),
                **{M.compare_param_rel_error(arm, n): _mean([r.param_errors.get(n, math.nan) for r in mine])
                   for n in params},
                M.compare_wall_time(arm): _mean([r.seconds for r in mine])}), step=0)
        if seeds == 1:
            table = markdown_table(experiment, rows, persistence[0], params)
        else:
            from hyco.compare.reports import (  # matplotlib
                horizon_figure,
                seed_csv,
                seed_tables,
            )

            table = seed_tables(experiment, rows, arms, params, t_interval(persistence))
            target.with_suffix(".csv").write_text(seed_csv(rows, arms, params))
            parent.log_text(target.with_suffix(".csv").read_text(), f"comparison_{experiment}.csv")
            if any(r.per_step for r in rows):  # a reconstruction problem has no rollout horizon
                figure = horizon_figure(experiment, rows, arms)
                figure.savefig(target.with_suffix(".png"), dpi=120)
                parent.log_figure(figure, f"comparison_{experiment}_horizon.png")
        parent.log_text(table, f"comparison_{experiment}.md")
    target.write_text(table)
    log.info("comparison table written to %s", target)
    return Comparison(table, rows, parent.run_id)


def runnable_arms(experiment: str, arms: Sequence[str], overrides: Sequence[str], explicit: bool) -> List[str]:
    """Every arm's config is checked before any compute. An arm that refuses the problem (the
    PINN on a model without a continuous residual) is an error when the caller named it, and is
    left out, with a warning saying why, from the default list of every registered arm."""
    kept = []
    for arm in arms:
        try:
            compose_arm(experiment, arm, overrides)
        except ProblemRefused as err:
            if explicit:
                raise
            log.warning("comparison %s: arm %s left out: %s", experiment, arm, err)
            continue
        kept.append(arm)
    if not kept:
        raise ConfigError(f"no arm can run on experiment '{experiment}'")
    return kept


def _mean(values: Sequence[float]) -> float:
    return t_interval(values).mean


def nan_safe(metrics: Dict[str, float]) -> Dict[str, float]:
    return {k: v for k, v in metrics.items() if not math.isnan(v)}
