"""``python experiments/sweep.py``: create or join the study, run the workers, summarise.

The launching process validates the config, creates the MLflow database and joins the Optuna
study (creating it, refusing it if it holds another problem: :mod:`hyco.sweep.fingerprint`),
fails the trials of dead workers, creates or attaches to the study's parent MLflow run and then
runs ``sweep.workers`` worker processes against the one study. Each worker initialises Hydra once
and composes one config per trial. The same command on several hosts joins one study with an
exact budget (:mod:`hyco.sweep.roles`); rerunning it resumes everything.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import matplotlib.pyplot as plt
import torch
from hydra import initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from hyco import metrics as M
from hyco import tracking
from hyco.config import default_torch_threads
from hyco.core.console import setup_logging, study_display
from hyco.core.locks import clean_stale_locks
from hyco.core.paths import conf_dir
from hyco.core.stores import probe_url, redact, sqlite_file
from hyco.errors import EXIT_SIGNAL_BASE, ConfigError, Interrupted, NotFoundError, exit_code
from hyco.sweep.arm_studies import mirror_callback, mirror_trials, rdb, save_summary_note
from hyco.sweep.fingerprint import study_problem
from hyco.sweep.labels import name_objectives
from hyco.sweep.objective import run_trial, trial_config
from hyco.sweep.progress import StudyProgress
from hyco.sweep.roles import (
    BudgetReached,
    attach_parent,
    budget_done,
    budget_used,
    finish_once,
    record_problem,
    wait_for_study,
    worker_study,
)
from hyco.sweep.space import OBJECTIVE_NAMES, arms_for, check_space, sweep_arms
from hyco.sweep.study import (
    INTERRUPTED_ATTR,
    create_study,
    fail_dead_trials,
    load_study,
    make_storage,
    mark_owner,
    remaining_budget,
    retry_callback,
    split_budget,
    stop_own_trials,
    storage_url,
    study_names,
)
from hyco.sweep.summary import SweepSummary, arm_figures, browse_commands, figures, summarize
from hyco.sweep.views import runs_view

log = logging.getLogger(__name__)


@dataclass
class SweepOutcome:
    """What a sweep command produced."""

    study_name: str
    parent_run_id: str
    summary: SweepSummary
    trials_run: int


class _DropInterruptedTrials(logging.Filter):
    """Optuna logs a trial stopped by SIGINT/SIGTERM as failed (two lines, one with a traceback);
    the sweep says itself, in one line, that the trial was stopped and queued again."""

    def __init__(self) -> None:
        super().__init__()
        self.stopped: set = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt):
            self.stopped.add(message.split(" failed", 1)[0])  # "Trial <n>"
            return False
        return message.split(" failed", 1)[0] not in self.stopped


_FILTER = _DropInterruptedTrials()
OPTUNA_TRIAL_LOGGER = "optuna.study._optimize"  # where Optuna logs a failed trial (filters do not propagate)


def worker_main(worker: int, n_trials: int, sweep: Dict[str, Any], base_overrides: List[str],
                parent_id: str, threads: int, tracking_cfg: Optional[Dict[str, Any]] = None) -> None:
    """One worker process: at most ``n_trials`` trials of the shared study, each admitted only
    while the study (all hosts together) is under budget."""
    torch.set_num_threads(threads)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if not logging.getLogger().handlers:  # a spawned worker: the launcher's level (inherited), through tqdm
        setup_logging()
    logging.getLogger(OPTUNA_TRIAL_LOGGER).addFilter(_FILTER)
    cfg = OmegaConf.create(sweep)
    study = worker_study(cfg, worker, None if tracking_cfg is None else OmegaConf.create(tracking_cfg))

    def objective(trial):
        mark_owner(trial)
        return run_trial(trial, cfg, base_overrides, parent_id, cfg.study_name)

    names = OBJECTIVE_NAMES[cfg.objective]
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):  # once per process
        try:
            study.optimize(objective, n_trials=n_trials,
                           callbacks=[mirror_callback(study._rdb, str(cfg.objective), names)])
        except BudgetReached as done:
            log.info("%s; worker %d stops", done, worker)


def _spawned_worker(*args: Any) -> None:
    """A spawned worker: :func:`worker_main` with the platform's signal handling; a SIGINT/SIGTERM
    ends its trial (queued again) and the process with ``128 + signum``, without a traceback."""
    from hyco.core.exits import install_signal_handlers

    install_signal_handlers()
    try:
        worker_main(*args)
    except KeyboardInterrupt as stop:
        raise SystemExit(exit_code(stop)) from None


def _run_workers(shares: Sequence[int], sweep: Dict[str, Any], base_overrides: List[str], parent_id: str,
                 threads: int, tracking_cfg: Optional[Dict[str, Any]] = None) -> None:
    active = [(i, n) for i, n in enumerate(shares) if n > 0]
    if len(active) == 1:
        worker_main(active[0][0], active[0][1], sweep, base_overrides, parent_id, threads, tracking_cfg)
        return
    ctx = mp.get_context("spawn")  # fresh interpreters: no inherited torch/SQLite/MLflow state
    procs = [ctx.Process(target=_spawned_worker, args=(i, n, sweep, base_overrides, parent_id, threads, tracking_cfg),
                         name=f"hyco-sweep-worker-{i}") for i, n in active]
    for proc in procs:
        proc.start()
    try:
        for proc in procs:
            proc.join()
    except KeyboardInterrupt as stop:
        # Ctrl-C reaches the whole process group, ``kill``/``scancel --signal`` maybe only this
        # process: pass the signal on, then let every worker queue its trial again and exit
        signum = stop.signum if isinstance(stop, Interrupted) else signal.SIGINT
        for proc in procs:
            if proc.is_alive():
                with contextlib.suppress(OSError):
                    os.kill(proc.pid, signum)
        for proc in procs:
            proc.join(timeout=120)
            if proc.is_alive():  # stuck in its clean-up: the next start fails its trial as a dead worker's
                proc.kill()
                proc.join()
        raise
    bad = [(p.name, p.exitcode) for p in procs if p.exitcode != 0]
    stopped = [code for _, code in bad if code is not None and code > EXIT_SIGNAL_BASE]
    if stopped and len(stopped) == len(bad):  # the workers were stopped by a signal (not this process's)
        raise Interrupted(stopped[0] - EXIT_SIGNAL_BASE)
    if bad:
        raise RuntimeError(f"sweep workers exited with errors: {bad}; rerun the same command to resume the study")


def _experiment_id(cfg: DictConfig, run_id: str) -> Optional[str]:
    """The MLflow experiment of the sweep's parent run (None with tracking off)."""
    if not cfg.tracking.enabled:
        return None
    return tracking.get_run(run_id, cfg.tracking).experiment_id


