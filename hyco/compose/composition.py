"""Composing a run's configuration with Hydra: the schema with every arm's and network's node, the
plug-ins' config folders on the search path, and the rule that a knob of another arm is refused.

Every entry point (``run.py``, ``compare.py``, ``sweep.py``, each sweep trial, the tests) composes
through :func:`compose_config`:

1. the root schema is registered with one optional node per registered arm (``trainer.<node>``)
   and network (``synthetic.<name>``), plug-ins included (:func:`bootstrap`);
2. Hydra composes ``conf/config.yaml`` with the overrides, plug-in folders on its search path;
3. an override of another arm's node (``trainer=pinn trainer.hyco.alpha=0.3``) or another
   network's node is refused, naming the key and who reads it;
4. the nodes of every other arm and network are dropped (an experiment preset may set knobs for
   the arms that read them; they are inert for the others and never reach a fingerprint), and the
   run's own node is filled with its defaults when no preset set it;
5. :func:`hyco.config.validate` and :func:`hyco.compose.checks.check_problem` run.

Hydra's own errors (a malformed override, a missing preset, a wrong type) become
:class:`~hyco.errors.ConfigError` with Hydra's message, so entry points report all of them alike.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from hyco.arms import ARMS, arm_nodes, get_arm, node_owners
from hyco.compose.checks import check_problem
from hyco.config import register_schema, validate
from hyco.config.schema import current_schema
from hyco.core.paths import conf_dir
from hyco.core.plugins import config_search_path
from hyco.errors import ConfigError
from hyco.synthetic.registry import NETWORKS

_lock = threading.RLock()
_registered: Optional[tuple] = None


def network_nodes() -> Dict[str, type]:
    """Every network's config node and its dataclass: ``{name: dataclass}``."""
    return {name: entry.config for name, entry in NETWORKS.items() if entry.config is not None}


def bootstrap() -> None:
    """Register the root schema with every arm's and network's node (plug-ins loaded first);
    again only when a registry changed since the last call."""
    global _registered
    with _lock:
        arms, networks = arm_nodes(), network_nodes()
        key = (tuple(sorted((k, id(v)) for k, v in arms.items())),
               tuple(sorted((k, id(v)) for k, v in networks.items())))
        if key != _registered:
            register_schema(arms, networks)
            _registered = key


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~").strip()


def _node_of(override: str) -> Optional[tuple]:
    """``("trainer", node)`` / ``("synthetic", name)`` when ``override`` sets a key inside an arm's
    or a network's node, else None."""
    parts = _key(override).split(".")
    if len(parts) >= 2 and parts[0] == "trainer" and parts[1] in arm_nodes():
        return ("trainer", parts[1])
    if len(parts) >= 2 and parts[0] == "synthetic" and parts[1] in network_nodes():
        return ("synthetic", parts[1])
    return None


def _owns(cfg: DictConfig, where: tuple) -> bool:
    group, node = where
    if group == "trainer":
        return get_arm(cfg.trainer.variant).node == node
    return str(cfg.synthetic.name) == node


def _refusal(override: str, where: tuple, cfg: DictConfig) -> ConfigError:
    group, node = where
    key = _key(override)
    if group == "trainer":
        arm = get_arm(cfg.trainer.variant)
        own = f"trainer.{arm.node}.* and the shared trainer.*" if arm.node else "the shared trainer.*"
        return ConfigError(f"{key}: a knob of the arm(s) {', '.join(node_owners(node))} (node trainer.{node}); "
                           f"trainer.variant={arm.name} does not read it (its knobs: {own}). Remove it, or choose "
                           f"one of those arms")
    return ConfigError(f"{key}: a knob of the network '{node}'; synthetic.name={cfg.synthetic.name} does not read "
                       f"it (its knobs: synthetic.{cfg.synthetic.name}.*). Remove it, or set synthetic.name={node}")


def overrides_for_arm(overrides: Sequence[str], arm: str) -> List[str]:
    """The overrides that act on ``arm``: shared knobs, and its own node's (a comparison or sweep
    applies one command line to several arms; each gets what it reads)."""
    node = get_arm(arm).node
    return [o for o in overrides if (_node_of(o) is None or _node_of(o)[0] != "trainer" or _node_of(o)[1] == node)]


def check_shared_overrides(overrides: Sequence[str], arms: Iterable[str]) -> None:
    """Refuse an override of an arm node that none of ``arms`` reads (it would change nothing)."""
    nodes = {get_arm(a).node for a in arms}
    for override in overrides:
        where = _node_of(override)
        if where is not None and where[0] == "trainer" and where[1] not in nodes:
            raise ConfigError(f"{_key(override)}: a knob of the arm(s) {', '.join(node_owners(where[1]))}, none of "
                              f"which runs here ({', '.join(arms)}); remove it")


