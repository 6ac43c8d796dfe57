"""Sweep-level configuration checks, run by ``experiments/sweep.py`` before anything is created."""

from __future__ import annotations

from typing import List

from omegaconf import DictConfig, OmegaConf

from hyco.compose import check_shared_overrides
from hyco.errors import ConfigError
from hyco.sweep.objective import trial_config
from hyco.sweep.space import arm_space, arms_for, check_space, sweep_arms

_ABSENT = object()


def check_sweep_config(cfg: DictConfig, overrides: List[str]) -> None:
    """What every trial composes, checked before any database exists: the arms against the
    objective, the search space's specs and paths, and ``sweep.trial_overrides`` (a typo there
    would otherwise fail every trial)."""
    if cfg.sweep.role not in ("auto", "worker"):
        raise ConfigError(f"sweep.role: '{cfg.sweep.role}' is not a role; use auto (create or join the study) "
                          "or worker (only join one that exists)")
    if not arms_for(cfg.sweep.objective, list(cfg.sweep.arms)):
        raise ConfigError(f"sweep.arms: none of {sweep_arms(cfg.sweep.arms)} has what objective "
                          f"'{cfg.sweep.objective}' measures (an arm that learns no physical parameter "
                          "has no param_error)")
    arms = sweep_arms(cfg.sweep.arms)
    check_space(cfg.sweep.search_space, arms)
    base = [*cfg.sweep.trial_overrides, *overrides]
    check_shared_overrides(base, arms)
    for arm in arms:
        try:
            trial = trial_config(arm, base, [])
        except ConfigError as err:
            raise ConfigError(f"{err} (in every {arm} trial's config: this command line plus "
                              f"sweep.trial_overrides={list(cfg.sweep.trial_overrides)})") from err
        for path in arm_space(cfg.sweep.search_space, arm):
            if OmegaConf.select(trial, str(path), default=_ABSENT) is _ABSENT:
                raise ConfigError(f"sweep.search_space: '{path}' is not a config key of arm {arm}; "
                                  "check the spelling (hyco/config/schema.py, the arm's node in hyco/arms/)")
