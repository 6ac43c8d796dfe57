"""The players most arms share, as they are loaded back from a run's checkpoints.

* :func:`synthetic_player`: the trained network (best checkpoint by validation loss, else the
  last), rebuilt from the spec its checkpoint carries, rolled out autoregressively.
* :func:`physical_player`: the physical model with the learned parameters of
  ``physical_params.json``, rolled out by the same rollout function; a static model's solution
  with those parameters, read at any point by interpolation (a query, like a neural field's).
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import torch

from hyco.arms.spec import Player, PlayerContext, TrainedPlayer
from hyco.core.checkpoints import first_existing, load_json_checkpoint
from hyco.synthetic.checkpoint import load_network_and_spec
from hyco.synthetic.registry import NETWORKS
from hyco.synthetic.rollout import rollout

PARAMS_FILE = "physical_params.json"
SYNTHETIC_BEST, SYNTHETIC_LAST = "synthetic_best.pt", "synthetic_last.pt"


def network_forecast(network: torch.nn.Module, channels: int):
    """``forecast(x0 [B, C_in, *s], steps)`` of a one-step network: channels beyond ``channels``
    (static inputs) are appended at every step."""

    def forecast(x0: torch.Tensor, steps: int) -> torch.Tensor:
        static = x0[:, channels:] if x0.shape[1] > channels else None
        with torch.no_grad():
            return rollout(network, x0[:, :channels], steps, static=static).cpu()

    return forecast


def physics_forecast(model, params) -> "callable":
    """``forecast(x0, steps)`` of the physical model with ``params`` (phiml tensors)."""
    channels = sum(model.channels.values())
    step = model.tensor_step(params)

    def forecast(x0: torch.Tensor, steps: int) -> torch.Tensor:
        static = x0[:, channels:] if x0.shape[1] > channels else None
        with torch.no_grad():
            return rollout(step, x0[:, :channels].to(model.device), steps,
                           static=None if static is None else static.to(model.device)).cpu()

    return forecast


def static_query(model, params):
    """``query(points [N, dim]) -> [N, C]``: a static model's solution for ``params``, solved once
    and read at the points by interpolation (the static papers' ``RegularGridInterpolator``)."""
    with torch.no_grad():
        solution = model.solve(params)

    def query(points: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model.read(solution, points.to(solution.device)).cpu()

    return query


def load_params(model, path) -> Dict[str, np.ndarray]:
    """The learned parameters of a ``physical_params.json`` file, as float32 arrays."""
    return {n: np.asarray(v, dtype=np.float32) for n, v in load_json_checkpoint(path)["params"].items()}


def field_query(network: torch.nn.Module):
    """``query(points [N, dim + 1]) -> [N, C]`` of a neural field, in chunks, without gradients."""

    def query(points: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            out = [network(chunk) for chunk in torch.split(points.float(), 65536)]
        return torch.cat(out) if out else torch.zeros(0, network.out_channels)

    return query


def synthetic_player(names: Sequence[str] = (SYNTHETIC_BEST, SYNTHETIC_LAST)) -> Player:
    """The network of the first existing checkpoint among ``names`` (best, else last): a forecaster
    rolled out, or a neural field queried at points."""

    def load(ctx: PlayerContext) -> Optional[TrainedPlayer]:
        path = first_existing(ctx.checkpoint_dir, names)
        if path is None:
            return None
        network, spec = load_network_and_spec(path)
        if NETWORKS.get(spec.name).kind == "field":
            return TrainedPlayer(None, query=field_query(network))
        return TrainedPlayer(network_forecast(network, sum(ctx.model.channels.values())))

    return Player("synthetic", load)


def physical_player(name: str = PARAMS_FILE) -> Player:
    """The physical model with the parameters of ``name`` (the physical trainer's file)."""

    def load(ctx: PlayerContext) -> Optional[TrainedPlayer]:
        path = ctx.checkpoint_dir / name
        if not path.is_file():
            return None
        learned = load_params(ctx.model, path)
        params = ctx.model.params_from_values({n: torch.from_numpy(v) for n, v in learned.items()})
        theta = {n: np.asarray(v, dtype=np.float64) for n, v in load_json_checkpoint(path).get("theta", {}).items()}
        if not ctx.model.time_dependent:  # a static solution: nothing to roll out, read at points
            return TrainedPlayer(None, learned, theta or None, query=static_query(ctx.model, params))
        return TrainedPlayer(physics_forecast(ctx.model, params), learned, theta or None)

    return Player("physical", load)
