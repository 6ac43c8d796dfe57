"""Network checkpoints that rebuild their network: the weights travel with the spec they fit.

Format 2 (this release): ``{"format": 2, "network": NetworkSpec.to_dict(), "model": state_dict,
...}`` plus whatever the trainer adds (optimiser, scheduler, counters, RNG state). A checkpoint
without ``format``/``network`` was written before networks carried their spec; it is refused with
a message saying to retrain (its run's config alone could rebuild it, but no code path relies on
that any more).
"""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Tuple

import torch
from torch import nn

from hyco.core.checkpoints import load_checkpoint
from hyco.errors import CheckpointError
from hyco.synthetic.registry import NetworkSpec

NETWORK_CHECKPOINT_FORMAT = 2


def network_header(spec: NetworkSpec) -> Dict[str, Any]:
    """The entries a checkpoint needs to rebuild its network (merged into the trainer's state)."""
    return {"format": NETWORK_CHECKPOINT_FORMAT, "network": spec.to_dict()}


def spec_of(state: Mapping[str, Any], path: os.PathLike[str] | str) -> NetworkSpec:
    """The network spec a loaded checkpoint carries; :class:`CheckpointError` if it carries none."""
    if state.get("format") != NETWORK_CHECKPOINT_FORMAT or "network" not in state:
        raise CheckpointError(
            f"checkpoint {path} has format {state.get('format')!r}, this release reads network checkpoints of "
            f"format {NETWORK_CHECKPOINT_FORMAT} (they carry the network's spec); retrain the run with this release")
    return NetworkSpec.from_dict(state["network"])


def load_network(path: os.PathLike[str] | str, map_location: str | torch.device = "cpu") -> nn.Module:
    """The trained network of a checkpoint, rebuilt from its spec, in eval mode."""
    return load_network_and_spec(path, map_location)[0]


def load_network_and_spec(path: os.PathLike[str] | str,
                          map_location: str | torch.device = "cpu") -> Tuple[nn.Module, NetworkSpec]:
    """:func:`load_network` and the spec it was rebuilt from (its kind: a forecaster or a field)."""
    state = load_checkpoint(path, map_location=map_location)
    spec = spec_of(state, path)
    network = spec.build()
    try:
        network.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as err:
        raise CheckpointError(f"checkpoint {path}: its weights do not fit the network it describes ({err}); "
                              "it is corrupt or was edited — retrain") from err
    return network.to(map_location).eval(), spec
