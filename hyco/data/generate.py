"""Generate the ground-truth data set of a config, or find it in the cache.

``generate_dataset(cfg)`` is what ``task=generate`` runs (and what training calls first): it
computes the cache key, takes the key's lock, and either verifies and reuses a complete entry
(a *hit*, no simulation) or simulates ``num_train + num_val + num_test`` trajectories with the
true parameters, observes them and writes the entry (a *miss*).

Reproducibility: simulation ``i`` of a split starts from IC seed ``data.seed + offset[split] + i``
and its noise is seeded by ``observation.seed`` and that IC seed, so each simulation's arrays do
not depend on ``data.generation_batch`` or on which other simulations share its batch.

A static model (no time axis, :mod:`hyco.physics.static`) is solved once with the true parameters:
its "trajectory" is one frame, the solution, observed at scattered points; nothing of it is given
as known (there is no initial state).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from hyco.config.schema import truth_physics
from hyco.core.console import run_bars_enabled
from hyco.core.locks import clean_stale_locks
from hyco.core.plain import to_plain
from hyco.data.cache import (
    METADATA_FILE,
    SPLITS,
    CacheReader,
    CacheWriter,
    cache_key,
    cache_lock,
    cache_root,
    key_payload,
    library_versions,
    remove_entry,
)
from hyco.data.observation import POINT_KINDS, ObservationOperator
from hyco.data.points import extent_of, observe_points, resample
from hyco.errors import CacheError, ConfigError

logger = logging.getLogger(__name__)

# IC seeds of split s are data.seed + SEED_OFFSETS[s] + i: disjoint while a split has fewer sims
SEED_OFFSETS: Dict[str, int] = {"train": 0, "val": 100_000, "test": 200_000}
_MAX_PER_SPLIT = 100_000


@dataclass(frozen=True)
class GenerationResult:
    """Outcome of :func:`generate_dataset`.

    Attributes
    ----------
    path : Path
        The cache entry directory (open it with ``CacheReader(path)``).
    key : str
        The cache key.
    hit : bool
        True when a complete, verified entry existed and nothing was simulated.
    seconds : float
        Wall time of the call (verification on a hit, generation on a miss).
    """

    path: Path
    key: str
    hit: bool
    seconds: float


def split_seeds(data_cfg: Any) -> Dict[str, List[int]]:
    """The IC seeds of every split, in index order (disjoint across splits)."""
    seeds: Dict[str, List[int]] = {}
    for split in SPLITS:
        count = int(getattr(data_cfg, f"num_{split}"))
        if not 0 <= count < _MAX_PER_SPLIT:
            raise ConfigError(f"data.num_{split}: must be in [0, {_MAX_PER_SPLIT}), got {count}")
        base = int(data_cfg.seed) + SEED_OFFSETS[split]
        seeds[split] = [base + i for i in range(count)]
    return seeds


# ------------------------------------------------------------------------------------------------
# physics-dependent part: everything that touches PhiFlow is below, in three small functions
# ------------------------------------------------------------------------------------------------
def _build_model(cfg: Any) -> Any:
    """The model that generates the data: the learner's physics, or ``data.truth`` merged over it."""
    from hyco.physics import build_physics  # deferred: a cache hit never imports PhiFlow models

    # Always on the CPU: the cache key does not name a device, and the same key must hold the same
    # numbers on every machine (a GPU's reductions differ in the last bits).
    return build_physics(truth_physics(cfg), cfg.data.ic, device="cpu")


def _build_learner(cfg: Any) -> Any:
    """The learner's model (``physics``), on the CPU: its grid is the one the data are stored on."""
    from hyco.physics import build_physics

    return build_physics(cfg.physics, cfg.data.ic, device="cpu")


def truth_steps_per_frame(cfg: Any) -> int:
    """Steps of the truth model between two frames: the learner's frame interval ``physics.dt``
    over the truth's ``dt`` (1 when they are the same model); a ratio that is not a whole
    number is refused, naming the keys."""
    if not cfg.data.truth:
        return 1
    truth_dt, frame_dt = float(truth_physics(cfg).dt), float(cfg.physics.dt)
    ratio = frame_dt / truth_dt
    steps = int(round(ratio))
    if steps < 1 or abs(ratio - steps) > 1e-6 * ratio:
        raise ConfigError(f"data.truth.dt: the learner's frame interval physics.dt={frame_dt:g} must be a whole "
                          f"number of truth steps of {truth_dt:g} (got {ratio:.6g})")
    return steps


