"""What each config key changes, declared once, with the reason beside it.

Every key of a composed config has one effect:

* ``data``: it changes the simulated, observed data, so also every run and study on them (the
  data cache key hashes exactly these keys);
* ``run``: it changes what a training run computes (the resume fingerprint: a crashed run is
  continued only by a command that agrees on every ``data`` and ``run`` key);
* ``trial``: it changes a run, but a sweep sets it per trial, so it does not change what a study
  is (the study fingerprint leaves it out);
* ``study``: it changes how a study scores its trials, not what a run trains;
* ``none``: where, how fast or how visibly something runs (tracking, threads, logging, progress,
  the cache folder); two commands that differ only here compute the same thing.

The most specific rule wins (``physics.params.*.initial_guess`` over ``physics``); ``*`` matches
one key segment. :func:`effect_of` answers for one dotted key; :func:`select` keeps the parts of a
plain config whose keys have the given effects. The cache key, the run fingerprint and the study
fingerprint all read this table, and a test fails on a schema key that no rule covers.

``device`` is ``none`` by decision: a run started on a GPU may be resumed on a CPU host and back
(checkpoints are loaded onto the current device and the CUDA RNG state is restored only where
CUDA exists); the continued run agrees with an uninterrupted one to floating-point round-off, not
bit for bit, which is what a device change costs anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional

EFFECTS = ("data", "run", "trial", "study", "none")
#: effects that each fingerprint covers
DATA_KEY = ("data",)
RUN_FINGERPRINT = ("data", "run", "trial")
STUDY_FINGERPRINT = ("data", "run", "study")


@dataclass(frozen=True)
class KeyRule:
    """``pattern`` (dotted, ``*`` for one segment) has ``effect``, because ``reason``."""

    pattern: str
    effect: str
    reason: str


RULES: List[KeyRule] = [
    # ---------------------------------------------------------------- what is simulated and observed
    KeyRule("physics", "data", "the PDE, its grid, time step and true parameters generate the data"),
    KeyRule("physics.jit_frames", "none", "how many frames one compiled trace steps: speed, not results"),
    KeyRule("physics.params.*.initial_guess", "run", "where a fit starts, not what the data are"),
    KeyRule("physics.params.*.initial_jitter", "run", "where a fit starts, not what the data are"),
    KeyRule("physics.params.*.initial_uniform", "run", "where a fit starts, not what the data are"),
    KeyRule("physics.params.*.learnable", "run", "which parameters a fit moves, not what the data are"),
    KeyRule("physics.params.*.smoothness", "run", "a prior of the fit, not part of the data"),
    KeyRule("data", "data", "how many simulations, of what length, from which initial-condition seeds"),
    KeyRule("data.generation_batch", "none", "simulations are generated independently of their batch"),
    KeyRule("data.cache_dir", "none", "where the cache lives, not what it holds"),
    KeyRule("data.regenerate", "none", "rebuilds the same entry"),
    KeyRule("data.max_cached_sims", "none", "memory held by the dataset, not its content"),
    KeyRule("data.static_fields", "run", "which known inputs the network receives, not the data"),
    KeyRule("observation", "data", "what of the truth is observed, where, and with what noise"),
    # ---------------------------------------------------------------- what a run trains
    KeyRule("synthetic", "run", "the network's architecture"),
    KeyRule("trainer", "run", "the arm and its optimisation"),
    KeyRule("trainer.resume", "none", "whether to continue a crashed run, not what it computes"),
    KeyRule("trainer.checkpoint_every", "none", "how often a run is checkpointed: a resumed run continues exactly"),
    KeyRule("seed", "trial", "the training seed; a sweep gives every trial its own"),
    KeyRule("experiment_name", "none", "a label: the experiment the run is filed under"),
    # ---------------------------------------------------------------- how a study scores
    KeyRule("evaluation", "study", "the held-out horizon scores the trials"),
    KeyRule("evaluation.reconstruction_every", "run",
            "how often a reconstruction run measures its network during training (its logged history)"),
    KeyRule("evaluation.run_id", "none", "which run to evaluate, given per call"),
    KeyRule("evaluation.figures", "none", "figures are pictures of the same numbers"),
    KeyRule("evaluation.num_snapshots", "none", "figures are pictures of the same numbers"),
    # ---------------------------------------------------------------- where and how it runs
    KeyRule("task", "none", "which stages run, not what each computes"),
    KeyRule("device", "none", "where a run computes (module docstring: a CPU host may resume a GPU run)"),
    KeyRule("torch_threads", "none", "how fast, not what"),
    KeyRule("log_level", "none", "what the console shows"),
    KeyRule("tracking", "none", "where runs are recorded"),
    KeyRule("sweep", "none", "the sweep's own settings; its study fingerprint covers objective, arms and space itself"),
]


def _matches(pattern: str, key: str) -> Optional[int]:
    """Specificity of ``pattern`` for ``key`` (its segment count) if it covers the key, else None."""
    p, k = pattern.split("."), key.split(".")
    if len(p) > len(k):
        return None
    if all(a == "*" or a == b for a, b in zip(p, k)):
        return len(p) * 2 - sum(a == "*" for a in p)  # a literal segment beats a wildcard
    return None


def rule_of(key: str) -> Optional[KeyRule]:
    """The most specific rule covering the dotted ``key`` (None if no rule does)."""
    best, score = None, -1
    for rule in RULES:
        s = _matches(rule.pattern, key)
        if s is not None and s > score:
            best, score = rule, s
    return best


def effect_of(key: str) -> str:
    """The effect of the dotted ``key``; :class:`KeyError` for a key no rule covers."""
    rule = rule_of(key)
    if rule is None:
        raise KeyError(f"config key {key!r} has no declared effect (hyco/config/keys.py)")
    return rule.effect


def select(plain: Mapping[str, Any], effects: Iterable[str], prefix: str = "") -> Dict[str, Any]:
    """The parts of a plain config whose keys have one of ``effects`` (nested as in ``plain``;
    empty branches and null nodes dropped). A value that is not a mapping is kept or dropped whole."""
    effects = tuple(effects)
    out: Dict[str, Any] = {}
    for key, value in plain.items():
        path = f"{prefix}{key}"
        if value is None:  # the node of an arm or network that does not run: absent
            continue
        if isinstance(value, Mapping) and value:
            sub = select(value, effects, path + ".")
            if sub:
                out[key] = sub
        elif effect_of(path) in effects:
            out[key] = value
    return out
