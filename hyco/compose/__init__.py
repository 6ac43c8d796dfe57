"""A run's configuration, composed and checked against the registries: Hydra composition with
every arm's and network's node (:mod:`hyco.compose.composition`) and the checks that need the
physical model, the network and the arm (:mod:`hyco.compose.checks`)."""

from hyco.compose.checks import check_problem
from hyco.compose.composition import (
    bootstrap,
    check_shared_overrides,
    compose_config,
    load_run_config,
    network_nodes,
    overrides_for_arm,
)

__all__ = ["bootstrap", "check_problem", "check_shared_overrides", "compose_config", "load_run_config", "network_nodes",
           "overrides_for_arm"]
