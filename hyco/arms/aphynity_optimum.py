"""The physical parameters APHYNITY's objective selects at its optimum, on a run's data states.

APHYNITY (Yin et al., ICLR 2021) trains ``θ`` and a correction ``F_a`` on ``λ·L_traj + ‖F_a‖²``. Let
the trajectory misfit reach zero (``λ`` grows without bound) and let the network take any value at
each data state: the rollout then fits the data exactly when ``F_p(X; θ) + F_a(X) = F(X)`` at the data
states ``X`` (``F`` the true right-hand side, here the truth model's), so ``F_a = F − F_p(θ)`` there
and what remains is

    θ° = argmin_θ  mean_X ‖F(X) − F_p(X; θ)‖²         (per point over (‖X‖ + 1e-5)² when normalised),

a least-squares fit of the incomplete physics to the complete one on the data. The paper's argument
makes this minimum-norm decomposition unique; it does not make ``θ°`` the truth ``θ*``: ``θ° = θ*``
only when the missing term is orthogonal, over the data, to how ``F_p`` moves with ``θ``. The
difference ``θ° − θ*`` is a bias no training budget removes; the distance from a run's ``θ`` to ``θ°``
is what its budget left. :func:`minimum_norm_fit` solves for ``θ°`` (the scalar learnable parameters,
L-BFGS in float64 on their relative change; the model's bounds are not imposed), and
:func:`correction_penalty` gives ``‖F_a‖²`` at any ``θ``, the curvature of the objective around ``θ°``
included. ``python experiments/aphynity_optimum.py`` runs it on the presets' data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence

import numpy as np
import torch

from hyco.arms.aphynity_forms import mean_squared_norm
from hyco.data.dataset import WindowDataset
from hyco.physics.base import PhysicalModel


@dataclass(frozen=True)
class MinimumNormFit:
    """``θ°`` (:attr:`params`, the learnable scalars), the truth ``θ*``, and ``‖F_a‖²`` at both:
    :attr:`penalty` the minimum, :attr:`penalty_at_truth` the missing term's own mean square."""

    params: Dict[str, float]
    truth: Dict[str, float]
    penalty: float
    penalty_at_truth: float
    states: int

    @property
    def relative_errors(self) -> Dict[str, float]:
        """``|θ° − θ*| / |θ*|`` per parameter (absolute error where ``θ* = 0``)."""
        return {n: abs(v - self.truth[n]) / (abs(self.truth[n]) or 1.0) for n, v in self.params.items()}

    @property
    def percent_error(self) -> float:
        """APHYNITY's %Err of ``θ°``: the mean relative error × 100."""
        return 100.0 * float(np.mean(list(self.relative_errors.values())))


def window_states(windows: WindowDataset) -> torch.Tensor:
    """Every data state of every training window, ``[N, C_in, *s]`` float64: each window's initial
    state and its targets, with its static inputs (the states APHYNITY's penalty averages over; a
    frame shared by overlapping windows counts once per window, as in training). The optimum is
    defined on fully observed data: a window with an unobserved target is refused."""
    states = []
    for i in range(len(windows)):
        initial, targets, masks = windows[i]
        if not bool((masks > 0).all()):
            raise ValueError(f"training window {i} has unobserved targets: the minimum-norm optimum is stated for "
                             "fully observed data (observation=full)")
        channels = targets.shape[1]
        frames = torch.cat([initial[None, :channels], targets], dim=0)
        if initial.shape[0] > channels:  # the static inputs, repeated over the window's frames
            static = initial[None, channels:].expand(frames.shape[0], *initial[channels:].shape)
            frames = torch.cat([frames, static], dim=1)
        states.append(frames)
    return torch.cat(states, dim=0).double()


def _scalar_values(model: PhysicalModel, overrides: Optional[Mapping[str, torch.Tensor]] = None) -> Dict:
    """The model's parameters at their true values (float64 scalars; other kinds as the model
    builds them), with ``overrides`` in place."""
    specs = model.param_specs
    fields = model.true_params() if any(s.kind != "scalar" for s in specs.values()) else {}  # built only if needed
    values: Dict[str, object] = {name: torch.tensor(float(spec.true_value), dtype=torch.float64)
                                 if spec.kind == "scalar" else fields[name] for name, spec in specs.items()}
    values.update(overrides or {})
    return values


