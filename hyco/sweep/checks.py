"""Sweep-level configuration checks, run by ``experiments/sweep.py`` before anything is created."""

from __future__ import annotations

from typing import List

from hydra import compose
from omegaconf import DictConfig, OmegaConf

from hyco.config import ConfigError, validate
from hyco.sweep.space import arms_for, check_space, sweep_arms

_ABSENT = object()


def check_sweep_config(cfg: DictConfig, overrides: List[str]) -> None:
    """What every trial composes, checked before any database exists: the arms against the
    objective, the search space's specs and paths, and ``sweep.trial_overrides`` (a typo there
    would otherwise fail every trial). Hydra must be initialised by the caller."""
    if cfg.sweep.role not in ("auto", "worker"):
        raise ConfigError(f"sweep.role: '{cfg.sweep.role}' is not a role; use auto (create or join the study) "
                          "or worker (only join one that exists)")
    if not arms_for(cfg.sweep.objective, list(cfg.sweep.arms)):
        raise ConfigError(f"sweep.arms: none of {sweep_arms(cfg.sweep.arms)} has what objective "
                          f"'{cfg.sweep.objective}' measures (synthetic_only learns no parameter)")
    check_space(cfg.sweep.search_space, sweep_arms(cfg.sweep.arms))
    trial = compose(config_name="config", overrides=[*cfg.sweep.trial_overrides, *overrides])
    try:
        validate(trial)
    except ConfigError as err:
        raise ConfigError(f"{err} (in every trial's config: this command line plus "
                          f"sweep.trial_overrides={list(cfg.sweep.trial_overrides)})") from err
    for group, entries in cfg.sweep.search_space.items():
        for path in entries or {}:
            if OmegaConf.select(trial, str(path), default=_ABSENT) is _ABSENT:
                raise ConfigError(f"sweep.search_space.{group}.{path}: '{path}' is not a config key; "
                                  "check the spelling (hyco/config/schema.py)")
