"""Every error the platform raises on purpose, in one leaf module every layer may import.

Each class says what went wrong in terms a researcher can act on; the message names the culprit
(a config key, a file, a URL, a run id) and what to do. Entry points turn them into one or two
lines and an exit code (:data:`EXIT_CODES`, :func:`exit_code`; ``hyco/core/exits.py`` prints them);
anything else is a bug and keeps its traceback. ``docs/reliability.md`` documents the codes.

This module imports nothing: a low layer (config, physics, data) raises these without reaching up.
"""

from __future__ import annotations


class HycoError(Exception):
    """Base of the platform's deliberate errors."""


class ConfigError(HycoError, ValueError):
    """A configuration value is missing, of the wrong type or inconsistent; the message names the key."""


class ProblemRefused(ConfigError):
    """An arm (or a network) cannot run the configured problem, e.g. the PINN on a model without a
    continuous residual; refused before any compute."""


class PluginError(HycoError, RuntimeError):
    """A plug-in (entry point of the ``hyco.plugins`` group) failed to load or registered a clash."""


class PhysicsParameterError(HycoError, ValueError):
    """A physical parameter (or the step size it is used with) is invalid; the message names it."""


class PhysicsSolveError(HycoError, RuntimeError):
    """A numerical solve inside a model's step failed (e.g. a pressure solve whose residual is too
    large or not finite); the message names the step and the residual. Trainers that call a model
    inside an optimiser's callback (``math.minimize``) must not let it escape there."""


class ResidualNotDefined(HycoError, NotImplementedError):
    """The physical model does not state its PDE's continuous residual (the PINN cannot use it)."""


class ObservationError(HycoError, ValueError):
    """The observation operator's configuration does not fit the data it observes."""


class CacheError(HycoError, RuntimeError):
    """A data-cache entry is missing, incomplete, corrupt or of another format version; the
    message always says how to regenerate it."""


class CheckpointError(HycoError, RuntimeError):
    """A checkpoint is missing, corrupt, unsafe or of another format; the message says which file
    and what to do."""


class NonFiniteLossError(HycoError, FloatingPointError):
    """A loss became NaN/inf; the message names the optimisation step and the loss term."""


class DivergedError(HycoError, FloatingPointError):
    """A validation loss grew past the sweep's divergence factor times its first value."""


class RunStopped(HycoError):
    """Training was stopped on purpose before its end (e.g. pruned by a sweep's pruner).

    A tracked run ending with it is KILLED (not FAILED) and tagged ``hyco.stopped`` with the reason.
    """


class StoreError(HycoError, RuntimeError):
    """A tracking store or study storage (or a file system the platform writes) is unreachable,
    read-only or full; the message names the URL or file and what to do."""


class NotFoundError(HycoError, LookupError):
    """What the command asks for does not exist: a study to join or summarise, a run to evaluate."""


class EvaluationError(HycoError, FloatingPointError):
    """An evaluation gave non-finite scores for a run that already holds finite ones; nothing was
    logged over them."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM asked the process to stop (``hyco/core/exits.py`` installs the handler).

    A ``KeyboardInterrupt``, so every ``except KeyboardInterrupt`` clean-up (a run ending KILLED, a
    trial queued for its retry) treats Ctrl-C, ``kill``, ``timeout`` and ``scancel`` alike. The
    exit status is ``128 + signum`` (130 for SIGINT, 143 for SIGTERM), the shell's convention.
    """

    def __init__(self, signum: int = 2, message: str = "") -> None:
        super().__init__(message)
        self.signum = int(signum)
        self.message = message

    @property
    def signal_name(self) -> str:
        return {2: "SIGINT", 15: "SIGTERM", 1: "SIGHUP"}.get(self.signum, f"signal {self.signum}")

    def with_message(self, message: str) -> "Interrupted":
        """The same interruption, saying what was left behind (which run, which trial)."""
        return Interrupted(self.signum, message)


# ------------------------------------------------------------------------------------------------
# exit codes: one per class of failure, documented in docs/reliability.md
# ------------------------------------------------------------------------------------------------
EXIT_OK = 0
EXIT_INTERNAL = 1  # a bug: the traceback is printed
EXIT_CONFIG = 2  # the configuration (any key, Hydra's own errors, a search space): nothing was computed
EXIT_NOT_FOUND = 3  # a study or run the command names does not exist (summary_only, sweep.role=worker, evaluate)
EXIT_DATA = 4  # a data-cache entry or a checkpoint is damaged, foreign or missing
EXIT_STORE = 5  # the tracking store, the study storage or a file system is unreachable, read-only or full
EXIT_NUMERIC = 6  # training or evaluation produced NaN/inf, diverged, or a physics solve failed
EXIT_SIGNAL_BASE = 128  # interrupted: 128 + the signal (130 SIGINT / Ctrl-C, 143 SIGTERM)

#: error class -> exit status; the most specific class of an error wins (its MRO order)
EXIT_CODES = {
    ConfigError: EXIT_CONFIG,
    PluginError: EXIT_CONFIG,
    PhysicsParameterError: EXIT_CONFIG,
    ResidualNotDefined: EXIT_CONFIG,
    ObservationError: EXIT_CONFIG,
    NotFoundError: EXIT_NOT_FOUND,
    CacheError: EXIT_DATA,
    CheckpointError: EXIT_DATA,
    StoreError: EXIT_STORE,
    NonFiniteLossError: EXIT_NUMERIC,
    DivergedError: EXIT_NUMERIC,
    PhysicsSolveError: EXIT_NUMERIC,
    EvaluationError: EXIT_NUMERIC,
    RunStopped: EXIT_NUMERIC,
}

#: what each class is called on the console's one line
KINDS = {
    EXIT_CONFIG: "configuration error",
    EXIT_NOT_FOUND: "not found",
    EXIT_DATA: "data error",
    EXIT_STORE: "storage error",
    EXIT_NUMERIC: "numerical failure",
    EXIT_INTERNAL: "error",
}


def exit_code(err: BaseException) -> int:
    """The exit status of ``err``: its class's (:data:`EXIT_CODES`), ``128 + signum`` for an
    interruption, :data:`EXIT_INTERNAL` for anything else."""
    if isinstance(err, Interrupted):
        return EXIT_SIGNAL_BASE + err.signum
    if isinstance(err, KeyboardInterrupt):
        return EXIT_SIGNAL_BASE + 2
    for cls in type(err).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return EXIT_INTERNAL