def probe_stores(cfg: DictConfig) -> None:
    """The tracking store and the study storage, probed in seconds before anything is created:
    an unreachable server or a read-only database is one line naming it
    (:func:`hyco.core.stores.probe_url`); ``summary_only`` on a study that does not exist is
    refused without creating the database, the study or a parent run."""
    sweep = cfg.sweep
    if cfg.tracking.enabled:
        tracking.probe_tracking(cfg.tracking)
    url = storage_url(sweep)
    probe_url(url, "study storage (sweep.storage)")
    database = sqlite_file(url)
    if database is not None and database.parent.is_dir():  # lock files of studies nobody runs now
        clean_stale_locks(database.parent, f"{database.name}.*.lock")
    if sweep.summary_only and str(sweep.study_name) not in study_names(url):
        known = study_names(url)
        raise NotFoundError(f"sweep.summary_only: study '{sweep.study_name}' does not exist in {redact(url)} "
                            f"(studies there: {known or 'none'}); check sweep.study_name — nothing was created")


def regenerate_first(cfg: DictConfig, base_overrides: List[str], arms: Sequence[str]) -> List[str]:
    """``data.regenerate=true`` in a sweep: the launcher rebuilds the data of every arm's trial
    config once, before any worker starts, and the trials then read it (a flag applied per trial
    would rebuild the entry under the feet of the trials reading it)."""
    trial_cfgs = [trial_config(arm, [*cfg.sweep.trial_overrides, *base_overrides], [], check=False) for arm in arms]
    if not any(bool(c.data.regenerate) for c in trial_cfgs):
        return base_overrides
    from hyco.data.cache import cache_key
    from hyco.data.generate import generate_dataset

    done: set = set()
    for trial_cfg in trial_cfgs:
        key = cache_key(trial_cfg)
        if key not in done:
            generate_dataset(trial_cfg)
            done.add(key)
    return [*base_overrides, "data.regenerate=false"]


