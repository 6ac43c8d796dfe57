"""Task dispatch for ``experiments/run.py``: generate / train / evaluate on a composed, checked config."""

from __future__ import annotations

import logging
from typing import Callable, Dict

from omegaconf import DictConfig

from hyco import metrics as M
from hyco.core.console import setup_logging
from hyco.runs.threads import configure_threads

log = logging.getLogger("hyco")


def _generate(cfg: DictConfig) -> None:
    from hyco.data.generate import generate_dataset

    result = generate_dataset(cfg)
    status = "cache hit" if result.hit else f"generated in {result.seconds:.1f} s"
    print(f"data: {result.path} ({status})")


def _train(cfg: DictConfig) -> None:
    from hyco.runs.train import train_run  # deferred: each task imports what it needs

    outcome = train_run(cfg)
    print(f"run id: {outcome.run_id}{' (resumed)' if outcome.resumed else ''}")
    if not cfg.evaluation.run_id:  # a following evaluate task takes this run, not the experiment's latest
        cfg.evaluation.run_id = outcome.run_id
    if outcome.model_uri:
        print(f"network: mlflow.pytorch.load_model({outcome.model_uri!r})")


def _evaluate(cfg: DictConfig) -> None:
    from hyco import tracking
    from hyco.evaluation import evaluate_run

    result = evaluate_run(cfg)
    run = tracking.get_run(result.run_id, cfg.tracking)
    named = f"{run.run_name} ({result.run_id}, arm {run.tags.get('hyco.variant', '?')})"
    if not result.per_step:  # a reconstruction problem: scored on the trajectory it reconstructed
        _print_reconstruction(result, named)
        return
    print(f"evaluation of run {named} on held-out simulations:")
    players = sorted(result.per_step, key=lambda p: p == "persistence")
    print(f"  {'player':<12} {'rel L2 mean':>12} {'rel L2 final':>13}")
    split = result.split
    for player in players:
        fields = M.eval_fields(result.metrics, split, player)
        print(f"  {player:<12} {result.metrics[M.rel_l2_mean(split, player)]:>12.4g} "
              f"{result.metrics[M.rel_l2_final(split, player)]:>13.4g}")
        for name in fields if len(fields) > 1 else ():  # one field: the same numbers again
            print(f"    {name:<10} {result.metrics[M.rel_l2_mean(split, player, name)]:>12.4g} "
                  f"{result.metrics[M.rel_l2_final(split, player, name)]:>13.4g}")
    for name in cfg.physics.params:
        for key in (M.eval_param(split, name), M.eval_param_rel_error(split, name)):
            if key in result.metrics:
                print(f"  {key}: {result.metrics[key]:.4g}")


def _print_reconstruction(result, named: str) -> None:
    metrics = result.metrics
    print(f"reconstruction by run {named} of its observed trajectory (frames 1..T-1 against the truth):")
    print(f"  {'player':<12} {'rel L2 final':>13} {'rel L2 min':>11} {'MSE final':>11}")
    for player in M.PLAYERS:
        if M.eval_recon(player, "final") in metrics:
            low = metrics.get(M.eval_recon(player, "min"))
            print(f"  {player:<12} {metrics[M.eval_recon(player, 'final')]:>13.4g} "
                  f"{'—' if low is None else f'{low:.4g}':>11} {metrics[M.eval_recon(player, 'final', 'mse')]:>11.4g}")
    prefix = M.eval_recon_param(M.param(""))
    for key in sorted(k for k in metrics if k.startswith(prefix)):
        print(f"  {key[len(M.eval_recon_param('')):]}: {metrics[key]:.4g}")


TASKS: Dict[str, Callable[[DictConfig], None]] = {"generate": _generate, "train": _train, "evaluate": _evaluate}


def run_tasks(cfg: DictConfig) -> None:
    """Run ``cfg.task`` in order on a config composed by :func:`hyco.compose.compose_config`.

    The tracking store is probed first (a few seconds at most) when a task records to it, so an
    unreachable server or a read-only database is one line before any data is generated."""
    setup_logging(cfg.log_level or None)  # lines above the progress bars
    configure_threads(cfg)
    if cfg.tracking.enabled and {"train", "evaluate"} & set(cfg.task):
        from hyco.tracking import probe_tracking

        probe_tracking(cfg.tracking)
    for task in cfg.task:
        TASKS[task](cfg)
