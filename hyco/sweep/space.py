"""The conditional search space: an ``arm`` choice, then the parameters of that arm.

``sweep.search_space`` maps ``common`` and each arm to ``{config.path: spec}`` with
``spec = {type: float|int|categorical, low, high, log, step, choices}``. A parameter is named
``<arm>/<config.path>`` (``mixed/trainer.hyco.alpha``), so each arm's values are modelled from that
arm's trials only; the sampled value becomes the Hydra override ``path=value``. The arm itself
is chosen by :class:`ArmBalancedSampler`, not optimised: a study compares arms, so each arm gets
an equal share of the budget and is tuned on its own.

The arms, what each forecasts with, whether it learns parameters and which ``trainer.*`` knobs
act on it come from the variant registry (:mod:`hyco.arms.spec`).
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import optuna

from hyco.arms import available_arms, get_arm
from hyco.core.plain import to_plain
from hyco.errors import ConfigError


def _as_dict(spec: Any) -> Dict[str, Any]:
    return to_plain(spec) if spec is not None else {}


def arm_space(search_space: Mapping[str, Any], arm: str) -> Dict[str, Dict[str, Any]]:
    """``common`` plus the arm's own entries (the arm's win on a shared name)."""
    space: Dict[str, Dict[str, Any]] = {}
    for group in ("common", arm):
        for path, spec in _as_dict(search_space.get(group)).items():
            space[str(path)] = _as_dict(spec)
    return space


def check_space(search_space: Mapping[str, Any], arms: Sequence[str]) -> None:
    """Fail early, naming the entry, if a spec is malformed or tunes a knob that does not act.

    A ``trainer.<key>`` entry of an arm's group must be a key the arm's variant reads; one under
    ``common`` must be read by at least one of ``arms`` (otherwise trials would differ in a value
    that changes nothing).
    """
    known = ["common", *available_arms()]
    for group, entries in search_space.items():
        if group not in known:  # a misspelt arm would silently leave that arm untuned
            raise ConfigError(f"sweep.search_space.{group}: unknown group; use one of {known}")
        if group != "common" and group not in arms:
            continue
        readers = list(arms) if group == "common" else [group]
        for path, spec in _as_dict(entries).items():
            spec = _as_dict(spec)
            kind = spec.get("type")
            where = f"sweep.search_space.{group}.{path}"
            if kind in ("float", "int"):
                if "low" not in spec or "high" not in spec:
                    raise ConfigError(f"{where}: needs low <= high, both given; got {spec}")
                if not all(isinstance(spec[b], (int, float)) and not isinstance(spec[b], bool)
                           and math.isfinite(spec[b]) for b in ("low", "high")):
                    raise ConfigError(f"{where}: low and high must be finite numbers, "
                                      f"got {spec['low']} / {spec['high']}")
                if spec["low"] > spec["high"]:
                    raise ConfigError(f"{where}: needs low <= high, got {spec}")
                if spec.get("log") and spec["low"] <= 0:
                    raise ConfigError(f"{where}: log scale needs low > 0, got {spec['low']}")
            elif kind == "categorical":
                if not spec.get("choices"):
                    raise ConfigError(f"{where}: categorical needs a non-empty choices list")
            else:
                raise ConfigError(f"{where}: type must be float, int or categorical, got {kind!r}")
            if str(path).startswith("trainer.") and readers and \
                    not any(get_arm(a).knob_acts(str(path)[len("trainer."):]) for a in readers):
                raise ConfigError(f"{where}: {path} does not act on {' or '.join(readers)} "
                                  "(see the arm's reads in hyco/arms/)")


def suggest(trial: optuna.Trial, path: str, spec: Mapping[str, Any]) -> Any:
    kind = spec["type"]
    if kind == "float":
        return trial.suggest_float(path, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log", False)))
    if kind == "int":
        return trial.suggest_int(path, int(spec["low"]), int(spec["high"]), step=int(spec.get("step", 1)),
                                 log=bool(spec.get("log", False)))
    return trial.suggest_categorical(path, list(spec["choices"]))


def sample_overrides(trial: optuna.Trial, search_space: Mapping[str, Any],
                     arms: Sequence[str]) -> Tuple[str, List[str]]:
    """Sample the arm and its parameters; returns ``(arm, ["path=value", ...])``."""
    arm = trial.suggest_categorical("arm", list(arms))
    overrides = [f"{path}={suggest(trial, f'{arm}/{path}', spec)}"
                 for path, spec in arm_space(search_space, arm).items()]
    return arm, overrides


class ArmBalancedSampler(optuna.samplers.BaseSampler):
    """Chooses ``arm`` as the least-used arm so far (ties in the configured order); every other
    parameter comes from the wrapped sampler (TPE). Running trials count, so parallel workers
    spread over the arms."""

    def __init__(self, base: optuna.samplers.BaseSampler) -> None:
        self.base = base

    def infer_relative_search_space(self, study, trial):
        # the arm is never sampled relatively: a multivariate TPE (Optuna 5's default) or NSGA-II
        # would otherwise pick it in sample_relative and bypass the balancing below
        space = self.base.infer_relative_search_space(study, trial)
        return {name: dist for name, dist in space.items() if name != "arm"}

    def sample_relative(self, study, trial, search_space):
        return self.base.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        if param_name != "arm":
            return self.base.sample_independent(study, trial, param_name, param_distribution)
        choices = list(param_distribution.choices)
        used = {c: 0 for c in choices}
        for other in study.get_trials(deepcopy=False):
            if other.number != trial.number and other.params.get("arm") in used:
                used[other.params["arm"]] += 1
        return min(choices, key=lambda c: (used[c], choices.index(c)))

    def before_trial(self, study, trial):
        self.base.before_trial(study, trial)

    def after_trial(self, study, trial, state, values):
        self.base.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.base.reseed_rng()


OBJECTIVE_NAMES = {"synthetic_error": ["forecast_error"], "param_error": ["param_error"],
                   "both": ["forecast_error", "param_error"]}


def sweep_arms(arms: Sequence[str]) -> List[str]:
    """``sweep.arms``, or every registered arm when it is empty."""
    return list(arms) or available_arms()


def arms_for(objective: str, arms: Sequence[str]) -> List[str]:
    """Arms that have the quantity the objective needs: ``param_error`` (and ``both``) leave out
    arms that learn no physical parameter (e.g. ``synthetic_only``). Empty ``arms``: all registered."""
    arms = sweep_arms(arms)
    if objective == "synthetic_error":
        return arms
    return [a for a in arms if get_arm(a).learns_params]