def run_sweep(cfg: DictConfig, base_overrides: Sequence[str]) -> SweepOutcome:
    """Run (or join, or resume, or only summarise) the study described by ``cfg.sweep``."""
    sweep = cfg.sweep
    arms = arms_for(sweep.objective, list(sweep.arms))
    if not arms:
        raise ConfigError(f"sweep.arms: no arm has what objective '{sweep.objective}' measures")
    check_space(sweep.search_space, arms)
    probe_stores(cfg)
    problem = study_problem(cfg, list(base_overrides), arms)  # composes only: no compute yet
    if not sweep.summary_only:
        base_overrides = regenerate_first(cfg, list(base_overrides), arms)
    tracking.ensure_backend(cfg.tracking)  # created/migrated once, before any worker starts
    storage = make_storage(sweep)
    if str(sweep.role) == "worker":
        wait_for_study(storage, str(sweep.study_name), float(sweep.attach_timeout))
    study = create_study(sweep)
    name_objectives(study, OBJECTIVE_NAMES[sweep.objective])
    if not sweep.summary_only:  # a summary runs no trial: any command may ask for it
        record_problem(storage, study, problem)  # refuses another problem before anything changes
    fail_dead_trials(study, retry_callback(sweep))
    experiment = cfg.tracking.experiment_name or cfg.experiment_name
    sweep_plain = OmegaConf.to_container(sweep, resolve=True)
    sweep_plain["arms"] = sweep_arms(sweep.arms)  # resolved: the parent run records the arms it ran
    names = OBJECTIVE_NAMES[sweep.objective]
    creates = str(sweep.role) != "worker" and not sweep.summary_only  # a summary creates no parent run
    parent_id = attach_parent(
        storage, study,
        None if not creates else lambda: tracking.create_shared_run(
            cfg.tracking, experiment, f"sweep-{sweep.study_name}",
            {"hyco.study": sweep.study_name, "hyco.role": "sweep-parent"},
            {"sweep": sweep_plain, "trial_overrides_cli": " ".join(base_overrides)}),
        0.0 if sweep.summary_only else float(sweep.attach_timeout))
    remaining = 0 if sweep.summary_only else remaining_budget(study, int(sweep.n_trials))
    reevals = 0 if sweep.summary_only else int(sweep.reeval_seeds) * len(arms)  # at most; known after the trials
    try:  # Ctrl-C / SIGTERM from here on: trials queued again, the parent run KILLED (_stopped)
        with study_display(), StudyProgress(storage_url(sweep), sweep.study_name, int(sweep.n_trials), names,
                                            reevals=reevals) as progress:
            if remaining:
                if tracking.run_status(parent_id, cfg.tracking) != "RUNNING":  # an interrupted sweep, resumed
                    tracking.reopen_shared_run(parent_id, cfg.tracking)
                workers = min(int(sweep.workers), remaining)
                threads = int(cfg.torch_threads) or default_torch_threads(workers)
                log.info("study %s: %d trial(s) to run, %d worker(s), %d thread(s) each; %s per job",
                         sweep.study_name, remaining, workers, threads, names[0])
                _run_workers(split_budget(remaining, workers), sweep_plain, list(base_overrides), parent_id, threads,
                             OmegaConf.to_container(cfg.tracking, resolve=True))
            summary = summarize(load_study(sweep), names)
            progress.plan_reevals(_reevals_left(study, summary, int(sweep.reeval_seeds), bool(sweep.summary_only)))
            wrote = finish_once(storage, study, int(sweep.n_trials),
                                lambda: _write_summary(cfg, study, parent_id, summary, base_overrides, progress),
                                force=bool(sweep.summary_only))
    except KeyboardInterrupt as stop:
        if sweep.summary_only:
            raise
        raise _stopped(stop, cfg, storage, study, parent_id) from None
    if not wrote:
        log.info("study %s: %s", sweep.study_name, "summary already written" if study.user_attrs.get("summary_written")
                 else "trials still run on other hosts; the last to finish writes the summary")
        if int(sweep.reeval_seeds) > 0 and summary.rows:  # the fresh-seed columns another host computed
            from hyco.sweep.reeval import stored_reeval

            summary.reeval = stored_reeval(load_study(sweep), summary.best_trials)
    backend = tracking.resolve_backend(cfg.tracking)
    experiment_id = _experiment_id(cfg, parent_id)
    view = runs_view(cfg, experiment_id, arms) if experiment_id is not None else ""
    print(summary.console(str(sweep.objective)), end="")
    print("Browse this sweep:\n" + browse_commands(backend.uri, storage_url(sweep), experiment_id,
                                                   study._storage.get_study_id_from_name(study.study_name), view))
    return SweepOutcome(sweep.study_name, parent_id, summary, remaining)


