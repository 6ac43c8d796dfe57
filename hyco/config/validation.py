"""Configuration rules that types cannot express: required values, unknown keys, cross-field rules.

Pure config: nothing here builds a model or looks up a registry (those checks are
:func:`hyco.compose.check_problem`). Called by every entry point before any compute or file
write; each error names the offending key and what to do.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, List

from omegaconf import DictConfig, ListConfig, OmegaConf

from hyco.config.schema import KNOWN_TASKS, SCATTERED_KINDS, SpatialMaskKind
from hyco.core.console import parse_level
from hyco.errors import ConfigError, ProblemRefused


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
    networks' included) is finite and inside it; a list's every element is."""
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
            values = list(_flatten(value)) if isinstance(value, ListConfig) else [value]
            for item in values:
                if _is_number(item) and float(item) not in ranges[key]:
                    shown = list(value) if isinstance(value, ListConfig) else value
                    what = "every entry must be" if isinstance(value, ListConfig) else "must be"
                    raise ConfigError(f"{path}: {what} {ranges[key].describe()}, got {shown}")


def _flatten(values: Any):
    """The numbers of a list, nested lists (a matrix, a list of points) included."""
    for item in values:
        if isinstance(item, (ListConfig, list, tuple)):
            yield from _flatten(item)
        else:
            yield item


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _check_device(cfg: DictConfig) -> None:
    device = str(cfg.get("device") or "auto")
    if not DEVICE.match(device):
        raise ConfigError(f"device: '{device}' is not a device; choose auto, cpu, cuda, cuda:N or mps")


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
    _check_device(cfg)
    _check_ranges(cfg)
    if cfg.data.truth:  # the truth model's own values: data.truth.dt=nan is refused like physics.dt=nan
        from hyco.config.schema import truth_physics

        try:
            _check_ranges(truth_physics(cfg), "data.truth.")
        except ConfigError:
            raise
        except Exception as err:  # a key the physics schema does not have, a wrong type
            raise ConfigError(f"data.truth: not a physics config ({' '.join(str(err).split())})") from None
    _check_physics(cfg)
    _check_observation(cfg)
    _check_trainer(cfg)
    _check_evaluation(cfg)


def _check_physics(cfg: DictConfig) -> None:
    phys = cfg.physics
    if len(phys.resolution) != phys.dim:
        raise ConfigError(
            f"physics.resolution: needs {phys.dim} entries for dim={phys.dim}, "
            f"got {list(phys.resolution)}"
        )
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
        if spec.learnable and not spec.lower < spec.upper:
            raise ConfigError(f"physics.params.{name}.lower/upper: a learnable parameter needs lower < upper, got "
                              f"[{spec.lower}, {spec.upper}]")
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


def _check_observation(cfg: DictConfig) -> None:
    obs = cfg.observation
    if obs.spatial == SpatialMaskKind.box and not (list(obs.box_lower) and list(obs.box_upper)):
        raise ConfigError("observation.box_lower/box_upper: spatial=box needs both, "
                          "as fractions of the domain per axis")
    if list(obs.box_lower) or list(obs.box_upper):
        for key in ("box_lower", "box_upper"):
            if len(obs[key]) != cfg.physics.dim:
                raise ConfigError(f"observation.{key}: needs {cfg.physics.dim} fractions, got {list(obs[key])}")
        for lo, hi in zip(obs.box_lower, obs.box_upper):
            if not 0.0 <= lo < hi <= 1.0:
                raise ConfigError(
                    "observation.box_lower/box_upper: need 0 <= lower < upper <= 1 per axis, got "
                    f"{list(obs.box_lower)} / {list(obs.box_upper)}"
                )


def _scattered(cfg: DictConfig) -> bool:
    """Observed at off-grid points: a reconstruction problem (fitted whole, nothing held out)."""
    return str(getattr(cfg.observation.spatial, "value", cfg.observation.spatial)) in SCATTERED_KINDS


def _check_trainer(cfg: DictConfig) -> None:
    tr, data = cfg.trainer, cfg.data
    scattered = _scattered(cfg)
    if data.num_frames == 1 and not scattered:
        raise ConfigError("data.num_frames=1 (a static problem's one frame, its solution) is observed at scattered "
                          "points: observation.spatial=uniform|lattice|tuples")
    # rollout windows are cut from grid observations only (scattered ones are fitted whole)
    if tr.rollout_steps >= data.num_frames and not scattered:
        raise ConfigError(
            f"trainer.rollout_steps: must be in [1, data.num_frames-1={data.num_frames - 1}], "
            f"got {tr.rollout_steps}"
        )
    hyco = tr.get("hyco")  # the HYCO arms' node (absent for every other arm)
    if hyco is not None and hyco.warmstart_epochs >= tr.epochs:
        # the arm cannot run this problem as configured: a comparison of every arm leaves it out
        raise ProblemRefused(
            f"trainer.hyco.warmstart_epochs: {hyco.warmstart_epochs} warm-start rounds take all trainer.epochs="
            f"{tr.epochs} rounds, so no exchange round would run and the physical model would stay untrained; "
            "lower it below trainer.epochs, or use trainer=synthetic_only"
        )


def _check_evaluation(cfg: DictConfig) -> None:
    horizon, frames = int(cfg.evaluation.horizon), int(cfg.data.num_frames)
    if horizon > frames - 1:
        raise ConfigError(f"evaluation.horizon: {horizon} steps, but the simulations have data.num_frames={frames} "
                          f"frames (at most {frames - 1} steps); lower it, or 0 for all of them")
    # a reconstruction problem is scored on its reconstruction of the observed solution, not on held-out ones
    if "evaluate" in cfg.task and int(cfg.data.num_test) == 0 and not cfg.evaluation.run_id and not _scattered(cfg):
        raise ConfigError("data.num_test: 0 test simulations, but task includes evaluate: there is nothing held out "
                          "to evaluate on; set data.num_test >= 1, or drop evaluate from task")
