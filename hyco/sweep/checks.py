"""Sweep-level configuration checks, run by ``experiments/sweep.py`` before anything is created."""

from __future__ import annotations

from typing import Any, List, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf

from hyco.compose import check_shared_overrides
from hyco.errors import ConfigError
from hyco.sweep.objective import trial_config
from hyco.sweep.space import arm_space, arms_for, check_space, sweep_arms

_ABSENT = object()


def check_sweep_config(cfg: DictConfig, overrides: List[str]) -> None:
    """What every trial composes, checked before any database exists: the arms against the
    objective, the search space's specs and paths, ``sweep.trial_overrides`` (a typo there would
    otherwise fail every trial), the validation and test simulations every trial is scored on,
    and every bound and choice of the search space, composed and validated as a trial's config
    (:func:`check_space_bounds`)."""
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
        for key in ("num_val", "num_test"):  # trials are scored on validation, reported on test
            if int(trial.data[key]) < 1:
                raise ConfigError(f"data.{key}: every trial is scored on the validation simulations and reported "
                                  f"on the test simulations; set data.{key} >= 1")
        check_space_bounds(cfg.sweep.search_space, arm, base)


def _group_of(search_space: Any, arm: str, path: str) -> str:
    entries = search_space.get(arm) or {}
    return arm if path in entries else "common"


def _bound(spec: Mapping[str, Any], corner: str) -> Any:
    """A float or int bound as the trial's override writes the sampled value."""
    return float(spec[corner]) if spec["type"] == "float" else int(spec[corner])


def check_space_bounds(search_space: Any, arm: str, base: Sequence[str]) -> None:
    """Compose and validate ``arm``'s trial config at the search space's corners: every low bound
    together, every high bound together, and each categorical choice. A bound the config rules
    refuse (a learning rate of 0, a warm start longer than the epochs) would otherwise abort the
    sweep at the first trial that samples near it; here it is named before the study exists."""
    space = arm_space(search_space, arm)
    numeric = {p: spec for p, spec in space.items() if spec.get("type") in ("float", "int")}
    for corner in ("low", "high"):
        if not numeric:
            break
        try:
            trial_config(arm, base, [f"{p}={_bound(spec, corner)}" for p, spec in numeric.items()])
            continue
        except ConfigError as together:
            for path, spec in numeric.items():  # name the bound that is refused on its own
                try:
                    trial_config(arm, base, [f"{path}={_bound(spec, corner)}"])
                except ConfigError as err:
                    where = f"sweep.search_space.{_group_of(search_space, arm, path)}.{path}"
                    raise ConfigError(f"{where}: the {corner} bound {_bound(spec, corner)} is refused in arm {arm}'s "
                                      f"trials — {err}") from None
            raise ConfigError(f"sweep.search_space.{arm}: the {corner} bounds together are refused in arm {arm}'s "
                              f"trials — {together}") from None
    for path, spec in space.items():
        if spec.get("type") != "categorical":
            continue
        for choice in spec["choices"]:
            try:
                trial_config(arm, base, [f"{path}={choice}"])
            except ConfigError as err:
                raise ConfigError(f"sweep.search_space.{_group_of(search_space, arm, path)}.{path}: the choice "
                                  f"{choice!r} is refused in arm {arm}'s trials — {err}") from None
