"""A study is one problem: the fingerprint of what gives its trials their meaning.

The fingerprint covers the configuration every trial of each arm starts from (the experiment
preset, ``sweep.trial_overrides`` and every command-line override outside ``sweep.``, resolved),
the arms, the search space and the objective: the keys whose declared effect is ``data``, ``run``
or ``study`` (:mod:`hyco.config.keys`). Settings that change where, how fast or how visibly a
trial runs (tracking, storage, workers, threads, device, logging, the data cache folder, figures)
and the per-trial seed are left out, so every host can use its own. The first command records it in the study's user
attributes; a later command whose fingerprint differs is refused before any compute, with the
differing keys named, because its trials would be compared (and pruned) against trials of
another problem.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List, Mapping

from omegaconf import DictConfig

from hyco.config.keys import STUDY_FINGERPRINT, select
from hyco.core.plain import to_plain
from hyco.errors import ConfigError

FINGERPRINT_ATTR, ITEMS_ATTR = "fingerprint", "fingerprint_items"

def _flatten(value: Any, prefix: str, out: Dict[str, str]) -> None:
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            _flatten(value[key], f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = json.dumps(value, sort_keys=True, default=str)


def fingerprint_items(trial_cfgs: Mapping[str, DictConfig], sweep: DictConfig) -> Dict[str, str]:
    """``{dotted key: JSON value}`` of everything the fingerprint covers; ``trial_cfgs`` maps each
    arm to the config its trials start from. A key with the same value for every arm is
    ``trial.<key>``; a trainer knob that differs between arms (an arm's preset or node) is
    ``trial.trainer[<arm>].<key>``."""
    arms = sorted(trial_cfgs)
    flat: Dict[str, Dict[str, str]] = {}
    for arm in arms:
        flat[arm] = {}
        _flatten({"trial": select(to_plain(trial_cfgs[arm]), STUDY_FINGERPRINT)}, "", flat[arm])
    items: Dict[str, str] = {}
    for key in sorted({k for f in flat.values() for k in f}):
        values = {arm: flat[arm].get(key) for arm in arms}
        if len(set(values.values())) == 1 and None not in values.values():
            items[key] = values[arms[0]]
        else:
            for arm, value in values.items():
                if value is not None:
                    items[key.replace("trial.trainer.", f"trial.trainer[{arm}].", 1)] = value
    _flatten({"arms": arms, "objective": str(sweep.objective), "search_space": to_plain(sweep.search_space)},
             "", items)
    return items


def fingerprint(items: Mapping[str, str]) -> str:
    """SHA-256 (16 hex) of the items."""
    return hashlib.sha256(json.dumps(dict(items), sort_keys=True).encode()).hexdigest()[:16]


def differences(recorded: Mapping[str, str], current: Mapping[str, str], limit: int = 12) -> List[str]:
    """``key: recorded -> current`` for each differing key (at most ``limit``, then a count)."""
    keys = sorted(set(recorded) | set(current))
    lines = [f"{k}: {recorded.get(k, '(absent)')} -> {current.get(k, '(absent)')}"
             for k in keys if recorded.get(k) != current.get(k)]
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


def check_fingerprint(study_name: str, user_attrs: Mapping[str, Any], items: Mapping[str, str]) -> bool:
    """Raise :class:`ConfigError` if the study records another problem; True if it records none
    yet (the caller then records ``items``)."""
    recorded = user_attrs.get(FINGERPRINT_ATTR)
    if recorded is None:
        return True
    if recorded == fingerprint(items):
        return False
    diff = differences(user_attrs.get(ITEMS_ATTR, {}), items)
    raise ConfigError(
        f"study '{study_name}' holds trials of another problem; this command differs in:\n  "
        + "\n  ".join(diff)
        + f"\nNothing was run. Use another sweep.study_name (e.g. sweep.study_name={study_name}_2) for this "
        "problem, or repeat the study's original command to continue it.")


def study_problem(cfg: DictConfig, base_overrides: List[str], arms: List[str]) -> Dict[str, str]:
    """The fingerprint items of the sweep command ``cfg`` (composes each arm's base config)."""
    from hyco.sweep.objective import trial_config

    overrides = [*cfg.sweep.trial_overrides, *base_overrides]
    return fingerprint_items({arm: trial_config(arm, overrides, [], check=False) for arm in arms}, cfg.sweep)
