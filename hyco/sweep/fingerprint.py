"""A study is one problem: the fingerprint of what gives its trials their meaning.

The fingerprint covers the configuration every trial starts from (the experiment preset,
``sweep.trial_overrides`` and every command-line override outside ``sweep.``, resolved), the arms,
the search space and the objective. Settings that change where or how fast a trial runs but not
what it computes (tracking, storage, workers, threads, device, the data cache folder, figures)
are left out, so every host can use its own. The first command records it in the study's user
attributes; a later command whose fingerprint differs is refused before any compute, with the
differing keys named, because its trials would be compared (and pruned) against trials of
another problem.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List, Mapping

from omegaconf import DictConfig, OmegaConf

from hyco.config import ConfigError

FINGERPRINT_ATTR, ITEMS_ATTR = "fingerprint", "fingerprint_items"

# Where a trial runs, how fast, and where it logs: never part of what it means.
_IGNORED_TRIAL_KEYS = ("task", "tracking", "sweep", "torch_threads", "device", "seed", "data.cache_dir",
                       "data.regenerate", "data.max_cached_sims", "trainer.resume", "evaluation.figures",
                       "evaluation.num_snapshots", "evaluation.run_id")


def _flatten(value: Any, prefix: str, out: Dict[str, str]) -> None:
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            _flatten(value[key], f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = json.dumps(value, sort_keys=True, default=str)


def fingerprint_items(trial_cfg: DictConfig, sweep: DictConfig, arms: List[str]) -> Dict[str, str]:
    """``{dotted key: JSON value}`` of everything the fingerprint covers."""
    trial = OmegaConf.to_container(trial_cfg, resolve=True, enum_to_str=True)
    items: Dict[str, str] = {}
    _flatten({"trial": trial, "arms": sorted(arms), "objective": str(sweep.objective),
              "search_space": OmegaConf.to_container(sweep.search_space, resolve=True)}, "", items)
    ignored = tuple(f"trial.{k}" for k in _IGNORED_TRIAL_KEYS)
    return {k: v for k, v in items.items() if not any(k == i or k.startswith(i + ".") for i in ignored)}


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
    """The fingerprint items of the sweep command ``cfg`` (composes the trials' base config)."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from hyco.paths import conf_dir
    from hyco.sweep.objective import trial_config

    overrides = [*cfg.sweep.trial_overrides, *base_overrides]
    if GlobalHydra.instance().is_initialized():
        trial = trial_config(overrides, [])
    else:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            trial = trial_config(overrides, [])
    return fingerprint_items(trial, cfg.sweep, arms)
