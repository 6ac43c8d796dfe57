"""The checks of a composed config that need the models and registries.

:func:`check_problem` builds the physical model (cheap: nothing is traced or simulated) and
checks what only the model, the network and the arm know: the true and initial parameters are
valid for the scheme, the arm accepts the problem, the observed and input fields exist, no
learnable parameter is given to the network, the observation masks can be drawn, the device
exists, and the network fits the grid. Every entry point
calls it (through :func:`hyco.compose.compose_config`) before any compute or file write.
"""

from __future__ import annotations

from typing import Any

from omegaconf.errors import OmegaConfBaseException

from hyco.arms import ARMS, arm_of, available_arms, reconstruction_arms, static_arms
from hyco.config.schema import truth_physics
from hyco.core.devices import select_device
from hyco.data.generate import check_static, check_truth, observed_fields, truth_steps_per_frame
from hyco.data.observation import POINT_KINDS, ObservationOperator
from hyco.errors import ConfigError, ObservationError, PhysicsParameterError, ProblemRefused
from hyco.physics.ic import PRIORS
from hyco.physics.registry import build_physics
from hyco.synthetic.registry import NETWORKS
from hyco.training.networks import network_spec


def check_problem(cfg: Any) -> None:
    """Raise :class:`~hyco.errors.ConfigError` naming the key when the problem cannot run."""
    if cfg.data.ic.name not in PRIORS:
        raise ConfigError(f"data.ic.name: unknown initial-condition prior '{cfg.data.ic.name}'; "
                          f"registered: {PRIORS.names()} (conf/ic/)")
    arm = arm_of(cfg)
    unknown = [a for a in cfg.sweep.arms if a not in ARMS]
    if unknown:
        raise ConfigError(f"sweep.arms: unknown arm(s) {unknown}; registered: {available_arms()}")
    try:
        model = build_physics(cfg.physics, cfg.data.ic)
        model.validate_params(model.true_params())
    except PhysicsParameterError as err:
        raise ConfigError(f"physics.params: the true values are invalid — {err}") from None
    try:
        model.validate_params(model.initial_params())
    except PhysicsParameterError as err:
        raise ConfigError(f"physics.params: the initial guesses are invalid — {err}") from None
    model.check_learner()
    if model.time_dependent and int(cfg.data.num_frames) < 2:
        raise ConfigError(f"data.num_frames: must be >= 2 (an initial state and at least one frame), got "
                          f"{cfg.data.num_frames}")
    if not model.time_dependent and not arm.static:
        raise ProblemRefused(f"trainer.variant={arm.name}: the physics model '{cfg.physics.name}' is static (no time "
                             f"axis: one solution of its parameters, no initial state to roll out from), which this "
                             f"arm cannot train on; arms that run static problems: {static_arms()}")
    check_static(cfg, model)
    if arm.accepts is not None:
        try:
            arm.accepts(cfg, model)
        except ValueError as err:
            raise ProblemRefused(str(err)) from None
    if cfg.data.truth:  # the model that generates the data, when it is not the learner
        try:
            truth = build_physics(truth_physics(cfg), cfg.data.ic)
            truth.validate_params(truth.true_params())
        except PhysicsParameterError as err:
            raise ConfigError(f"data.truth: the truth's parameters are invalid — {err}") from None
        except OmegaConfBaseException as err:
            raise ConfigError(f"data.truth: not a physics config ({err})") from None
        check_truth(cfg, truth, model)
        truth_steps_per_frame(cfg)
    observed_fields(cfg, model)  # the observed fields exist (the rule generation applies)
    try:  # the masks generation will draw (sensor count against the cells of their region, ...)
        ObservationOperator(cfg.observation, tuple(model.converter.sample_shape), int(cfg.data.num_frames))
    except ObservationError as err:
        raise ConfigError(str(err)) from None
    select_device(str(cfg.device))  # cuda asked for where there is none: refused now, not after generation
    for name in cfg.data.static_fields:
        if name in model.static_fields:
            continue
        spec = model.param_specs.get(name)
        if spec is None:
            raise ConfigError(f"data.static_fields: '{name}' is neither a static field {list(model.static_fields)} "
                              f"nor a parameter {list(model.param_specs)} of '{cfg.physics.name}'")
        if spec.learnable:
            raise ConfigError(f"data.static_fields: '{name}' is a learnable parameter; giving the network its true "
                              f"value would leak what is being learned. Remove it, or set "
                              f"physics.params.{name}.learnable=false if it is known")
    check_reconstruction(cfg, arm)
    if "synthetic" in arm.trains:
        entry = NETWORKS.get(cfg.synthetic.name)
        spec = network_spec(cfg, model)
        if entry.check is not None:
            try:
                entry.check(spec, tuple(model.converter.sample_shape))
            except ValueError as err:
                raise ProblemRefused(str(err)) from None



def check_reconstruction(cfg: Any, arm: Any) -> None:
    """Scattered observations (a reconstruction problem) go with an arm that trains on them and,
    where a network trains, a neural field on one trajectory; grid observations with a grid
    network. A :class:`~hyco.errors.ProblemRefused` naming the keys otherwise."""
    spatial = str(getattr(cfg.observation.spatial, "value", cfg.observation.spatial))
    scattered = spatial in POINT_KINDS
    if scattered and not arm.reconstructs:
        raise ProblemRefused(f"trainer.variant={arm.name}: observation.spatial={spatial} gives scattered points of the "
                             f"training trajectories (a reconstruction problem), which this arm does not train on; "
                             f"arms that do: {reconstruction_arms()}")
    if "synthetic" not in arm.trains:
        return
    kind = NETWORKS.get(cfg.synthetic.name).kind
    if scattered and kind != "field":
        fields = [n for n in NETWORKS.names() if NETWORKS.get(n).kind == "field"]
        raise ProblemRefused(f"synthetic.name={cfg.synthetic.name}: scattered observations are reconstructed by a "
                             f"neural field (a network of kind 'field': {fields}); a grid forecaster cannot read them")
    if not scattered and kind == "field":
        raise ProblemRefused(f"synthetic.name={cfg.synthetic.name}: a neural field reconstructs scattered observations "
                             f"of one trajectory; with observation.spatial={spatial} choose a grid network, or "
                             f"observe with observation.spatial=lattice|tuples|uniform")
    if scattered and int(cfg.data.num_train) != 1:
        raise ProblemRefused(f"data.num_train={cfg.data.num_train}: a neural field (x, t) -> u reconstructs one "
                             f"trajectory; set data.num_train=1")