# Hydra takes about half a second per composition, and a sweep composes the same few command lines
# many times (each arm's base config for the checks, the fingerprint and the queue; each trial's
# bounds); a composition is a pure function of its overrides, search path and registered schema, so
# it is kept here.
_COMPOSED: Dict[tuple, DictConfig] = {}
_COMPOSED_MAX = 128


def _hydra_compose(overrides: List[str]) -> DictConfig:
    search = config_search_path()
    full = [*overrides, f"hydra.searchpath=[{','.join(search)}]"] if search else list(overrides)
    with _lock:
        key = (_registered, tuple(full))  # a plug-in registered since changes the schema
        if key not in _COMPOSED:
            if GlobalHydra.instance().is_initialized():
                composed = compose(config_name="config", overrides=full)
            else:
                with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
                    composed = compose(config_name="config", overrides=full)
            if len(_COMPOSED) >= _COMPOSED_MAX:
                _COMPOSED.pop(next(iter(_COMPOSED)))
            _COMPOSED[key] = composed
        return copy.deepcopy(_COMPOSED[key])  # callers settle and edit their own copy


def _as_config_error(err: Exception) -> ConfigError:
    """Hydra's or OmegaConf's error as one line that starts with the key it is about."""
    for link in (err, err.__cause__, err.__context__):
        key = getattr(link, "full_key", None)
        if isinstance(link, OmegaConfBaseException) and key:
            msg = str(getattr(link, "msg", "") or link).splitlines()[0].strip()
            if "not in '" in msg or "Key '" in msg and "not in" in msg:  # a typo'd key
                msg = f"not a config key here ({msg}); check the spelling (hyco/config/schema.py and the arms' nodes)"
            return ConfigError(f"{key}: {msg}")
    cause = err.__cause__
    detail = f": {cause}" if cause is not None and str(cause) not in str(err) else ""
    text = " ".join(f"{err}{detail}".split())
    return ConfigError(text.split(" Config search path:")[0])  # Hydra appends every folder it searched


def _settle_nodes(cfg: DictConfig) -> None:
    """Drop the nodes of every other arm and network; give the run's own its defaults if absent."""
    arm = get_arm(cfg.trainer.variant)
    for node, config in arm_nodes().items():
        if node != arm.node:
            cfg.trainer[node] = None
        elif cfg.trainer[node] is None:
            cfg.trainer[node] = OmegaConf.structured(config)
    name = str(cfg.synthetic.name)
    if name not in NETWORKS:
        raise ConfigError(f"synthetic.name: unknown network '{name}'; registered: {NETWORKS.names()}")
    for node, config in network_nodes().items():
        if node != name:
            cfg.synthetic[node] = None
        elif cfg.synthetic[node] is None:
            cfg.synthetic[node] = OmegaConf.structured(config)


def load_run_config(source: Union[str, Path, Mapping[str, Any]]) -> DictConfig:
    """A resolved config (a run's logged ``resolved_config.yaml``, or its plain mapping handed to
    another process), merged into the schema with every node (so it is typed as at composition)
    and settled like a freshly composed config."""
    bootstrap()
    loaded = OmegaConf.create(dict(source)) if isinstance(source, Mapping) else OmegaConf.load(source)
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(current_schema()), loaded)
        _settle_nodes(cfg)
    except OmegaConfBaseException as err:
        where = "the config" if isinstance(source, Mapping) else str(source)
        raise ConfigError(f"{where} does not fit this release's schema ({err}); it was written by another "
                          "version") from err
    return cfg  # type: ignore[return-value]


def compose_config(overrides: Sequence[str] = (), check: bool = True) -> DictConfig:
    """The validated config of ``conf/config.yaml`` with ``overrides`` (module docstring).

    Raises
    ------
    ConfigError
        naming the key and what to do, for every kind of configuration mistake.
    """
    bootstrap()
    overrides = list(overrides)
    nodal = [o for o in overrides if _node_of(o) is not None]
    try:
        cfg = _hydra_compose(overrides)
    except ConfigError:
        raise
    except Exception as err:  # Hydra / OmegaConf composition errors
        if nodal:  # an override into a node absent for this arm or network: say whose knob it is
            try:
                bare = _hydra_compose([o for o in overrides if o not in nodal])
            except Exception:
                raise _as_config_error(err) from err
            for override in nodal:
                if not _owns(bare, _node_of(override)):
                    raise _refusal(override, _node_of(override), bare) from None
        raise _as_config_error(err) from err
    if str(cfg.trainer.variant) not in ARMS:
        raise ConfigError(f"trainer.variant: unknown arm '{cfg.trainer.variant}'; registered: {ARMS.names()}")
    for override in nodal:
        if not _owns(cfg, _node_of(override)):
            raise _refusal(override, _node_of(override), cfg)
    try:
        _settle_nodes(cfg)
    except OmegaConfBaseException as err:
        raise _as_config_error(err) from err
    if check:
        validate(cfg)
        check_problem(cfg)
    return cfg
