"""What an arm is, and the registry of arms.

An arm (a HYCO variant, a baseline, or another hybrid method of the field) is one module that
declares an :class:`ArmSpec` with :func:`register_arm`: how to build its trainer, its players and
how each predicts, its checkpoints, its metric names, its target rule if it is hybrid, and its own
typed config node ``trainer.<node>``. Evaluation, the comparison, the sweep and the metric
vocabulary read this registry; none of them imports an arm's module or spells its name::

    register_arm(ArmSpec(
        name="my_arm", build=build_my_trainer, trains=("synthetic", "physical"),
        players=(synthetic_player(), physical_player()), node="my_arm", node_config=MyArmConfig,
        reads=(*SYNTHETIC_KEYS, "my_arm.strength"), metrics={"my_arm/strength": "..."}))

Built-in arms live in ``hyco/arms/`` (imported on the first look-up); a plug-in package registers
its own the same way (:mod:`hyco.core.plugins`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
)

import numpy as np

from hyco.core.registry import Registry
from hyco.errors import PluginError

PLAYERS = ("synthetic", "physical")
PLAYER_KINDS = ("forecast", "reconstruct")

# Shared trainer knobs (``trainer.<key>``) each player reads; an arm's ``reads`` is built from them.
SYNTHETIC_KEYS = ("epochs", "batch_size", "rollout_steps", "lr", "weight_decay", "optimizer", "betas", "scheduler",
                  "step_size", "gamma", "num_workers", "grad_clip", "resume", "inject_nan_at_step")
PHYSICAL_KEYS = ("epochs", "rollout_steps", "physical_optimizer", "physical_iterations_per_epoch",
                 "physical_lr", "physical_betas", "physical_scheduler", "physical_sims_per_fit", "resume")

#: ``build(cfg, model, data, context) -> trainer`` (a :class:`~hyco.training.base.AbstractTrainer`)
ArmBuilder = Callable[[Any, Any, Any, Any], Any]
#: ``forecast(x0 [B, C_in, *s], steps) -> [B, steps, C, *s]`` (CPU tensors in, CPU tensors out)
Forecast = Callable[[Any, int], Any]


@dataclass(frozen=True)
class PlayerContext:
    """What a player's loader receives: the run's config, the physical model and the folder of the
    run's checkpoints."""

    cfg: Any
    model: Any
    checkpoint_dir: Path


#: ``query(points [N, dim (+1)]) -> [N, C]``: a neural field read at points of space (and time)
Query = Callable[[Any], Any]


@dataclass(frozen=True)
class TrainedPlayer:
    """A player loaded from a run: its forecast (a grid player) or its query (a neural field)
    and, for a physical player, the learned parameters."""

    forecast: Optional[Forecast]
    params: Optional[Dict[str, np.ndarray]] = None
    theta: Optional[Dict[str, np.ndarray]] = None  # the scalars of family parameters
    query: Optional[Query] = None


@dataclass(frozen=True)
class Player:
    """One of an arm's players and how it predicts.

    Attributes
    ----------
    name
        ``synthetic`` or ``physical``: the metric namespace of its scores.
    load
        ``load(context) -> TrainedPlayer | None`` from the run's checkpoints (None: the run has
        no trained state of this player).
    kind
        ``forecast``: predicts a trajectory from an initial state; ``reconstruct``: predicts the
        observed trajectory (or a static solution) at given points.
    """

    name: str
    load: Callable[[PlayerContext], Optional[TrainedPlayer]]
    kind: str = "forecast"

    def __post_init__(self) -> None:
        if self.name not in PLAYERS:
            raise PluginError(f"player name {self.name!r}: choose from {PLAYERS}")
        if self.kind not in PLAYER_KINDS:
            raise PluginError(f"player kind {self.kind!r}: choose from {PLAYER_KINDS}")


