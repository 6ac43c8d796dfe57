"""Configuration: the typed schema registered in Hydra's ConfigStore, what each key changes, and
the rules types cannot express (ranges, choices, cross-field rules).

``schema`` holds the dataclasses (one per config group), ``keys`` declares which keys change the
data, a run or a study, and ``validation`` checks a composed config before any compute. Nothing
here imports a model, a network or an arm: the checks that need them live in
:mod:`hyco.compose`.
"""

from hyco.config.schema import (  # noqa: F401
    DataConfig,
    EvaluationConfig,
    HycoConfig,
    InitialConditionConfig,
    ObservationConfig,
    ParamSpecConfig,
    PhysicsConfig,
    SweepConfig,
    SyntheticConfig,
    TrackingConfig,
    TrainerConfig,
    default_torch_threads,
    register_schema,
)
from hyco.config.validation import validate  # noqa: F401