def _stopped(stop: KeyboardInterrupt, cfg: DictConfig, storage, study, parent_id: str) -> Interrupted:
    """After SIGINT/SIGTERM: the parent run ends KILLED unless trials still run on other hosts,
    and the message says what was kept and how to go on."""
    sweep = cfg.sweep
    how = stop.signal_name if isinstance(stop, Interrupted) else "SIGINT"
    try:  # a trial asked for but not yet started when the signal came (or a worker that did not clean up)
        stop_own_trials(study, f"stopped by {how}; queued to run again with the same parameters")
    except Exception as err:  # the next start fails them as a dead worker's anyway
        log.warning("could not queue the stopped trials again: %s", err)
    trials = storage.get_all_trials(study._study_id, deepcopy=False)
    # the trial each queued retry stands for is the last of its retry history
    waiting = {t.system_attrs["retry_history"][-1] for t in trials
               if t.state == TrialState.WAITING and t.system_attrs.get("retry_history")}
    queued = sorted(t.number for t in trials if INTERRUPTED_ATTR in t.user_attrs and t.number in waiting)
    running = any(t.state == TrialState.RUNNING for t in trials)
    if not running:
        try:
            tracking.end_shared_run(parent_id, "KILLED", cfg.tracking, reason="sweep interrupted; rerun to resume")
        except Exception as err:  # the message below still says how to go on
            log.warning("could not end the parent run %s: %s", parent_id, err)
    again = f"trial(s) {queued} stopped and queued to run again (not counted)" if queued else "no trial was running"
    parent = "ended KILLED" if not running else "left RUNNING (trials still run on other hosts)"
    text = (f"study {sweep.study_name}: {budget_used(trials)}/{sweep.n_trials} trials used, {again}; parent run "
            f"{parent_id} {parent} — rerun the same command to continue")
    signum = stop.signum if isinstance(stop, Interrupted) else signal.SIGINT
    return Interrupted(signum, text)


def _reevals_left(study, summary: SweepSummary, seeds: int, summary_only: bool) -> int:
    """Re-evaluations this command will run: the arms' best trials not yet re-evaluated."""
    if summary_only or seeds <= 0 or study.user_attrs.get("summary_written"):
        return 0
    import json

    from hyco.sweep.reeval import REEVAL_ATTR

    stored = json.loads(study.user_attrs.get(REEVAL_ATTR, "{}"))
    return sum(seeds for arm, number in summary.best_trials.items()
               if not (stored.get(arm, {}).get("trial") == number and len(stored[arm].get("seeds", [])) >= seeds))


def _write_summary(cfg: DictConfig, study, parent_id: str, summary: SweepSummary,
                   base_overrides: Sequence[str], progress: Optional[StudyProgress] = None) -> None:
    """The summary table (with the fresh-seed re-evaluation of each arm's best configuration when
    ``sweep.reeval_seeds > 0``), best values and figures on the parent run; the run ends FINISHED
    once the budget is done (``summary_only`` on an unfinished study leaves it running)."""
    names = OBJECTIVE_NAMES[cfg.sweep.objective]
    if int(cfg.sweep.reeval_seeds) > 0 and summary.rows:
        from hyco.sweep.reeval import (  # deferred: imports the comparison tools
            reevaluate,
            stored_reeval,
        )

        best = summary.best_trials
        summary.reeval = (stored_reeval(study, best) if cfg.sweep.summary_only
                          else reevaluate(study, cfg.sweep, base_overrides, parent_id, best,
                                          on_result=progress.reeval_done if progress is not None else None))
    parent = tracking.run_logger(parent_id, cfg.tracking)
    parent.log_text(summary.csv(), "sweep/summary.csv")
    parent.log_text(summary.markdown(), "sweep/summary.md")
    parent.log_metrics({M.sweep_best(r["arm"], names[0]): r[names[0]] for r in summary.rows}, step=0)
    final = load_study(cfg.sweep)
    for name, fig in {**figures(final, names), **arm_figures(final, names)}.items():
        parent.log_figure(fig, f"sweep/{name}.png")
        plt.close(fig)
    # any trial a dead worker could not copy (finish_once holds the study lock)
    mirror_trials(rdb(study), study, str(cfg.sweep.objective), names, locked=True)
    save_summary_note(study, summary.markdown())
    if budget_done(study.get_trials(deepcopy=False), int(cfg.sweep.n_trials)):
        tracking.end_shared_run(parent_id, "FINISHED", cfg.tracking)
