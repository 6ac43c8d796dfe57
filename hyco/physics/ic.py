"""Initial-condition priors: seeded random initial states, one registered function per kind.

``data.ic.name`` picks the prior (config group ``conf/ic/``, schema ``InitialConditionConfig``);
the same prior draws the data's initial conditions and HYCO's ghost initial conditions
(``trainer.ghost_kind=prior``). A prior returns ``{field: [B, C, *field_shape]}`` float64 arrays
in the converter's layout for every field of the model (dynamic and static); entry ``i`` depends
on ``seeds[i]`` only. A new prior is one decorated function here.

Seeds: field number ``j`` of a state (in the model's field order) draws from ``seed`` itself for
``j = 0`` and from ``SeedSequence([seed, j])`` otherwise, so adding a field never changes the
first field's draws.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Sequence

import numpy as np

from hyco.core.registry import Registry
from hyco.errors import ConfigError
from hyco.physics.profiles import smooth_random_components

if TYPE_CHECKING:  # pragma: no cover
    from hyco.physics.base import PhysicalModel

ICPrior = Callable[["PhysicalModel", Sequence[int], Mapping[str, Any]], Dict[str, np.ndarray]]
#: priors registered here and by plug-ins (their modules register on import)
PRIORS: Registry[ICPrior] = Registry("initial-condition prior", key="data.ic.name")


def register_ic(name: str) -> Callable[[ICPrior], ICPrior]:
    """Function decorator: make a prior available as ``data.ic.name=<name>``."""
    return PRIORS.register(name)


def available_priors() -> List[str]:
    return PRIORS.names()


def sample_prior(model: "PhysicalModel", seeds: Sequence[int], cfg: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """Draw one initial state per seed with the prior ``cfg['name']``."""
    return PRIORS.get(str(cfg.get("name", "fourier")))(model, [int(s) for s in seeds], cfg)


def field_rng(seed: int, field_index: int) -> np.random.Generator:
    """The random stream of one field of one initial state (see the module docstring)."""
    return np.random.default_rng(seed if field_index == 0 else np.random.SeedSequence([seed % (1 << 63), field_index]))


def _field_seed(seed: int, field_index: int) -> int:
    return seed if field_index == 0 else int(field_rng(seed, field_index).integers(0, 2**62))


# ------------------------------------------------------------------------------------------------
# priors
# ------------------------------------------------------------------------------------------------
@register_ic("fourier")
def fourier_prior(model: "PhysicalModel", seeds: Sequence[int], cfg: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """Smooth periodic random fields: ``offset + sum_k a_k |k|^-decay cos(2 pi k.x / L + phi_k)``
    over wave vectors with ``|k_i| <= max_wavenumber``, scaled so that ``max |u| = amplitude``
    (vector norm) at the cell centres (:func:`~hyco.physics.profiles.smooth_random_components`).
    Staggered fields sample the same function at their faces."""
    kmax, decay = int(cfg.get("max_wavenumber", 4)), float(cfg.get("decay", 1.0))
    amplitude, offset = float(cfg.get("amplitude", 1.0)), float(cfg.get("offset", 0.0))
    centres = np.stack(model.cell_centres(), -1)
    out: Dict[str, np.ndarray] = {}
    for j, spec in enumerate(model.field_specs):
        points = model.sample_points(spec.name)
        arrays = []
        for s in seeds:
            if spec.kind == "vector":
                comps = smooth_random_components(_field_seed(s, j), points, centres, model.domain_size, kmax, decay,
                                                 amplitude)
            else:  # one random series, rescaled so that its own max |u| is the amplitude
                first = smooth_random_components(_field_seed(s, j), [centres] * model.dim, centres,
                                                 model.domain_size, kmax, decay, 1.0)[0]
                comps = [first * (amplitude / max(float(np.abs(first).max()), 1e-30))]
            arrays.append(np.stack([offset + c for c in comps], 0))
        out[spec.name] = model.pad_to_field(spec.name, np.stack(arrays, 0))
    return out


@register_ic("dirichlet_sines")
def dirichlet_sine_prior(model: "PhysicalModel", seeds: Sequence[int], cfg: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """Smooth random fields that vanish on the walls of the box: ``sum_k a_k |k|^-decay
    prod_d sin(k_d pi (x_d - lower_d) / L_d)`` with ``1 <= k_d <= max_wavenumber``, ``a ~ N(0, 1)``,
    scaled to ``max |u| = amplitude`` at the cell centres, plus ``offset``."""
    kmax, decay = int(cfg.get("max_wavenumber", 4)), float(cfg.get("decay", 1.0))
    amplitude, offset = float(cfg.get("amplitude", 1.0)), float(cfg.get("offset", 0.0))
    lower = model.domain_lower
    out: Dict[str, np.ndarray] = {}
    modes = np.stack(np.meshgrid(*[np.arange(1, kmax + 1)] * model.dim, indexing="ij"), -1).reshape(-1, model.dim)
    weights = np.linalg.norm(modes, axis=1) ** (-decay)
    for j, spec in enumerate(model.field_specs):
        points = model.sample_points(spec.name)
        arrays = []
        for s in seeds:
            rng = field_rng(s, j)
            comps = []
            for p in points:
                coef = rng.standard_normal(len(modes)) * weights

                def series(x: np.ndarray) -> np.ndarray:
                    basis = np.ones(x.shape[:-1] + (len(modes),))
                    for d in range(model.dim):
                        basis = basis * np.sin(np.pi * modes[:, d] * (x[..., d:d + 1] - lower[d]) / model.domain_size)
                    return basis @ coef

                scale = amplitude / max(float(np.abs(series(np.stack(model.cell_centres(), -1))).max()), 1e-30)
                comps.append(offset + scale * series(p))
            arrays.append(np.stack(comps, 0))
        out[spec.name] = model.pad_to_field(spec.name, np.stack(arrays, 0))
    return out


@register_ic("spots")
def spot_prior(model: "PhysicalModel", seeds: Sequence[int], cfg: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """Reaction-diffusion seeds (Pearson 1993): every scalar field at its ``base`` value (the first
    field 1, the others 0) with ``num_spots`` random squares of edge ``spot_size * L`` where the
    first field is 0.5 and the others 0.25, plus uniform noise of ``±noise``."""
    count, size, noise = int(cfg.get("num_spots", 4)), float(cfg.get("spot_size", 0.1)), float(cfg.get("noise", 0.01))
    centres = model.cell_centres()
    lower = model.domain_lower
    out: Dict[str, np.ndarray] = {}
    names = [s.name for s in model.field_specs]
    for s_index, s in enumerate(seeds):
        rng = field_rng(s, 0)
        inside = np.zeros(model.resolution, dtype=bool)
        for _ in range(count):
            corner = rng.uniform(0.0, 1.0 - size, model.dim) * model.domain_size
            box = np.ones(model.resolution, dtype=bool)
            for d in range(model.dim):
                rel = centres[d] - lower[d]
                box &= (rel >= corner[d]) & (rel < corner[d] + size * model.domain_size)
            inside |= box
        for j, name in enumerate(names):
            base, spot = (1.0, 0.5) if j == 0 else (0.0, 0.25)
            values = np.where(inside, spot, base) + noise * rng.uniform(-1.0, 1.0, model.resolution)
            out.setdefault(name, np.zeros((len(seeds), 1, *model.resolution)))[s_index, 0] = values
    return {n: model.pad_to_field(n, a) for n, a in out.items()}


@register_ic("blobs")
def blob_prior(model: "PhysicalModel", seeds: Sequence[int], cfg: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """Buoyant smoke at rest: every scalar field a sum of ``num_spots`` Gaussian blobs
    ``A_i exp(-|x - c_i|^2 / (w L)^2)`` (``w = spot_size``, ``A_i ~ U[0.5, 1] * amplitude``) with
    centres uniform in the box ``[centre_lower, centre_upper] L`` (fractions per axis, the last
    one up). The default, ``[0.2, 0.8] L`` across and ``[0.15, 0.45] L`` up, is the lower half:
    the smoke has room to rise before it reaches the lid. Every vector field (the velocity) zero.
    Smooth, non-negative, and the same function at every resolution.

    The buoyancy ``b`` acts only where there is smoke, so it is identifiable only where the
    training simulations carry smoke: with the default box the top eighth of the domain and the
    side strips see almost none (``conf/experiment/smoke.yaml`` widens it)."""
    count, width, amplitude = (int(cfg.get("num_spots", 3)), float(cfg.get("spot_size", 0.08)),
                               float(cfg.get("amplitude", 1.0)))
    if count < 1 or width <= 0:
        raise ConfigError(f"data.ic: blobs needs num_spots >= 1 and spot_size > 0, got {count}, {width}")
    lower = [float(v) for v in cfg.get("centre_lower", [0.2, 0.15])]
    upper = [float(v) for v in cfg.get("centre_upper", [0.8, 0.45])]
    if len(lower) != model.dim or len(upper) != model.dim or not all(0 <= a <= b <= 1 for a, b in zip(lower, upper)):
        raise ConfigError(f"data.ic: blobs needs centre_lower and centre_upper with {model.dim} fractions each, "
                          f"0 <= lower <= upper <= 1 per axis; got {lower} and {upper}")
    centres = [c - lo for c, lo in zip(model.cell_centres(), model.domain_lower)]
    span = list(zip(lower, upper))
    out: Dict[str, np.ndarray] = {}
    for j, spec in enumerate(model.field_specs):
        shape = (len(seeds), spec.channels(model.dim), *spec.sample_shape(model.resolution))
        arrays = np.zeros(shape)
        if spec.kind == "scalar":
            for i, s in enumerate(seeds):
                rng = field_rng(s, j)
                total = np.zeros(model.resolution)
                for _ in range(count):
                    c = [rng.uniform(lo, hi) * model.domain_size for lo, hi in span]
                    r2 = sum((x - ci) ** 2 for x, ci in zip(centres, c))
                    total += rng.uniform(0.5, 1.0) * amplitude * np.exp(-r2 / (width * model.domain_size) ** 2)
                arrays[i, 0] = total
        out[spec.name] = arrays
    return out


@register_ic("uniform")
def uniform_prior(model: "PhysicalModel", seeds: Sequence[int], cfg: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """Independent uniform noise ``U[low, high]`` in every cell of every field (APHYNITY's
    reaction–diffusion: ``U[0, 1]``); a state without spatial axes draws one value per field."""
    low, high = float(cfg.get("low", 0.0)), float(cfg.get("high", 1.0))
    if not low <= high:
        raise ConfigError(f"data.ic: uniform needs low <= high, got {low} and {high}")
    out: Dict[str, np.ndarray] = {}
    for j, spec in enumerate(model.field_specs):
        shape = (spec.channels(model.dim), *spec.sample_shape(model.resolution))
        draws = [field_rng(s, j).uniform(low, high, shape) for s in seeds]
        out[spec.name] = model.pad_to_field(spec.name, np.stack(draws, 0))
    return out


@register_ic("gaussian_bump")
def gaussian_bump_prior(model: "PhysicalModel", seeds: Sequence[int], cfg: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """One Gaussian bump ``amplitude · exp(−|x − c|² / s)`` in the first field, every other field
    zero (APHYNITY's damped wave: the displacement a bump, the velocity at rest). The centre ``c``
    is uniform in the box ``[centre_lower, centre_upper] · L`` (fractions per axis), the spread
    ``s`` uniform in ``[spread_lower, spread_upper]`` (a squared length: the paper's "std",
    ``U[10, 100]`` with unit cells)."""
    amplitude = float(cfg.get("amplitude", 1.0))
    s_lo, s_hi = float(cfg.get("spread_lower", 10.0)), float(cfg.get("spread_upper", 100.0))
    lower = [float(v) for v in cfg.get("centre_lower", [0.25] * model.dim)]
    upper = [float(v) for v in cfg.get("centre_upper", [0.75] * model.dim)]
    if model.dim == 0:
        raise ConfigError("data.ic: gaussian_bump needs spatial axes; this model's state has none")
    if len(lower) != model.dim or len(upper) != model.dim or not all(0 <= a <= b <= 1 for a, b in zip(lower, upper)):
        raise ConfigError(f"data.ic: gaussian_bump needs centre_lower and centre_upper with {model.dim} fractions "
                          f"each, 0 <= lower <= upper <= 1 per axis; got {lower} and {upper}")
    if not 0 < s_lo <= s_hi:
        raise ConfigError(f"data.ic: gaussian_bump needs 0 < spread_lower <= spread_upper, got {s_lo} and {s_hi}")
    centres = model.cell_centres()
    out: Dict[str, np.ndarray] = {}
    for j, spec in enumerate(model.field_specs):
        arrays = np.zeros((len(seeds), spec.channels(model.dim), *spec.sample_shape(model.resolution)))
        if j == 0:
            for i, s in enumerate(seeds):
                rng = field_rng(s, 0)
                c = [model.domain_lower[d] + rng.uniform(lo, hi) * model.domain_size
                     for d, (lo, hi) in enumerate(zip(lower, upper))]
                spread = rng.uniform(s_lo, s_hi)
                r2 = sum((x - ci) ** 2 for x, ci in zip(centres, c))
                arrays[i, 0] = amplitude * np.exp(-r2 / spread)
        out[spec.name] = model.pad_to_field(spec.name, arrays)
    return out


@register_ic("annulus")
def annulus_prior(model: "PhysicalModel", seeds: Sequence[int], cfg: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """The whole state vector (one value per field) at a random radius ``U[radius_lower,
    radius_upper]`` in a random direction, the same in every cell (APHYNITY's pendulum:
    ``(θ, θ_t)`` with the direction of a point uniform in ``[−1, 1]²`` and radius ``U[1.3, 2.3]``)."""
    r_lo, r_hi = float(cfg.get("radius_lower", 1.3)), float(cfg.get("radius_upper", 2.3))
    if not 0 <= r_lo <= r_hi:
        raise ConfigError(f"data.ic: annulus needs 0 <= radius_lower <= radius_upper, got {r_lo} and {r_hi}")
    specs = list(model.field_specs)
    if any(s.kind != "scalar" for s in specs):
        raise ConfigError("data.ic: annulus draws one number per field; this model has vector fields")
    vectors = []
    for s in seeds:
        rng = field_rng(s, 0)
        direction = rng.uniform(-1.0, 1.0, len(specs))
        vectors.append(direction / max(float(np.linalg.norm(direction)), 1e-30) * rng.uniform(r_lo, r_hi))
    out: Dict[str, np.ndarray] = {}
    for j, spec in enumerate(specs):
        shape = (len(seeds), 1, *spec.sample_shape(model.resolution))
        out[spec.name] = np.broadcast_to(np.asarray([v[j] for v in vectors]).reshape(
            (len(seeds),) + (1,) * (len(shape) - 1)), shape).copy()
    return out


# ------------------------------------------------------------------------------------------------
# deterministic states: every seed gives the same one (a single trajectory, as the papers observe)
# ------------------------------------------------------------------------------------------------
@register_ic("bumps")
def bump_state(model: "PhysicalModel", seeds: Sequence[int], cfg: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """Every scalar field ``sum_j amplitudes[j] exp(-|x - centres[j]|^2 / width^2)`` with absolute
    centres (the heat papers' ``-exp(-|x + (1,1)|^2) + exp(-|x - (1,1)|^2)``); vector fields zero.
    The same state for every seed."""
    centres = [list(map(float, c)) for c in cfg.get("centres") or []]
    amplitudes = [float(a) for a in cfg.get("amplitudes") or []]
    width = float(cfg.get("width", 1.0))
    if not centres or len(centres) != len(amplitudes) or any(len(c) != model.dim for c in centres) or width <= 0:
        raise ConfigError(f"data.ic: bumps needs as many centres ({model.dim} coordinates each) as amplitudes "
                          f"and a width > 0; got centres {centres}, amplitudes {amplitudes}, width {width}")
    points = np.stack(model.cell_centres(), -1)
    value = sum(a * np.exp(-((points - np.asarray(c)) ** 2).sum(-1) / width ** 2) for c, a in zip(centres, amplitudes))
    return _same_for_every_seed(model, seeds, {s.name: value for s in model.field_specs if s.kind == "scalar"})


@register_ic("disc")
def disc_state(model: "PhysicalModel", seeds: Sequence[int], cfg: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """Field ``j`` (in the model's field order) ``inside[j]`` within ``radius`` of ``centre``
    (absolute coordinates; empty: the domain's centre) and ``outside[j]`` elsewhere: Gray–Scott's
    seed (``u = v = 0.5`` in a disc, ``u = 1``, ``v = 0`` around it). The same state for every seed."""
    names = [s.name for s in model.field_specs if s.kind == "scalar"]
    inside, outside = list(cfg.get("inside") or []), list(cfg.get("outside") or [])
    lower = np.asarray(model.domain_lower)
    centre = [float(c) for c in cfg.get("centre") or list(lower + model.domain_size / 2)]
    radius = float(cfg.get("radius", 0.1))
    if len(inside) != len(names) or len(outside) != len(names) or len(centre) != model.dim or radius <= 0:
        raise ConfigError(f"data.ic: disc needs inside and outside values for the fields {names}, a centre with "
                          f"{model.dim} fractions and a radius > 0; got inside {inside}, outside {outside}, "
                          f"centre {centre}, radius {radius}")
    points = np.stack(model.cell_centres(), -1)
    where = np.linalg.norm(points - np.asarray(centre), axis=-1) <= radius
    return _same_for_every_seed(model, seeds, {n: np.where(where, float(i), float(o))
                                               for n, i, o in zip(names, inside, outside)})


def _same_for_every_seed(model: "PhysicalModel", seeds: Sequence[int], values: Mapping[str, np.ndarray]
                         ) -> Dict[str, np.ndarray]:
    out = {}
    for spec in model.field_specs:
        shape = (len(seeds), spec.channels(model.dim), *spec.sample_shape(model.resolution))
        array = np.zeros(shape)
        if spec.name in values:
            array[:, 0] = values[spec.name]
        out[spec.name] = array
    return out