def check_truth(cfg: Any, truth: Any, learner: Any) -> None:
    """The truth model must describe the learner's state (the same fields) on the same domain;
    on another grid, its fields must be scalars or centred vectors (they are resampled)."""
    if list(truth.field_names) != list(learner.field_names):
        raise ConfigError(f"data.truth: the truth model has the fields {list(truth.field_names)}, the learner "
                          f"{list(learner.field_names)}; they must describe the same state")
    def box(m: Any) -> tuple:
        return getattr(m, "node_box", (m.domain_origin, m.domain_size))

    if not np.allclose(box(truth), box(learner)) or truth.dim != learner.dim:
        raise ConfigError(f"data.truth: the truth's domain {box(truth)} differs from the learner's {box(learner)}")
    if truth.converter.sample_shape != learner.converter.sample_shape and (
            any(s.grid == "staggered" and s.kind == "vector" for s in truth.field_specs) or truth.static_fields):
        raise ConfigError("data.truth: a truth on another grid is resampled onto the learner's, which needs centred "
                          "fields and no static inputs")


def _states_to_numpy(model: Any, state: Dict[str, Any]) -> Dict[str, np.ndarray]:
    """One state of a batch -> ``{field: [B, C, *spatial]}`` float32 numpy arrays."""
    arrays = model.converter.to_numpy(state)
    return {name: np.asarray(arrays[name], dtype=np.float32) for name in model.field_names}


def simulate(model: Any, params: Dict[str, Any], seeds: Sequence[int], num_frames: int,
             every: int = 1) -> Dict[str, np.ndarray]:
    """Roll out one batch of ICs, a frame every ``every`` steps: ``{dynamic field: [B, T, C,
    *spatial]}`` and ``{static field: [B, C, *spatial]}``, float32.

    Entry ``i`` depends only on ``seeds[i]`` (the model's ``initial_state`` contract). A static
    model's one frame is its solution (the same for every entry).
    """
    if not model.time_dependent:
        import torch

        with torch.no_grad():
            solution = model.solve(params, dtype=torch.float64).cpu().numpy().astype(np.float32)
        slices = model.converter.channel_slices(model.dynamic_fields)
        return {name: np.repeat(solution[slices[name]][None, None], len(seeds), axis=0)
                for name in model.dynamic_fields}
    state = model.initial_state(len(seeds), list(seeds))
    frames = model.rollout(state, params, num_frames - 1, every=every)
    if len(frames) != num_frames:
        raise RuntimeError(f"rollout returned {len(frames)} frames, expected {num_frames}")
    per_frame = [_states_to_numpy(model, s) for s in frames]
    out = {name: np.stack([f[name] for f in per_frame], axis=1) for name in model.dynamic_fields}
    out.update({name: per_frame[0][name] for name in model.static_fields})
    return out


def check_static(cfg: Any, model: Any) -> None:
    """A static model (no time axis) has one frame, one solution and nothing held out: refuse
    another number of frames or simulations, naming the keys."""
    if model.time_dependent:
        return
    if int(cfg.data.num_frames) != 1:
        raise ConfigError(f"data.num_frames={cfg.data.num_frames}: the physics model '{cfg.physics.name}' is static "
                          "(no time axis): its data are one frame, the solution; set data.num_frames=1")
    counts = (int(cfg.data.num_train), int(cfg.data.num_val), int(cfg.data.num_test))
    if counts != (1, 0, 0):
        raise ConfigError(f"data.num_train/num_val/num_test={list(counts)}: a static problem has one solution to "
                          "reconstruct and no held-out simulation; set data.num_train=1 data.num_val=0 "
                          "data.num_test=0")
    spatial = str(getattr(cfg.observation.spatial, "value", cfg.observation.spatial))
    if spatial not in POINT_KINDS:
        raise ConfigError(f"observation.spatial={spatial}: a static problem is observed at scattered points "
                          f"({' | '.join(POINT_KINDS)})")


