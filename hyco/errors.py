"""Every error the platform raises on purpose, in one leaf module every layer may import.

Each class says what went wrong in terms a researcher can act on; the message names the culprit
(a config key, a file, a run id) and what to do. Entry points turn them into one or two lines and
an exit code (:data:`EXIT_CODES`); anything else is a bug and keeps its traceback.

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


class DerivativeNotDefined(HycoError, NotImplementedError):
    """The physical model does not state its continuous right-hand side ``F_p(X; θ)`` (APHYNITY's
    continuous form cannot integrate it)."""


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
