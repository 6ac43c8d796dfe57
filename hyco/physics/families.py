"""Parametric coefficient families: a field generated differentiably from a few scalars.

A physical parameter of ``kind: family`` is learned in a handful of interpretable scalars
``theta`` (amplitudes and centres of Gaussian bumps, say) rather than one value per cell; the
family maps ``theta`` to the field on the model's grid, differentiably, so the physical player fits
``theta`` through the solver. Configured per parameter::

    kappa:
      kind: family
      family: gaussian_bumps
      family_args: {count: 2, offset: 0.1, width: 1.0, clamp: [0.0, 2.5]}
      true_theta: [3.0, 2.5, 1.0, -2.0, 1.0, -2.0]       # A1 A2 x1 x2 y1 y2
      initial_theta: [1.0, 1.0, 1.4, -1.8, -1.3, -1.1]

Registered here: ``gaussian_bumps`` (``(offset + sum_i A_i exp(-|x - c_i|^2 / width^2))^power``, the
heat papers' kappa and, with ``power: 2``, the Helmholtz paper's eta) and ``softplus_sines`` (the
Darcy paper's ``mu0^2 + softplus(sum_{m,p} c_mp sin(2 pi m x / wavelength) sin(2 pi p y / wavelength))``).

A family also says how its scalars are optimised (``unconstrained``: amplitudes in log space when
``amplitude_space: log``) and how they are grouped for the papers' parameter error
(``p_error = sum over groups of ||theta_g - theta*_g|| / ||theta*_g||``). New families register
with :data:`FAMILIES` (this module's, or a plug-in's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Sequence

import numpy as np
import torch

from hyco.core.registry import Registry
from hyco.errors import ConfigError


@dataclass(frozen=True)
class Family:
    """One coefficient family.

    Attributes
    ----------
    names
        ``names(args, dim) -> [theta component names]``.
    field
        ``field(theta [k], coords [*grid, dim], args) -> [*grid]`` (torch, differentiable in theta).
    groups
        ``groups(args, dim) -> {group: [component indices]}`` for the parameter error.
    to_unconstrained, from_unconstrained
        ``theta -> z`` (numpy) and ``z -> theta`` (torch): the space the optimiser moves in.
    """

    name: str
    names: Callable[[Mapping[str, Any], int], List[str]]
    field: Callable[[torch.Tensor, torch.Tensor, Mapping[str, Any]], torch.Tensor]
    groups: Callable[[Mapping[str, Any], int], Dict[str, List[int]]]
    to_unconstrained: Callable[[np.ndarray, Mapping[str, Any], int], np.ndarray]
    from_unconstrained: Callable[[torch.Tensor, Mapping[str, Any], int], torch.Tensor]


FAMILIES: Registry[Family] = Registry("coefficient family", key="physics.params.<name>.family")


def register_family(family: Family) -> Family:
    return FAMILIES.add(family.name, family)


# ------------------------------------------------------------------------------------------------
# Gaussian bumps: (offset + sum_i A_i exp(-|x - c_i|^2 / width^2))^power, optionally clamped
# ------------------------------------------------------------------------------------------------
def _bump_args(args: Mapping[str, Any]) -> Dict[str, Any]:
    out = {"count": int(args.get("count", 1)), "offset": float(args.get("offset", 0.0)),
           "width": float(args.get("width", 1.0)), "clamp": args.get("clamp"),
           "amplitude_space": str(args.get("amplitude_space", "linear")), "power": int(args.get("power", 1))}
    if out["count"] < 1 or not out["width"] > 0 or out["amplitude_space"] not in ("linear", "log") \
            or out["power"] < 1:
        raise ConfigError(f"family_args of gaussian_bumps: need count >= 1, width > 0, amplitude_space linear|log, "
                          f"power >= 1; got {dict(args)}")
    if out["clamp"] is not None and (len(out["clamp"]) != 2 or not out["clamp"][0] <= out["clamp"][1]):
        raise ConfigError(f"family_args.clamp of gaussian_bumps: [low, high] with low <= high, got {out['clamp']}")
    return out


def _bump_names(args: Mapping[str, Any], dim: int) -> List[str]:
    n = _bump_args(args)["count"]
    axes = ("x", "y", "z")[:dim]
    return [f"A{i + 1}" for i in range(n)] + [f"{a}{i + 1}" for a in axes for i in range(n)]


def _bump_field(theta: torch.Tensor, coords: torch.Tensor, args: Mapping[str, Any]) -> torch.Tensor:
    a = _bump_args(args)
    n, dim = a["count"], coords.shape[-1]
    coords = coords.to(theta.dtype)
    out = torch.full(coords.shape[:-1], a["offset"], dtype=theta.dtype, device=theta.device)
    for i in range(n):
        centre = torch.stack([theta[n + d * n + i] for d in range(dim)])
        r2 = ((coords - centre) ** 2).sum(-1)
        out = out + theta[i] * torch.exp(-r2 / a["width"] ** 2)
    if a["power"] != 1:  # the Helmholtz paper's eta = (B exp(-|x - b|^2) + 1)^2
        out = out ** a["power"]
    if a["clamp"] is not None:
        out = torch.clamp(out, float(a["clamp"][0]), float(a["clamp"][1]))
    return out


def _bump_groups(args: Mapping[str, Any], dim: int) -> Dict[str, List[int]]:
    n = _bump_args(args)["count"]
    return {"amplitudes": list(range(n)), "centres": list(range(n, n + dim * n))}


def _bump_to_z(theta: np.ndarray, args: Mapping[str, Any], dim: int) -> np.ndarray:
    a = _bump_args(args)
    z = np.array(theta, dtype=np.float64)
    if a["amplitude_space"] == "log":
        if np.any(z[: a["count"]] <= 0):
            raise ConfigError(f"gaussian_bumps with amplitude_space: log needs positive amplitudes, got {list(theta)}")
        z[: a["count"]] = np.log(z[: a["count"]])
    return z


def _bump_from_z(z: torch.Tensor, args: Mapping[str, Any], dim: int) -> torch.Tensor:
    a = _bump_args(args)
    if a["amplitude_space"] == "log":
        return torch.cat([torch.exp(z[: a["count"]]), z[a["count"]:]])
    return z


GAUSSIAN_BUMPS = register_family(Family("gaussian_bumps", _bump_names, _bump_field, _bump_groups, _bump_to_z,
                                        _bump_from_z))


# ------------------------------------------------------------------------------------------------
# softplus of a sine series: mu0^2 + softplus(sum_k c_k prod_d sin(2 pi k_d x_d / wavelength))
# ------------------------------------------------------------------------------------------------
def _sines_args(args: Mapping[str, Any]) -> Dict[str, Any]:
    out = {"modes": int(args.get("modes", 3)), "wavelength": float(args.get("wavelength", 8.0))}
    if out["modes"] < 1 or not out["wavelength"] > 0:
        raise ConfigError(f"family_args of softplus_sines: need modes >= 1 and wavelength > 0; got {dict(args)}")
    return out


def _sines_modes(args: Mapping[str, Any], dim: int) -> List[tuple]:
    """The mode multi-indices ``(k_1, ..., k_dim)``, each in ``1..modes``, row-major (``c_mp``: ``m``
    along x, then ``p`` along y, as the authors' ``reshape(3, 3)``)."""
    import itertools

    return list(itertools.product(range(1, _sines_args(args)["modes"] + 1), repeat=dim))


def _sines_names(args: Mapping[str, Any], dim: int) -> List[str]:
    return ["mu0"] + ["c" + "".join(str(k) for k in mode) for mode in _sines_modes(args, dim)]


def _sines_field(theta: torch.Tensor, coords: torch.Tensor, args: Mapping[str, Any]) -> torch.Tensor:
    a = _sines_args(args)
    dim = coords.shape[-1]
    coords = coords.to(theta.dtype)
    waves = [[torch.sin(2.0 * math.pi * k * coords[..., d] / a["wavelength"]) for k in range(1, a["modes"] + 1)]
             for d in range(dim)]
    series = torch.zeros(coords.shape[:-1], dtype=theta.dtype, device=theta.device)
    for index, mode in enumerate(_sines_modes(args, dim)):
        term = theta[1 + index]
        for d, k in enumerate(mode):
            term = term * waves[d][k - 1]
        series = series + term
    return theta[0] ** 2 + torch.nn.functional.softplus(series)


def _sines_groups(args: Mapping[str, Any], dim: int) -> Dict[str, List[int]]:
    # the Darcy paper reports ||theta - theta*|| / ||theta*|| over all scalars: one group
    return {"theta": list(range(len(_sines_names(args, dim))))}


SOFTPLUS_SINES = register_family(Family(
    "softplus_sines", _sines_names, _sines_field, _sines_groups,
    lambda theta, args, dim: np.array(theta, dtype=np.float64), lambda z, args, dim: z))


# ------------------------------------------------------------------------------------------------
# the scores of a family parameter
# ------------------------------------------------------------------------------------------------
def theta_rel_error(theta: Sequence[float], truth: Sequence[float]) -> float:
    """``||theta - theta*|| / ||theta*||``."""
    t, s = np.asarray(theta, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    return float(np.linalg.norm(t - s) / max(np.linalg.norm(s), 1e-30))


def p_error(family: Family, args: Mapping[str, Any], dim: int, theta: Sequence[float],
            truth: Sequence[float]) -> float:
    """The papers' parameter error: the sum over the family's groups of each group's relative error
    (heat: ``||A - A*||/||A*|| + ||c - c*||/||c*||``, components compared by index)."""
    t, s = np.asarray(theta, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    total = 0.0
    for indices in family.groups(args, dim).values():
        total += float(np.linalg.norm(t[indices] - s[indices]) / max(np.linalg.norm(s[indices]), 1e-30))
    return total if math.isfinite(total) else math.nan


def family_metrics(model: Any, theta: Mapping[str, Sequence[float]]) -> Dict[str, float]:
    """Per learnable family parameter of ``model``: each scalar, the relative error of the scalars
    and the papers' grouped error, as ``param/<name>/...`` metrics; and the relative error of all
    of them together (``param/theta_rel_error``: the static papers' ``||theta - theta*|| /
    ||theta*||`` over the six Helmholtz scalars of kappa and eta), parameters in the model's order."""
    from hyco import metrics as M

    out: Dict[str, float] = {}
    ordered = [n for n in model.param_specs if n in theta]
    if ordered:
        out[M.PARAM_THETA_ERROR] = theta_rel_error(
            np.concatenate([np.asarray(theta[n], dtype=np.float64).ravel() for n in ordered]),
            np.concatenate([np.asarray(model.param_specs[n].true_theta, dtype=np.float64) for n in ordered]))
    for name, values in theta.items():
        spec = model.param_specs[name]
        family = FAMILIES.get(spec.family)
        for component, value in zip(model.theta_names(name), values):
            out[M.param_component(name, component)] = float(value)
        out[M.param_theta_error(name)] = theta_rel_error(values, spec.true_theta)
        out[M.param_p_error(name)] = p_error(family, spec.family_args, model.dim, values, spec.true_theta)
    return out
