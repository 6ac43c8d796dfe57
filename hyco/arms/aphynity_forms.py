"""APHYNITY's forecasters and correction penalties, in its two forms (the arm: :mod:`hyco.arms.aphynity`).

* **discrete** (the platform's first form): ``u_{t+1} = P_θ(u_t) + F_w(u_t)``, one physics step
  plus a network increment per frame; the penalty is the mean square of the increments along the
  rollout.
* **continuous** (the paper's, Yin et al., ICLR 2021): ``dX/dt = F_p(X; θ) + F_a(X)``, with
  ``F_p`` the model's continuous right-hand side (:meth:`~hyco.physics.base.PhysicalModel.derivative`)
  and ``F_a`` the network, integrated by classical RK4 over the whole window from ``X_0``
  (``steps_per_frame`` steps per frame; the same RK4 function as the model's own step, so that
  ``F_a = 0`` reproduces the physics bit for bit). The penalty is ``‖F_a‖²`` on the derivatives:
  per point the squared norm over the channels, averaged over the data states of the window (the
  paper evaluates ``F_a`` on the observed trajectory; unobserved entries take the prediction's
  value), divided per point by ``(‖X‖ + 1e-5)²`` when ``normalise`` (the paper's pendulum).

A residual network (``u + net(u)``, zero-initialised head) contributes its increment in both forms,
so an untrained one is ``F = 0`` exactly and the forecaster starts as the physical model.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

from hyco.physics.base import PhysicalModel
from hyco.physics.integrators import rk4
from hyco.synthetic.rollout import rollout

FORMS = ("discrete", "continuous")
_EPSILON = 1e-5  # the paper's guard in the normalised penalty


def correction(network: nn.Module, x: torch.Tensor, channels: int) -> torch.Tensor:
    """The network's correction at inputs ``x [B, C_in, *s]``: its output, or for a residual
    network its increment over the state (the first ``channels`` inputs)."""
    out = network(x)
    return out - x[:, :channels] if bool(getattr(network, "residual", False)) else out


def augmented_step(network: nn.Module, model: PhysicalModel, params: Dict[str, Any], channels: int,
                   norms: List[torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """The discrete step ``u_{t+1} = P_θ(u_t) + F_w(u_t)`` on inputs ``[B, C_in, *s]`` (dynamic
    fields, then static fields and known parameters: the physics receives its static fields, the
    network every input channel); each call appends the correction's mean square to ``norms``."""
    physics = model.tensor_step(params)

    def step(x: torch.Tensor) -> torch.Tensor:
        increment = correction(network, x, channels)
        norms.append(increment.square().mean())
        return physics(x).to(x.device) + increment

    return step


def discrete_forecast(network: nn.Module, model: PhysicalModel, params: Dict[str, Any], x0: torch.Tensor,
                      steps: int, channels: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Roll the discrete form out ``steps`` frames from ``x0 [B, C_in, *s]``: the frames
    ``[B, steps, C, *s]`` and the increments' mean square over the steps."""
    norms: List[torch.Tensor] = []
    static = x0[:, channels:] if x0.shape[1] > channels else None
    frames = rollout(augmented_step(network, model, params, channels, norms), x0[:, :channels], steps, static=static)
    return frames, torch.stack(norms).mean()


def continuous_forecast(network: Optional[nn.Module], model: PhysicalModel, params: Dict[str, Any],
                        x0: torch.Tensor, steps: int, channels: int, steps_per_frame: int) -> torch.Tensor:
    """Integrate ``dX/dt = F_p(X; θ) + F_a(X)`` by RK4 over ``steps`` frames of ``model.dt`` from
    ``x0 [B, C_in, *s]`` (static channels held fixed): the frames ``[B, steps, C, *s]``.
    ``network=None`` integrates ``F_p`` alone."""
    static = x0[:, channels:] if x0.shape[1] > channels else None
    physics = model.tensor_derivative(params)

    def inputs(x: torch.Tensor) -> torch.Tensor:
        return x if static is None else torch.cat([x, static.to(x.dtype)], dim=1)

    def rates(values: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        x = inputs(values["x"])
        f = physics(x).to(x.device)
        return {"x": f if network is None else f + correction(network, x, channels)}

    state = {"x": x0[:, :channels]}
    frames = []
    for _ in range(int(steps)):
        state = rk4(rates, state, model.dt, steps_per_frame)
        frames.append(state["x"])
    return torch.stack(frames, dim=1)


def derivative_penalty(network: nn.Module, x0: torch.Tensor, targets: torch.Tensor, masks: torch.Tensor,
                       predictions: torch.Tensor, channels: int, normalise: bool) -> torch.Tensor:
    """``‖F_a‖²`` over the window's data states (module docstring): ``x0 [B, C_in, *s]``, targets,
    masks and predictions ``[B, K, C, *s]``."""
    observed = torch.where(masks > 0, targets, predictions.detach())
    states = torch.cat([x0[:, None, :channels], observed], dim=1)  # [B, K+1, C, *s]
    flat = states.reshape(-1, *states.shape[2:])
    if x0.shape[1] > channels:  # the static inputs of each window, repeated over its frames
        static = x0[:, channels:].repeat_interleave(states.shape[1], dim=0)
        flat = torch.cat([flat, static], dim=1)
    return mean_squared_norm(correction(network, flat, channels), flat, channels, normalise)


def mean_squared_norm(corrections: torch.Tensor, states: torch.Tensor, channels: int, normalise: bool) -> torch.Tensor:
    """The mean over points of ``‖F_a‖²`` (summed over the channels) of ``corrections [N, C, *s]``
    at ``states [N, C_in, *s]``, each divided by ``(‖X‖ + 1e-5)²`` when ``normalise``."""
    squared = corrections.square().sum(dim=1)  # per point, over the channels
    if normalise:
        squared = squared / (states[:, :channels].square().sum(dim=1).sqrt() + _EPSILON).square()
    return squared.mean()
