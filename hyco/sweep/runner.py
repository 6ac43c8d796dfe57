"""``python experiments/sweep.py``: create/resume the study, run the workers, summarise.

The launching process validates the config, creates the MLflow database and the Optuna study
once, fails the trials of dead workers, resumes (or starts) the study's parent MLflow run and
then runs ``sweep.workers`` worker processes against the one study. Each worker initialises
Hydra once and composes one config per trial. Rerunning the same command resumes everything.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import torch
from hydra import initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from hyco import tracking
from hyco.config import default_torch_threads
from hyco.console import setup_logging, study_display
from hyco.paths import conf_dir
from hyco.sweep.objective import run_trial
from hyco import metrics as M
from hyco.sweep.space import OBJECTIVE_NAMES, arms_for, check_space, sweep_arms
from hyco.sweep.study import (
    create_study,
    fail_dead_trials,
    load_study,
    mark_owner,
    parent_run_id,
    remaining_budget,
    retry_callback,
    split_budget,
    storage_url,
)
from hyco.sweep.labels import name_objectives
from hyco.sweep.progress import StudyProgress
from hyco.sweep.summary import SweepSummary, browse_commands, figures, summarize

log = logging.getLogger(__name__)


@dataclass
class SweepOutcome:
    """What a sweep command produced."""

    study_name: str
    parent_run_id: str
    summary: SweepSummary
    trials_run: int


def worker_main(worker: int, n_trials: int, sweep: Dict[str, Any], base_overrides: List[str],
                parent_id: str, threads: int) -> None:
    """One worker process: ``n_trials`` trials of the shared study."""
    torch.set_num_threads(threads)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if not logging.getLogger().handlers:  # a spawned worker: the launcher's level (inherited), through tqdm
        setup_logging()
    cfg = OmegaConf.create(sweep)
    study = load_study(cfg, worker)

    def objective(trial):
        mark_owner(trial)
        return run_trial(trial, cfg, base_overrides, parent_id, cfg.study_name)

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):  # once per process
        study.optimize(objective, n_trials=n_trials)


def _run_workers(shares: Sequence[int], sweep: Dict[str, Any], base_overrides: List[str], parent_id: str,
                 threads: int) -> None:
    active = [(i, n) for i, n in enumerate(shares) if n > 0]
    if len(active) == 1:
        worker_main(active[0][0], active[0][1], sweep, base_overrides, parent_id, threads)
        return
    ctx = mp.get_context("spawn")  # fresh interpreters: no inherited torch/SQLite/MLflow state
    procs = [ctx.Process(target=worker_main, args=(i, n, sweep, base_overrides, parent_id, threads),
                         name=f"hyco-sweep-worker-{i}") for i, n in active]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    bad = [(p.name, p.exitcode) for p in procs if p.exitcode != 0]
    if bad:
        raise RuntimeError(f"sweep workers exited with errors: {bad}; rerun the same command to resume the study")


def _experiment_id(cfg: DictConfig, run_id: str) -> Optional[str]:
    """The MLflow experiment of the sweep's parent run (None with tracking off)."""
    if not cfg.tracking.enabled:
        return None
    return tracking.get_run(run_id, cfg.tracking).experiment_id


def run_sweep(cfg: DictConfig, base_overrides: Sequence[str]) -> SweepOutcome:
    """Run (or resume, or only summarise) the study described by ``cfg.sweep``."""
    sweep = cfg.sweep
    arms = arms_for(sweep.objective, list(sweep.arms))
    if not arms:
        raise ValueError(f"sweep.arms: no arm has what objective '{sweep.objective}' measures")
    check_space(sweep.search_space, arms)
    tracking.ensure_backend(cfg.tracking)  # created/migrated once, before any worker starts
    study = create_study(sweep)
    name_objectives(study, OBJECTIVE_NAMES[sweep.objective])
    fail_dead_trials(study, retry_callback(sweep))
    remaining = 0 if sweep.summary_only else remaining_budget(study, int(sweep.n_trials))
    experiment = cfg.tracking.experiment_name or cfg.experiment_name
    sweep_plain = OmegaConf.to_container(sweep, resolve=True)
    sweep_plain["arms"] = sweep_arms(sweep.arms)  # resolved: the parent run records the arms it ran
    names = OBJECTIVE_NAMES[sweep.objective]
    with tracking.tracked_run(cfg.tracking, experiment, run_name=f"sweep-{sweep.study_name}",
                              tags={"hyco.study": sweep.study_name, "hyco.role": "sweep-parent"},
                              params={"sweep": sweep_plain, "trial_overrides_cli": " ".join(base_overrides)},
                              resume_run_id=parent_run_id(study)) as parent:
        study.set_user_attr("mlflow_parent_run_id", parent.run_id)
        if remaining:
            workers = min(int(sweep.workers), remaining)
            threads = int(cfg.torch_threads) or default_torch_threads(workers)
            log.info("study %s: %d trial(s) to run on %d worker(s), %d thread(s) each", sweep.study_name,
                     remaining, workers, threads)
            with study_display(), StudyProgress(storage_url(sweep), sweep.study_name, int(sweep.n_trials), names):
                _run_workers(split_budget(remaining, workers), sweep_plain, list(base_overrides), parent.run_id,
                             threads)
        else:
            log.info("study %s: budget of %d trials already used; summarising", sweep.study_name, sweep.n_trials)
        study = load_study(sweep, 0)
        summary = summarize(study, names)
        if int(sweep.reeval_seeds) > 0 and summary.rows:
            from hyco.sweep.reeval import reevaluate, stored_reeval  # deferred: imports the comparison tools

            best = {r["arm"]: r["trial"] for r in summary.rows}
            summary.reeval = (stored_reeval(study, best) if sweep.summary_only
                              else reevaluate(study, sweep, base_overrides, parent.run_id, best))
        parent.log_text(summary.csv(), "sweep/summary.csv")
        parent.log_text(summary.markdown(), "sweep/summary.md")
        parent.log_metrics({M.sweep_best(r["arm"], names[0]): r[names[0]] for r in summary.rows}, step=0)
        for name, fig in figures(study, names).items():
            parent.log_figure(fig, f"sweep/{name}.png")
        outcome = SweepOutcome(sweep.study_name, parent.run_id, summary, remaining)
    backend = tracking.resolve_backend(cfg.tracking)
    print(summary.markdown())
    print("Browse this study:\n" + browse_commands(backend.uri, storage_url(sweep), _experiment_id(cfg, parent.run_id),
                                                  study._storage.get_study_id_from_name(study.study_name)))
    return outcome