def _learnable(learner: PhysicalModel, names: Optional[Sequence[str]]) -> list:
    chosen = list(names) if names is not None else [n for n, s in learner.param_specs.items() if s.learnable]
    unknown = sorted(set(chosen) - set(learner.param_specs))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; the learner has {list(learner.param_specs)}")
    fields = [n for n in chosen if learner.param_specs[n].kind != "scalar"]
    if fields:
        raise ValueError(f"the minimum-norm fit solves for scalar parameters; {fields} are "
                         f"{[learner.param_specs[n].kind for n in fields]}")
    if not chosen:
        raise ValueError("the learner has no learnable parameter to fit")
    return chosen


def _check_models(truth: PhysicalModel, learner: PhysicalModel) -> None:
    for role, model in (("truth", truth), ("learner", learner)):
        if not model.has_derivative:
            raise ValueError(f"the {role} model '{model.name}' states no continuous right-hand side "
                             "(PhysicalModel.derivative), which the minimum-norm fit compares")
    if truth.dynamic_fields != learner.dynamic_fields:
        raise ValueError(f"truth and learner have different dynamic fields: {truth.dynamic_fields} "
                         f"against {learner.dynamic_fields}")
    if tuple(truth.resolution) != tuple(learner.resolution) or tuple(truth.dx) != tuple(learner.dx):
        raise ValueError(f"the truth runs on another grid ({list(truth.resolution)}, dx {list(truth.dx)}) than the "
                         f"learner ({list(learner.resolution)}, dx {list(learner.dx)}): the limit compares their "
                         "right-hand sides on one grid")


def correction_penalty(truth: PhysicalModel, learner: PhysicalModel, states: torch.Tensor,
                       values: Mapping[str, float], normalise: bool) -> float:
    """``‖F_a‖²`` with ``F_a = F − F_p(θ)`` at ``states`` (module docstring), the learner's
    parameters at their truth except ``values``."""
    _check_models(truth, learner)
    with torch.no_grad():
        target = truth.tensor_derivative(_scalar_values(truth))(states)
        chosen = {n: torch.tensor(float(v), dtype=torch.float64) for n, v in values.items()}
        physics = learner.tensor_derivative(_scalar_values(learner, chosen))(states)
        channels = target.shape[1]
        return float(mean_squared_norm(target - physics, states, channels, normalise))


def minimum_norm_fit(truth: PhysicalModel, learner: PhysicalModel, states: torch.Tensor, normalise: bool,
                     learnable: Optional[Sequence[str]] = None, iterations: int = 200) -> MinimumNormFit:
    """``θ°`` of the learner's learnable scalars (or ``learnable``) on ``states [N, C_in, *s]``
    (module docstring): the truth model's right-hand side at its true parameters is ``F``."""
    _check_models(truth, learner)
    names = _learnable(learner, learnable)
    states = states.double()
    with torch.no_grad():
        target = truth.tensor_derivative(_scalar_values(truth))(states)
    channels = target.shape[1]
    centre = {n: float(learner.param_specs[n].true_value) for n in names}
    scale = {n: abs(v) or 1.0 for n, v in centre.items()}
    delta = torch.zeros(len(names), dtype=torch.float64, requires_grad=True)

    def penalty(d: torch.Tensor) -> torch.Tensor:
        chosen = {n: centre[n] + scale[n] * d[i] for i, n in enumerate(names)}
        physics = learner.tensor_derivative(_scalar_values(learner, chosen))(states)
        return mean_squared_norm(target - physics, states, channels, normalise)

    optimiser = torch.optim.LBFGS([delta], lr=1.0, max_iter=iterations, history_size=20, tolerance_grad=1e-14,
                                  tolerance_change=1e-18, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = penalty(delta)
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        minimum = float(penalty(delta))
        at_truth = float(penalty(torch.zeros_like(delta)))
    params = {n: centre[n] + scale[n] * float(delta[i].detach()) for i, n in enumerate(names)}
    return MinimumNormFit(params=params, truth=centre, penalty=minimum, penalty_at_truth=at_truth,
                          states=int(states.shape[0]))
