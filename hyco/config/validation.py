"""Configuration rules that types cannot express: required values, unknown keys, cross-field rules.

Pure config: nothing here builds a model or looks up a registry (those checks are
:func:`hyco.compose.check_problem`). Called by every entry point before any compute or file
write; each error names the offending key and what to do.
"""

from __future__ import annotations

import dataclasses
from typing import List

from omegaconf import DictConfig, OmegaConf

from hyco.config.schema import KNOWN_TASKS, SpatialMaskKind, TemporalMaskKind
from hyco.core.console import parse_level
from hyco.errors import ConfigError


def _missing_keys(cfg: DictConfig, prefix: str = "") -> List[str]:
    missing: List[str] = []
    for key in cfg.keys():
        path = f"{prefix}{key}"
        if OmegaConf.is_missing(cfg, key):
            missing.append(path)
            continue
        child = cfg[key]
        if isinstance(child, DictConfig):
            missing.extend(_missing_keys(child, path + "."))
    return missing


def _unknown_keys(cfg: DictConfig, prefix: str = "") -> List[str]:
    """Keys added with Hydra's ``+key=...`` inside a schema node (``+`` lifts struct mode)."""
    unknown: List[str] = []
    node_type = OmegaConf.get_type(cfg)
    allowed = (
        {f.name for f in dataclasses.fields(node_type)}
        if node_type is not None and dataclasses.is_dataclass(node_type)
        else None
    )
    for key in cfg.keys():
        path = f"{prefix}{key}"
        if allowed is not None and key not in allowed:
            unknown.append(path)
            continue
        if OmegaConf.is_missing(cfg, key):
            continue
        child = cfg._get_node(key)
        if isinstance(child, DictConfig):
            unknown.extend(_unknown_keys(child, path + "."))
    return unknown


def _check_ranges(cfg: DictConfig, prefix: str = "") -> None:
    """Every key declared with a :class:`~hyco.config.schema.Range` (in any node, the arms' and
    networks' included) is finite and inside it."""
    node_type = OmegaConf.get_type(cfg)
    ranges = ({f.name: f.metadata["range"] for f in dataclasses.fields(node_type) if "range" in f.metadata}
              if node_type is not None and dataclasses.is_dataclass(node_type) else {})
    for key in cfg.keys():
        if OmegaConf.is_missing(cfg, key):
            continue
        child = cfg._get_node(key)
        path = f"{prefix}{key}"
        if isinstance(child, DictConfig):
            if not child._is_none():
                _check_ranges(child, path + ".")
        elif key in ranges:
            value = cfg[key]
            if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value) not in ranges[key]:
                raise ConfigError(f"{path}: must be {ranges[key].describe()}, got {value}")


def _check_log_level(cfg: DictConfig) -> None:
    try:
        parse_level(cfg.get("log_level") or "INFO")
    except ValueError as err:
        raise ConfigError(str(err)) from None


