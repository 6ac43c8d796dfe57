"""Deterministic spatial profiles of true parameter fields and smooth random fields.

Pure numpy (float64): models evaluate these at their sample points and hand the arrays to the
converter, so the same function is sampled on centered and staggered grids alike.

A parameter's true field is ``true_value * (1 + a * profile(x))`` (``profile_scale: relative``,
the default) or ``true_value + a * profile(x)`` (``additive``), with ``a = profile_amplitude``.
Profiles see coordinates relative to the domain's lower corner (``x in [0, L)``) except
``gaussians``, whose centres are absolute positions in the domain.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence

import numpy as np

PROFILES = ("constant", "sine", "sine_x", "bump", "gaussians")
_BUMP_SHARPNESS = 4.0  # von Mises bump exp(k (cos(.) - 1)): 1 at the centre, exp(-2k) opposite


def profile_values(profile: str, centres: Sequence[np.ndarray], domain_size: float,
                   origin: Sequence[float] = (), args: Optional[Mapping[str, Any]] = None) -> np.ndarray:
    """A profile at the given cell-centre coordinates (one array per axis, absolute positions).

    ``constant``: 0 (the field equals ``true_value``); ``sine``: ``prod_d sin(2 pi x_d / L)``;
    ``sine_x``: ``sin(2 pi x_0 / L)``, varying along the first axis only (constant in the others);
    ``bump``: periodic (von Mises) bump ``prod_d exp(k (cos(2 pi (x_d - L/2) / L) - 1))`` with
    ``k = 4`` — 1 at the domain centre, ``exp(-8)`` per axis at the boundary, smooth across it;
    ``gaussians``: ``sum_i A_i exp(-|x - c_i|^2 / w^2)`` with ``args = {centres: [[...], ...],
    amplitudes: [...], width: w}`` (absolute centres; ``width`` defaults to 1).
    ``origin`` is the domain's lower corner (default 0 on every axis).
    """
    origin = list(origin) or [0.0] * len(centres)
    out = np.ones(np.broadcast(*centres).shape)
    if profile == "constant":
        return 0.0 * out
    if profile == "gaussians":
        args = dict(args or {})
        points, amps = args.get("centres", []), args.get("amplitudes", [])
        if len(points) != len(amps) or any(len(c) != len(centres) for c in points):
            raise ValueError(f"profile 'gaussians': needs as many centres ({len(points)}) as amplitudes "
                             f"({len(amps)}), each with {len(centres)} coordinates")
        width = float(args.get("width", 1.0))
        total = 0.0 * out
        for c, a in zip(points, amps):
            r2 = sum((x - float(ci)) ** 2 for x, ci in zip(centres, c))
            total = total + float(a) * np.exp(-r2 / width ** 2)
        return total
    centres = [x - o for x, o in zip(centres, origin)]
    if profile == "sine_x":
        return out * np.sin(2 * np.pi * centres[0] / domain_size)
    for x in centres:
        phase = 2 * np.pi * x / domain_size
        out = out * (np.sin(phase) if profile == "sine" else np.exp(_BUMP_SHARPNESS * (np.cos(phase - np.pi) - 1)))
    return out


def fourier_modes(dim: int, max_wavenumber: int) -> np.ndarray:
    """Integer wave vectors ``k != 0`` with ``|k_i| <= max_wavenumber`` in a half space (``k`` and
    ``-k`` give the same real mode, so one of each pair): ``[M, dim]``."""
    axes = [np.arange(-max_wavenumber, max_wavenumber + 1)] * dim
    ks = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, dim)
    first = np.array([next((c for c in k if c != 0), 0) for k in ks])
    return ks[first > 0]


def smooth_random_components(
    seed: int,
    points: Sequence[np.ndarray],
    centres: np.ndarray,
    domain_size: float,
    max_wavenumber: int,
    decay: float,
    amplitude: float,
) -> List[np.ndarray]:
    """One random smooth vector field, sampled per component at its own points.

    ``u_c(x) = s * sum_k a_ck |k|^-decay cos(2 pi k.x / L + phi_ck)`` with ``a ~ N(0, 1)``,
    ``phi ~ U[0, 2 pi)`` drawn from ``numpy.random.default_rng(seed)`` and ``s`` such that
    ``max |u| = amplitude`` over the cell centres (``|u|`` the vector norm). ``points[c]`` are the
    ``[..., dim]`` coordinates where component ``c`` lives (cell centres or faces); because ``s``
    always comes from ``centres``, centered and staggered samples are the same function.
    """
    dim = centres.shape[-1]
    modes = fourier_modes(dim, max_wavenumber).astype(np.float64)
    rng = np.random.default_rng(seed)
    coef = rng.standard_normal((dim, len(modes))) * np.linalg.norm(modes, axis=1) ** (-decay)
    phase = rng.uniform(0.0, 2 * np.pi, (dim, len(modes)))

    def evaluate(c: int, x: np.ndarray) -> np.ndarray:
        arg = 2 * np.pi * (x @ modes.T) / domain_size + phase[c]  # [..., M]
        return np.cos(arg) @ coef[c]

    norm = np.sqrt(sum(evaluate(c, centres) ** 2 for c in range(dim)))
    scale = amplitude / max(float(norm.max()), 1e-30)
    return [scale * evaluate(c, points[c]) for c in range(dim)]