def reference_grid(model: Any, nodes: int) -> Tuple[np.ndarray, List[float], List[float]]:
    """``nodes`` points per axis from the box's lower to its upper corner: ``([*shape, dim], first,
    spacing)`` (the static papers' 50 x 50 evaluation grid)."""
    lower, size = getattr(model, "node_box", (model.domain_origin, model.domain_size))
    axes = [np.linspace(lower, lower + size, int(nodes)) for _ in range(model.dim)]
    return (np.stack(np.meshgrid(*axes, indexing="ij"), -1), [float(lower)] * model.dim,
            [float(size) / (int(nodes) - 1)] * model.dim)


def read_truth(model: Any, name: str, own: np.ndarray, times: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The truth's frames ``own [T, C, *own grid]`` at the positions ``points [*shape, dim]``:
    ``[T, C, *shape]``, exactly where the model knows its solution in closed form
    (``exact_values``), else by multilinear interpolation of its grid."""
    flat = points.reshape(-1, points.shape[-1])
    exact = [model.exact_values(flat, float(t)) for t in times]
    if all(e is not None for e in exact):
        return np.stack([e.T.reshape(-1, *points.shape[:-1]) for e in exact]).astype(np.float32)
    return resample(own, extent_of(model, name), points)


def observed_fields(cfg: Any, model: Any) -> List[str]:
    """The dynamic fields ``observation.fields`` names (empty: all of them), checked."""
    names = list(cfg.observation.fields) or list(model.dynamic_fields)
    unknown = [n for n in names if n not in model.dynamic_fields]
    if unknown:
        raise ConfigError(f"observation.fields: {unknown} not dynamic fields of '{cfg.physics.name}'; "
                          f"its dynamic fields are {list(model.dynamic_fields)}")
    return names


def _field_samples(model: Any, name: str) -> np.ndarray:
    """bool ``[*sample_shape]``: True where the state tensor holds a sample of field ``name``
    (False in the zero padding of a field smaller than the state's layout)."""
    own = model.converter.field_shapes[name]
    valid = np.zeros(model.converter.sample_shape, dtype=bool)
    valid[tuple(slice(0, n) for n in own)] = True
    return valid


# ------------------------------------------------------------------------------------------------
# orchestration
# ------------------------------------------------------------------------------------------------
def _jobs(seeds: Dict[str, List[int]]) -> List[Tuple[str, int, int]]:
    return [(split, i, s) for split in SPLITS for i, s in enumerate(seeds[split])]


def _write_entry(cfg: Any, path: Path, key: str, progress: bool) -> int:
    """Simulate, observe and write every simulation of ``cfg`` into ``path``; returns the count."""
    model = _build_model(cfg)  # the truth
    learner = _build_learner(cfg) if cfg.data.truth else model
    every = truth_steps_per_frame(cfg)
    params = model.true_params()
    model.validate_params(params)  # before any compute or file: a bad truth stops here
    observed = observed_fields(cfg, learner)
    fine = tuple(model.converter.sample_shape) != tuple(learner.converter.sample_shape)
    # the truth of every parameter, apart from the known static inputs, on the learner's grid
    truth_params = learner.true_params() if fine else params
    if learner.time_dependent:
        true_params = {f"param_{n}": learner.converter.static_to_numpy(v) for n, v in truth_params.items()}
    else:  # a static model's parameters are torch tensors in its own shapes (an elliptic one: per element)
        from hyco.physics.params import param_to_numpy

        true_params = {f"param_{n}": np.asarray(param_to_numpy(v), dtype=np.float32)[None]
                       for n, v in learner.true_params().items()}

    num_frames = int(cfg.data.num_frames)
    times = np.arange(num_frames) * float(cfg.physics.dt)
    seeds = split_seeds(cfg.data)
    jobs = _jobs(seeds)
    batch = max(1, int(cfg.data.generation_batch))
    writer = CacheWriter(path, key)
    spatial_shape = tuple(learner.converter.sample_shape)
    operator = ObservationOperator(cfg.observation, spatial_shape, num_frames)
    scattered = operator.spatial_kind in POINT_KINDS
    static = not learner.time_dependent
    unobserved_mask = np.zeros_like(operator.mask)
    if not static:  # a static problem has no initial state to know
        unobserved_mask[0] = 1  # the initial condition is known in full, observed or not
    valid = {n: _field_samples(learner, n) for n in learner.dynamic_fields}
    # where the reconstructions are scored: a grid of nodes spanning the box, or the truth's own grid
    reference_nodes = int(cfg.data.reference_nodes)
    reference = reference_grid(learner, reference_nodes) if reference_nodes > 0 else None
    stored_fine = fine or reference is not None
    # the path is printed once, by the caller; inside a sweep (no run bars) generation is detail
    logger.log(logging.INFO if run_bars_enabled() else logging.DEBUG,
               "generating %d simulations (%s) x %d frames at %s%s",
               len(jobs), ", ".join(f"{s}={len(seeds[s])}" for s in SPLITS), num_frames, list(learner.resolution),
               f" (truth at {list(model.resolution)})" if fine else "")
    with tqdm(total=len(jobs), desc=f"generate {key}", unit="sim",
              disable=None if progress and run_bars_enabled() else True) as bar:
        for start in range(0, len(jobs), batch):
            chunk = jobs[start:start + batch]
            trajectories = simulate(model, params, [s for _, _, s in chunk], num_frames, every)
            for b, (split, index, seed) in enumerate(chunk):
                arrays: Dict[str, np.ndarray] = {}
                for stream, name in enumerate(learner.dynamic_fields):
                    own = trajectories[name][b]  # the truth on its own grid
                    truth = (read_truth(model, name, own, times, learner.sample_points(name)[0]) if fine
                             else np.array(own))
                    if name in observed and scattered:
                        exact = model.exact_values(np.zeros((0, model.dim)), 0.0) is not None
                        reader = ((lambda k, p: model.exact_values(p, float(times[k]))) if exact else None)
                        points = observe_points(cfg.observation, own, extent_of(model, name), times, seed, stream,
                                                reader=reader, timed=not static)
                        arrays.update({f"{key}_{name}": value for key, value in points.items()})
                        obs, mask = truth * unobserved_mask, unobserved_mask.copy()
                    elif name in observed:
                        obs, mask = operator.apply(truth, seed, stream=stream)
                    else:
                        obs, mask = truth * unobserved_mask, unobserved_mask.copy()
                    mask = mask * valid[name]  # padding is never observed
                    arrays[f"truth_{name}"] = truth
                    if reference is not None:
                        arrays[f"fine_{name}"] = read_truth(model, name, own, times, reference[0])
                    elif fine:
                        arrays[f"fine_{name}"] = own
                    arrays[f"obs_{name}"] = (obs * mask).astype(np.float32)
                    arrays[f"mask_{name}"] = mask.astype(np.uint8)
                for name in learner.static_fields:
                    arrays[f"static_{name}"] = trajectories[name][b]
                arrays.update(true_params)
                arrays["seed"] = np.asarray(seed, dtype=np.int64)
                writer.write_sim(split, index, arrays)
                bar.update(1)

    metadata = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(full=True),
        "config": {
            "data": to_plain(cfg.data),
            "physics": to_plain(cfg.physics),
            "observation": to_plain(cfg.observation),
        },
        "key_payload": key_payload(cfg),
        "splits": {
            split: {"count": len(seeds[split]), "seed_offset": SEED_OFFSETS[split], "seeds": seeds[split]}
            for split in SPLITS
        },
        "num_frames": num_frames,
        "spatial_shape": list(spatial_shape),
        "resolution": list(learner.resolution),
        # the grid reconstructions are scored on (fine_<field>): the reference nodes, or the finer truth's own
        "fine": ({"resolution": [reference_nodes] * learner.dim, "first": reference[1], "spacing": reference[2]}
                 if reference is not None else
                 {"resolution": list(model.resolution),
                  "first": list(extent_of(model, learner.dynamic_fields[0]).first),
                  "spacing": list(model.dx)} if stored_fine else None),
        "scattered": scattered,
        "static": static,
        # the state's channel order (the JSON below is written with sorted keys)
        "field_order": [spec.name for spec in learner.field_specs],
        "fields": {
            spec.name: {"kind": spec.kind, "channels": spec.channels(learner.dim), "grid": spec.grid,
                        "boundary": list(spec.boundary), "role": spec.role,
                        "shape": list(learner.converter.field_shapes[spec.name]),
                        "observed": spec.name in observed}
            for spec in learner.field_specs
        },
        "params": {n: {"kind": s.kind, "learnable": bool(s.learnable)} for n, s in learner.param_specs.items()},
        "observation": operator.describe(),
        "dt": float(model.dt) * every,  # the frame interval
        "truth": {"steps_per_frame": every, "physics": to_plain(truth_physics(cfg))} if cfg.data.truth else None,
    }
    writer.finalize(metadata)
    return len(jobs)


def _check_hit(path: Path, key: str) -> None:
    """Refuse an incomplete, foreign or corrupt entry."""
    reader = CacheReader(path)  # refuses incomplete entries and other format versions
    if reader.key != key:
        raise CacheError(f"cache {path} records key {reader.key}, expected {key} — rerun with "
                         f"data.regenerate=true or delete the directory {path}")
    reader.verify()  # full checksums once per process; unchanged files are not hashed again


_CLEANED: set = set()
_REGENERATED: set = set()  # entries this process rebuilt for data.regenerate=true


def _clean_locks_once(root: Path) -> None:
    """Lock files nobody holds (an older release kept them; a killed holder leaves one) go, once
    per process and cache folder."""
    if root not in _CLEANED and root.is_dir():
        clean_stale_locks(root)
        _CLEANED.add(root)


def generate_dataset(cfg: Any, progress: bool = True) -> GenerationResult:
    """Make sure the data of ``cfg`` exist in the cache; simulate them only on a miss.

    Parameters
    ----------
    cfg
        The full HYCO config (``data``, ``physics``, ``observation`` are read).
    progress
        Show a tqdm bar counting simulations while generating.

    Returns
    -------
    GenerationResult
        ``path`` of the entry, its ``key``, ``hit`` and the wall ``seconds``.

    Raises
    ------
    CacheError
        An entry exists but is corrupt or of another format version; the message says to rerun
        with ``data.regenerate=true`` or delete the directory. (An entry left incomplete by a
        writer that stopped is rebuilt, with one warning line.)
    PhysicsParameterError
        The true parameters are invalid for the model (before anything is simulated or written).
    """
    t0 = time.perf_counter()
    key = cache_key(cfg)
    root = cache_root(cfg)
    path = root / key
    # data.regenerate rebuilds an entry once per process: the train and evaluate tasks (and a
    # trial's scoring) that open it afterwards read what was just rebuilt
    regenerate = bool(cfg.data.regenerate) and path not in _REGENERATED
    if not regenerate and (path / METADATA_FILE).is_file():
        with cache_lock(root, key, shared=True):  # readers do not wait for each other
            if (path / METADATA_FILE).is_file():
                _check_hit(path, key)
                logger.debug("cache hit: %s", path)  # twice per trial in a sweep: detail
                return GenerationResult(path=path, key=key, hit=True, seconds=time.perf_counter() - t0)
    _clean_locks_once(root)
    with cache_lock(root, key):
        if regenerate:
            remove_entry(path)
            _REGENERATED.add(path)
        elif path.exists() and not (path / METADATA_FILE).is_file():
            # we hold the key's lock, so no writer is at work: this entry's writer stopped (kill -9,
            # a lost node) before finishing. Nothing of it was ever read; build it again.
            logger.warning("cache entry %s is incomplete (its writer stopped before finishing); rebuilding it",
                           path)
            remove_entry(path, quiet=True)
        elif path.exists():
            _check_hit(path, key)
            seconds = time.perf_counter() - t0
            logger.debug("cache hit: %s", path)  # twice per trial in a sweep: detail
            return GenerationResult(path=path, key=key, hit=True, seconds=seconds)
        try:
            count = _write_entry(cfg, path, key, progress)
        except BaseException:
            # we hold the lock, so the partial entry is ours alone: leave nothing half-written
            remove_entry(path)
            raise
    seconds = time.perf_counter() - t0
    logger.debug("cache written: %s (%d simulations in %.1f s)", path, count, seconds)
    return GenerationResult(path=path, key=key, hit=False, seconds=seconds)
