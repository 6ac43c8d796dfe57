"""Registry of variants (the arms of a comparison or sweep): each is declared once.

A variant module decorates its builder ``(cfg, model, data, context) -> trainer``::

    @register_variant("synthetic_only", trains=("synthetic",), reads=SYNTHETIC_KEYS, rank=0)
    def build_synthetic_trainer(cfg, model, data, context): ...

and everything that used to keep a list of arms asks here: config validation
(``trainer.variant``, ``sweep.arms``), the trainer factory, the comparison, the sweep's search
space, objectives and forecast player. A new arm is one module in ``hyco/training/`` that
registers itself plus one ``conf/trainer/<name>.yaml``: the modules of this package are
imported on the first look-up, so nothing else names it.

This module imports neither torch nor the trainers at import time (``hyco.config`` uses it
inside ``validate``); the discovery import happens on the first look-up.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence

PLAYERS = ("synthetic", "physical")

#: ``builder(cfg, model, data, context) -> trainer``
VariantBuilder = Callable[[Any, Any, Any, Any], Any]

# Trainer config keys (``trainer.<key>``) each player reads; a variant's schema is built from them.
SYNTHETIC_KEYS = ("epochs", "batch_size", "rollout_steps", "lr", "weight_decay", "optimizer", "scheduler",
                  "step_size", "gamma", "num_workers", "grad_clip", "resume", "inject_nan_at_step")
PHYSICAL_KEYS = ("epochs", "rollout_steps", "physical_optimizer", "physical_iterations_per_epoch",
                 "physical_lr", "physical_sims_per_fit", "resume")
# every HYCO variant: the warm start, rounds, and ghost ICs (their targets weigh lambda_*_int)
HYCO_KEYS = (*SYNTHETIC_KEYS, *PHYSICAL_KEYS, "warmstart_epochs", "synthetic_epochs_per_round",
             "checkpoint_every", "ghost_ics", "ghost_kind", "ghost_perturbation", "lambda_s_int", "lambda_p_int")


@dataclass(frozen=True)
class VariantSpec:
    """One registered variant.

    Parameters
    ----------
    name
        ``trainer.variant`` value and arm name.
    builder
        ``(cfg, model, data, context) -> trainer``.
    trains
        Players whose weights or parameters the variant updates (``synthetic``, ``physical``).
    forecast
        The player whose rollout is the variant's forecast (the sweep's ``synthetic_error``).
    learns_params
        Whether it identifies physical parameters (arms without are left out of ``param_error``).
    hybrid
        A HYCO variant: ``trainer.epochs`` counts rounds of ``synthetic_epochs_per_round`` epochs.
    reads
        The ``trainer.<key>`` knobs that act on it: validates the sweep search space and selects
        the trainer settings logged as run parameters.
    rank
        Position in listings (tables, default sweep arms); ties by name.
    check
        Optional ``check(cfg, model)`` run by config validation with the built physical model;
        raises ``ValueError`` when the arm cannot run on it (e.g. ``pinn`` on a model without a
        continuous residual).
    """

    name: str
    builder: VariantBuilder
    trains: tuple
    forecast: str
    learns_params: bool
    hybrid: bool
    reads: FrozenSet[str]
    rank: int = 100
    check: Optional[Callable[[Any, Any], None]] = None


_REGISTRY: Dict[str, VariantSpec] = {}
_discovered = False


def register_variant(name: str, *, trains: Sequence[str], forecast: Optional[str] = None,
                     learns_params: Optional[bool] = None, hybrid: bool = False,
                     reads: Iterable[str] = (), rank: int = 100,
                     check: Optional[Callable[[Any, Any], None]] = None) -> Callable[[VariantBuilder], VariantBuilder]:
    """Decorator registering a builder as variant ``name`` (returns the builder unchanged).

    ``forecast`` defaults to ``synthetic`` when the synthetic player trains, else ``physical``;
    ``learns_params`` defaults to whether the physical player trains. Registering another
    builder under a taken name raises ``ValueError``.
    """
    trains = tuple(trains)
    unknown = [p for p in trains if p not in PLAYERS]
    if not trains or unknown:
        raise ValueError(f"register_variant('{name}'): trains must name players of {PLAYERS}, got {trains}")
    forecast = forecast or ("synthetic" if "synthetic" in trains else "physical")
    if forecast not in PLAYERS:
        raise ValueError(f"register_variant('{name}'): forecast must be one of {PLAYERS}, got {forecast!r}")

    def decorator(builder: VariantBuilder) -> VariantBuilder:
        previous = _REGISTRY.get(name)
        # a re-imported module registers an equal-named builder again; only a different one clashes
        if previous is not None and previous.builder.__qualname__ != builder.__qualname__:
            raise ValueError(f"variant '{name}' is registered twice ({previous.builder.__qualname__}, "
                             f"{builder.__qualname__})")
        _REGISTRY[name] = VariantSpec(
            name, builder, trains, forecast,
            "physical" in trains if learns_params is None else bool(learns_params),
            bool(hybrid), frozenset(reads), int(rank), check)
        return builder

    return decorator


def _discover() -> None:
    """Import every module of ``hyco.training`` once, so that their registrations run."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    package = importlib.import_module("hyco.training")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"hyco.training.{module.name}")


def available_variants() -> List[str]:
    """Registered variant names, in listing order (``rank``, then name)."""
    _discover()
    return [s.name for s in sorted(_REGISTRY.values(), key=lambda s: (s.rank, s.name))]


def get_variant(name: str) -> VariantSpec:
    """The spec of ``name``; ``KeyError`` naming ``trainer.variant`` and the registered variants."""
    _discover()
    name = str(getattr(name, "value", name))
    if name not in _REGISTRY:
        raise KeyError(f"trainer.variant: '{name}' is not a registered variant; "
                       f"registered: {available_variants()}")
    return _REGISTRY[name]


def variant_of(cfg: Any) -> VariantSpec:
    """The spec of ``cfg.trainer.variant``."""
    return get_variant(cfg.trainer.variant)


def synthetic_epochs(cfg: Any) -> int:
    """Synthetic epochs a run plans for (the scheduler's horizon): hybrid rounds count
    ``synthetic_epochs_per_round`` each after the warm start."""
    tr = cfg.trainer
    if not variant_of(cfg).hybrid:
        return int(tr.epochs)
    warm = min(int(tr.warmstart_epochs), int(tr.epochs))
    return warm + (int(tr.epochs) - warm) * int(tr.synthetic_epochs_per_round)


def with_params(arms: Iterable[str]) -> List[str]:
    """The arms among ``arms`` that learn physical parameters."""
    return [a for a in arms if get_variant(a).learns_params]