@dataclass(frozen=True)
class ArmSpec:
    """One registered arm (module docstring).

    Attributes
    ----------
    name
        ``trainer.variant`` value and arm name.
    build
        ``(cfg, model, data, context) -> trainer``.
    trains
        Players whose weights or parameters the arm updates.
    players
        The players evaluation scores, in order (:class:`Player`).
    forecast
        The player whose prediction is the arm's forecast (the sweep's ``synthetic_error``);
        default: ``synthetic`` when it trains the network, else ``physical``.
    learns_params
        Whether it identifies physical parameters (default: whether it trains the physical player).
    hybrid
        ``trainer.epochs`` counts rounds (each ``trainer.hyco.synthetic_epochs_per_round`` epochs).
    node, node_config
        Its own config node ``trainer.<node>`` and the node's dataclass (several arms may share a
        node, as the HYCO variants share ``trainer.hyco``); None: no knobs of its own.
    reads
        The knobs that act on it, relative to ``trainer`` (``lr``, ``hyco.alpha``): they validate
        the sweep's search space and select the run parameters logged.
    checkpoints
        File names it writes in the run's ``checkpoints/`` folder.
    metrics
        Its own metric names (beyond :mod:`hyco.metrics`), each with its meaning; a ``<...>`` segment
        stands for any one name (``aphynity/exact_fit/<parameter>``, :meth:`declares`).
    targets
        Its target rule if it is hybrid (:class:`~hyco.training.targets.TargetRule`).
    accepts
        ``accepts(cfg, model)`` raises ``ValueError`` when the arm cannot run the problem (the PINN
        on a model without a continuous residual); checked before any compute.
    reconstructs
        It also trains on scattered observations of its training trajectories (a reconstruction
        problem: ``observation.spatial=lattice|tuples|uniform``, :mod:`hyco.arms.reconstruction`);
        other arms refuse such data before any compute.
    static
        It also runs static problems (a model with no time axis, :mod:`hyco.physics.static`: one
        solution observed at scattered points); other arms refuse them before any compute.
    baseline_for
        The players this arm is the reference baseline of in paired comparisons (the network
        alone for ``synthetic``, the physics alone for ``physical`` and the parameters).
    rank
        Position in listings (tables, default sweep arms); ties by name.
    """

    name: str
    build: ArmBuilder
    trains: Tuple[str, ...]
    players: Tuple[Player, ...]
    forecast: str = ""
    learns_params: Optional[bool] = None
    hybrid: bool = False
    node: Optional[str] = None
    node_config: Optional[type] = None
    reads: FrozenSet[str] = field(default_factory=frozenset)
    checkpoints: Tuple[str, ...] = ()
    metrics: Mapping[str, str] = field(default_factory=dict)
    targets: Any = None
    accepts: Optional[Callable[[Any, Any], None]] = None
    reconstructs: bool = False
    static: bool = False
    baseline_for: Tuple[str, ...] = ()
    rank: int = 100

    def __post_init__(self) -> None:
        trains = tuple(self.trains)
        if not trains or any(p not in PLAYERS for p in trains):
            raise PluginError(f"arm '{self.name}': trains must name players of {PLAYERS}, got {trains}")
        forecast = self.forecast or ("synthetic" if "synthetic" in trains else "physical")
        if forecast not in PLAYERS:
            raise PluginError(f"arm '{self.name}': forecast must be one of {PLAYERS}, got {forecast!r}")
        if (self.node is None) != (self.node_config is None):
            raise PluginError(f"arm '{self.name}': give both node and node_config, or neither")
        object.__setattr__(self, "trains", trains)
        object.__setattr__(self, "players", tuple(self.players))
        object.__setattr__(self, "forecast", forecast)
        object.__setattr__(self, "learns_params",
                           "physical" in trains if self.learns_params is None else bool(self.learns_params))
        object.__setattr__(self, "reads", frozenset(self.reads))
        object.__setattr__(self, "metrics", dict(self.metrics))
        object.__setattr__(self, "baseline_for", tuple(self.baseline_for))

    def player(self, name: str) -> Optional[Player]:
        """The player ``name`` of this arm, if it has one."""
        return next((p for p in self.players if p.name == name), None)

    def declares(self, key: str) -> bool:
        """Whether the metric ``key`` is one of :attr:`metrics` (a ``<...>`` segment matching any
        text without ``/``)."""
        return key in self.metrics or any(re.fullmatch(re.sub(r"<[^>/]+>", "[^/]+", re.escape(name)), key)
                                          for name in self.metrics if "<" in name)

    def knob_acts(self, key: str) -> bool:
        """Whether ``trainer.<key>`` acts on this arm."""
        return key == "variant" or key in self.reads


ARMS: Registry[ArmSpec] = Registry("arm", key="trainer.variant", discover="hyco.arms")


def register_arm(spec: ArmSpec) -> ArmSpec:
    """Register an arm; a node shared with another arm must have the same dataclass."""
    for other in ARMS._entries.values():
        if spec.node and other.node == spec.node and other.node_config is not spec.node_config \
                and other.name != spec.name:
            raise PluginError(f"arm '{spec.name}': node trainer.{spec.node} is declared by arm '{other.name}' "
                              f"with another dataclass; use its dataclass or another node name")
    return ARMS.add(spec.name, spec)


def available_arms() -> List[str]:
    """Registered arm names, in listing order (``rank``, then name)."""
    return [s.name for s in sorted((ARMS.get(n) for n in ARMS.names()), key=lambda s: (s.rank, s.name))]


def get_arm(name: Any) -> ArmSpec:
    """The spec of arm ``name``; a :class:`~hyco.errors.ConfigError` naming ``trainer.variant``
    and the registered arms when there is none."""
    return ARMS.get(str(getattr(name, "value", name)))


def arm_of(cfg: Any) -> ArmSpec:
    """The spec of ``cfg.trainer.variant``."""
    return get_arm(cfg.trainer.variant)


def arm_nodes() -> Dict[str, type]:
    """Every arm config node and its dataclass: ``{node: dataclass}``."""
    nodes: Dict[str, type] = {}
    for name in ARMS.names():
        spec = ARMS.get(name)
        if spec.node:
            nodes[spec.node] = spec.node_config  # type: ignore[assignment]
    return nodes


def node_owners(node: str) -> List[str]:
    """The arms whose config node is ``trainer.<node>``."""
    return [a for a in available_arms() if get_arm(a).node == node]


def reconstruction_arms() -> List[str]:
    """The arms that train on scattered observations (reconstruction problems)."""
    return [a for a in available_arms() if get_arm(a).reconstructs]


def static_arms() -> List[str]:
    """The arms that run static problems (no time axis)."""
    return [a for a in available_arms() if get_arm(a).static]


def with_params(arms: Iterable[str]) -> List[str]:
    """The arms among ``arms`` that learn physical parameters."""
    return [a for a in arms if get_arm(a).learns_params]


def baseline_arms(arms: Sequence[str]) -> Dict[str, List[str]]:
    """``{baseline arm: players it is the baseline for}`` among ``arms``."""
    return {a: list(get_arm(a).baseline_for) for a in arms if get_arm(a).baseline_for}