def validate(cfg: DictConfig) -> None:
    """Check what the types cannot: required values and cross-field rules.

    Raises
    ------
    ConfigError
        naming the offending key and what to do. Called before any compute or file write.
    """
    unknown = _unknown_keys(cfg)
    if unknown:
        raise ConfigError(
            "unknown config key(s): " + ", ".join(unknown)
            + " — not part of the schema (hyco/config/schema.py); check the spelling"
        )
    missing = _missing_keys(cfg)
    if missing:
        raise ConfigError(
            "missing required config value(s): "
            + ", ".join(missing)
            + " — set them in the preset or on the command line (e.g. "
            + f"{missing[0]}=...)"
        )
    for task in cfg.task:
        if task not in KNOWN_TASKS:
            raise ConfigError(f"task: unknown task '{task}'; choose from {list(KNOWN_TASKS)}")
    _check_log_level(cfg)
    _check_ranges(cfg)
    phys = cfg.physics
    if phys.dim not in (1, 2):
        raise ConfigError(f"physics.dim: must be 1 or 2, got {phys.dim}")
    if len(phys.resolution) != phys.dim:
        raise ConfigError(
            f"physics.resolution: needs {phys.dim} entries for dim={phys.dim}, "
            f"got {list(phys.resolution)}"
        )
    if any(n < 4 for n in phys.resolution):
        raise ConfigError(f"physics.resolution: every entry must be >= 4, got {list(phys.resolution)}")
    if phys.dt <= 0:
        raise ConfigError(f"physics.dt: must be positive, got {phys.dt}")
    if phys.substeps < 1:
        raise ConfigError(f"physics.substeps: must be >= 1, got {phys.substeps}")
    for name, spec in phys.params.items():
        kind = str(getattr(spec.kind, "value", spec.kind))
        if kind == "family":
            if not spec.family or not list(spec.true_theta) or not list(spec.initial_theta):
                raise ConfigError(f"physics.params.{name}: kind family needs family, true_theta and initial_theta")
            continue
        for key in ("true_value", "initial_guess"):
            if spec[key] is None:
                raise ConfigError(f"missing required config value(s): physics.params.{name}.{key} — set it in the "
                                  f"preset or on the command line (physics.params.{name}.{key}=...)")
        if not spec.lower <= spec.true_value <= spec.upper:
            raise ConfigError(
                f"physics.params.{name}.true_value: {spec.true_value} outside "
                f"[{spec.lower}, {spec.upper}] (physics.params.{name}.lower/upper)"
            )
        if not spec.lower <= spec.initial_guess <= spec.upper:
            raise ConfigError(
                f"physics.params.{name}.initial_guess: {spec.initial_guess} outside "
                f"[{spec.lower}, {spec.upper}]"
            )
    data = cfg.data
    for key in ("num_train", "num_val", "num_test"):
        if data[key] < 0:
            raise ConfigError(f"data.{key}: must be >= 0, got {data[key]}")
    if data.num_train < 1:
        raise ConfigError("data.num_train: at least one training simulation is needed")
    # a static problem has one frame (its solution); a time-dependent one at least two (checked with
    # the model, hyco.compose.check_problem)
    if data.num_frames < 1:
        raise ConfigError(f"data.num_frames: must be >= 1, got {data.num_frames}")
    if data.max_cached_sims < 1:
        raise ConfigError(f"data.max_cached_sims: must be >= 1, got {data.max_cached_sims}")
    obs = cfg.observation
    if not 0.0 <= obs.noise:
        raise ConfigError(f"observation.noise: must be >= 0, got {obs.noise}")
    if obs.spatial == SpatialMaskKind.box and not (list(obs.box_lower) and list(obs.box_upper)):
        raise ConfigError("observation.box_lower/box_upper: spatial=box needs both, "
                          "as fractions of the domain per axis")
    if list(obs.box_lower) or list(obs.box_upper):
        for key in ("box_lower", "box_upper"):
            if len(obs[key]) != phys.dim:
                raise ConfigError(f"observation.{key}: needs {phys.dim} fractions, got {list(obs[key])}")
        for lo, hi in zip(obs.box_lower, obs.box_upper):
            if not 0.0 <= lo < hi <= 1.0:
                raise ConfigError(
                    "observation.box_lower/box_upper: need 0 <= lower < upper <= 1 per axis, got "
                    f"{list(obs.box_lower)} / {list(obs.box_upper)}"
                )
    if obs.temporal == TemporalMaskKind.every_k and obs.every_k < 1:
        raise ConfigError(f"observation.every_k: must be >= 1, got {obs.every_k}")
    if obs.temporal in (TemporalMaskKind.first, TemporalMaskKind.last) and not 0.0 < obs.fraction <= 1.0:
        raise ConfigError(f"observation.fraction: must be in (0, 1], got {obs.fraction}")
    sweep = cfg.sweep
    if sweep.objective not in ("synthetic_error", "param_error", "both"):
        raise ConfigError(f"sweep.objective: '{sweep.objective}'; choose synthetic_error, param_error or both")
    if sweep.pruner not in ("median", "none"):
        raise ConfigError(f"sweep.pruner: '{sweep.pruner}'; choose median or none")
    if sweep.reeval_seeds < 0:
        raise ConfigError(f"sweep.reeval_seeds: must be >= 0, got {sweep.reeval_seeds}")
    if sweep.n_trials < 1 or sweep.workers < 1:
        raise ConfigError(f"sweep.n_trials/workers: must be >= 1, got {sweep.n_trials}/{sweep.workers}")
    tr = cfg.trainer
    scattered = obs.spatial in (SpatialMaskKind.lattice, SpatialMaskKind.tuples, SpatialMaskKind.uniform)
    if data.num_frames == 1 and not scattered:
        raise ConfigError("data.num_frames=1 (a static problem's one frame, its solution) is observed at scattered "
                          "points: observation.spatial=uniform|lattice|tuples")
    # rollout windows are cut from grid observations only (scattered ones are fitted whole)
    if tr.rollout_steps < 1 or (tr.rollout_steps >= data.num_frames and not scattered):
        raise ConfigError(
            f"trainer.rollout_steps: must be in [1, data.num_frames-1={data.num_frames - 1}], "
            f"got {tr.rollout_steps}"
        )
    for key in ("lr", "physical_lr"):
        if not tr[key] > 0:
            raise ConfigError(f"trainer.{key}: must be > 0, got {tr[key]}")
    for key in ("epochs", "batch_size", "physical_sims_per_fit", "checkpoint_every"):
        if tr[key] < 1:
            raise ConfigError(f"trainer.{key}: must be >= 1, got {tr[key]}")
    if tr.physical_iterations_per_epoch < 1:
        raise ConfigError("trainer.physical_iterations_per_epoch: must be >= 1, "
                          f"got {tr.physical_iterations_per_epoch}")
