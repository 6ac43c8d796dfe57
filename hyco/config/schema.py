"""Typed configuration schema, registered in Hydra's ConfigStore.

Every config group (``data``, ``physics``, ``observation``, ``synthetic``, ``trainer``,
``tracking``, ``evaluation``, ``sweep``) is a dataclass. The root node ``hyco_schema`` is the
first entry of ``conf/config.yaml``'s defaults list, so every YAML file and every command-line
override is merged into these dataclasses: a typo'd key (``trainer.lrr=1``), a wrong type
(``data.num_sims=abc``) or an unknown ``+physics.foo=1`` is rejected by Hydra while composing,
before any task runs. Values that must be given are ``MISSING`` (``???``) and are checked by
:func:`validate` together with the cross-field rules that a type cannot express.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, List, Mapping, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from hyco.errors import ConfigError


# --------------------------------------------------------------------------------------------
# ranges: declared beside each numeric key, checked by validate() for every node of the config
# (the arms' and networks' nodes included)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Range:
    """Admissible values of a numeric key: finite, and between ``low`` and ``high`` (None: no
    bound; ``open_low``/``open_high`` exclude the bound itself)."""

    low: Optional[float] = None
    high: Optional[float] = None
    open_low: bool = False
    open_high: bool = False

    def __contains__(self, value: float) -> bool:
        if value != value or value in (float("inf"), float("-inf")):
            return False
        if self.low is not None and (value < self.low or (self.open_low and value == self.low)):
            return False
        return not (self.high is not None and (value > self.high or (self.open_high and value == self.high)))

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}{')' if self.open_high else ']'}"
        if self.low is not None:
            return f"{'>' if self.open_low else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.open_high else '<='} {self.high:g}"
        return "finite"


def ranged(default: Any, low: Optional[float] = None, high: Optional[float] = None, *, open_low: bool = False,
           open_high: bool = False) -> Any:
    """A dataclass field whose value must be finite and inside the range (checked by validate());
    for a list (``default`` a list) every element must be. ``ranged(x)`` alone: finite."""
    metadata = {"range": Range(low, high, open_low, open_high)}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


POSITIVE = dict(low=0.0, open_low=True)
SEED_MAX = 2**31 - 1  # numpy and torch take seeds below 2**32; offsets are added to data seeds


# --------------------------------------------------------------------------------------------
# enums: OmegaConf validates them by name, so a wrong choice fails while composing, naming the key
# --------------------------------------------------------------------------------------------
class Choice(str, Enum):
    """An enumerated config value that prints as its value (``f"{x}"``, ``str(x)``), so code and
    messages may treat it as the plain string it stands for."""

    __str__ = str.__str__
    __format__ = str.__format__


class GridKind(Choice):
    centered = "centered"
    staggered = "staggered"


class ParamKind(Choice):
    scalar = "scalar"
    field = "field"
    family = "family"  # a field generated from a few scalars (hyco.physics.families)


class GridLayout(Choice):
    cells = "cells"  # values at cell centres; walls on the outer faces
    nodes = "nodes"  # values at nodes from the box's lower to its upper corner; wall nodes held at 0


class SpatialMaskKind(Choice):
    full = "full"
    box = "box"
    sensors = "sensors"
    # scattered, off-grid observations (values read from the truth by interpolation):
    lattice = "lattice"  # a lattice of sensors in the box, fixed or moving along a linear ODE
    tuples = "tuples"  # random (cell, frame) pairs over the whole trajectory
    uniform = "uniform"  # num_sensors fixed points drawn uniformly in the box, reading every frame


#: the spatial kinds whose observations are scattered points (a reconstruction problem), not grid cells
SCATTERED_KINDS = tuple(k.value for k in (SpatialMaskKind.lattice, SpatialMaskKind.tuples, SpatialMaskKind.uniform))


class NoiseScale(Choice):
    rms = "rms"  # std = noise * RMS of the clean field
    max = "max"  # std = noise * max |observed values| (the static papers' convention)


class TemporalMaskKind(Choice):
    all = "all"
    every_k = "every_k"
    first = "first"
    last = "last"


class Optimizer(Choice):
    adam = "adam"
    adamw = "adamw"


class Scheduler(Choice):
    none = "none"
    cosine = "cosine"
    step = "step"
    onecycle = "onecycle"  # OneCycle over the planned epochs, peaking at the learning rate


class PhysicalScheduler(Choice):
    none = "none"
    onecycle = "onecycle"  # OneCycle over the planned Adam steps, peaking at physical_lr


class ParamSpace(Choice):
    bounded = "bounded"  # lower + (upper - lower) sigmoid(z): inside the bounds, near log p for small p
    log = "log"  # p = exp(z) (the papers' log D)
    linear = "linear"  # p = z


class PhysicalOptimizer(Choice):
    lbfgsb = "lbfgsb"  # L-BFGS-B through phiml's math.minimize
    adam = "adam"


class Profile(Choice):
    """Spatial profile of a true field parameter (:mod:`hyco.physics.profiles`)."""

    constant = "constant"
    sine = "sine"
    sine_x = "sine_x"
    bump = "bump"
    gaussians = "gaussians"


class ProfileScale(Choice):
    relative = "relative"  # v (1 + a p(x))
    additive = "additive"  # v + a p(x)


class Objective(Choice):
    synthetic_error = "synthetic_error"
    param_error = "param_error"
    both = "both"


class PrunerKind(Choice):
    median = "median"
    none = "none"


class SweepRole(Choice):
    auto = "auto"  # create the study and its parent run if missing, else join them
    worker = "worker"  # only join, waiting up to sweep.attach_timeout seconds


# --------------------------------------------------------------------------------------------
# groups
# --------------------------------------------------------------------------------------------
@dataclass
class InitialConditionConfig:
    """The initial-condition prior (``conf/ic/``, registry in :mod:`hyco.physics.ic`); each prior
    reads the knobs it needs. Also the prior of HYCO's ghost initial conditions."""

    name: str = "fourier"  # a registered prior: fourier, dirichlet_sines, spots, blobs, bumps, disc, uniform, ...
    # gaussian_bump, annulus
    max_wavenumber: int = ranged(4, 1)
    amplitude: float = ranged(1.0)
    decay: float = ranged(1.0)  # spectral decay exponent: mode k has weight k^-decay
    offset: float = ranged(0.0)  # constant added to every field (fourier, dirichlet_sines)
    num_spots: int = ranged(4, 0)  # spots: number of random squares
    spot_size: float = ranged(0.1, 0.0, 1.0, open_low=True)  # spots: edge of a square as a fraction of the domain
    noise: float = ranged(0.01, 0.0)  # spots: uniform noise amplitude
    # blobs: the box the blob centres are drawn in, as fractions of the domain per axis (the last
    # axis is up); the default lower half leaves the smoke room to rise
    centre_lower: List[float] = ranged([0.2, 0.15], 0.0, 1.0)
    centre_upper: List[float] = ranged([0.8, 0.45], 0.0, 1.0)
    # deterministic states (the same for every seed): bumps = sum_j amplitudes[j] exp(-|x - c_j|^2 /
    # width^2); disc = inside[f] within radius of centre, outside[f] elsewhere (absolute coordinates)
    centres: List[List[float]] = ranged([])
    amplitudes: List[float] = ranged([])
    width: float = ranged(1.0, **POSITIVE)
    centre: List[float] = ranged([])  # empty: the domain's centre
    radius: float = ranged(0.1, **POSITIVE)
    inside: List[float] = ranged([])
    outside: List[float] = ranged([])
    low: float = ranged(0.0)  # uniform: every cell of every field U[low, high]
    high: float = ranged(1.0)
    # gaussian_bump: amplitude * exp(-|x - c|^2 / s) in the first field, c in the box centre_lower..
    # centre_upper, the spread s (a squared length) uniform in [spread_lower, spread_upper]
    spread_lower: float = ranged(10.0, **POSITIVE)
    spread_upper: float = ranged(100.0, **POSITIVE)
    # annulus: the state vector (one value per field) at a radius uniform in [radius_lower, radius_upper]
    radius_lower: float = ranged(1.3, 0.0)
    radius_upper: float = ranged(2.3, 0.0)


@dataclass
class DataConfig:
    """How many simulations to make, of what length, and where the cache lives."""

    num_train: int = ranged(8, 1, 99_999)
    num_val: int = ranged(2, 0, 99_999)
    num_test: int = ranged(2, 0, 99_999)
    num_frames: int = ranged(20, 1)  # 1: a static problem's one solution (scattered observations only)
    seed: int = ranged(0, 0, SEED_MAX)  # IC seeds: train = seed+i, val/test offset so the three sets are disjoint
    generation_batch: int = ranged(4, 1)
    cache_dir: str = "data/cache"  # relative to the project root unless absolute
    regenerate: bool = False
    max_cached_sims: int = ranged(8, 1)
    static_fields: List[str] = field(default_factory=list)
    ic: InitialConditionConfig = field(default_factory=InitialConditionConfig)
    # Reconstruction problems (scattered observations): score the reconstructions on this many nodes
    # per axis spanning the box (the static papers' 50 x 50 grid), the truth read there exactly where
    # it is known in closed form, else interpolated from its grid; 0: on the truth's own grid
    reference_nodes: int = ranged(0, 0)
    # The model that generates the data, where it differs from the learner (``physics``): the keys
    # of a physics config that differ, merged over ``physics`` (a smaller time step, all terms of
    # an equation the learner has only some of, another parameter profile). Empty: the learner's
    # own solver generates the data (an inverse crime, which favours physics alone).
    truth: Dict[str, Any] = field(default_factory=dict)

    @property
    def num_sims(self) -> int:
        return self.num_train + self.num_val + self.num_test


@dataclass
class ParamSpecConfig:
    """One physical parameter: its shape, its truth for data generation and its initial guess.

    ``kind: family`` generates a field from a few scalars ``theta`` (:mod:`hyco.physics.families`):
    ``family`` names it, ``family_args`` configures it, ``true_theta``/``initial_theta`` replace
    ``true_value``/``initial_guess`` (which the other kinds need)."""

    kind: ParamKind = ParamKind.scalar
    true_value: Optional[float] = ranged(None)
    # Spatial profile of the true field (kind=field)
    true_profile: Profile = Profile.constant
    profile_amplitude: float = ranged(0.5)  # amplitude of the profile around true_value
    profile_scale: ProfileScale = ProfileScale.relative  # relative: v (1 + a p(x)) | additive: v + a p(x)
    profile_args: Dict[str, Any] = field(default_factory=dict)  # e.g. gaussians: centres, amplitudes, width
    initial_guess: Optional[float] = ranged(None)
    lower: float = ranged(0.0)
    upper: float = ranged(1.0)
    learnable: bool = True
    smoothness: float = ranged(0.0, 0.0)  # beta of the penalty beta*||grad p||^2 on a field parameter (0: off)
    space: ParamSpace = ParamSpace.bounded  # where a scalar or field parameter is optimised
    family: str = ""
    family_args: Dict[str, Any] = field(default_factory=dict)
    true_theta: List[float] = ranged([])
    initial_theta: List[float] = ranged([])
    initial_jitter: float = ranged(0.0, 0.0)  # start from the initial guess x (1 + jitter N(0, 1)), drawn from the seed
    # start from values drawn uniformly in one [low, high] per scalar (a family's theta), from the seed
    initial_uniform: List[List[float]] = ranged([])


@dataclass
class PhysicsConfig:
    """The physical model: which PDE, its discretisation and its parameters."""

    name: str = MISSING
    dim: int = ranged(2, 0, 2)  # 0: an ODE system (resolution: [])
    resolution: List[int] = ranged([32, 32], 4)
    domain_size: float = ranged(1.0, **POSITIVE)
    jit_frames: int = ranged(1, 1)  # frames per compiled trace of a rollout (speed only; small grids: more)
    domain_origin: float = ranged(0.0)  # lower corner of the box on every axis
    # empty: the model's own; else periodic | dirichlet | neumann, or one per axis "periodic,dirichlet"
    boundary: str = ""
    dt: float = ranged(0.01, **POSITIVE)
    substeps: int = ranged(1, 1)
    grid: GridKind = GridKind.centered
    params: Dict[str, ParamSpecConfig] = field(default_factory=dict)
    layout: GridLayout = GridLayout.cells  # nodes: resolution counts nodes, the walls' included
    options: Dict[str, Any] = field(default_factory=dict)  # the model's own options (its OPTIONS), e.g. heat's form
    terms: List[str] = field(default_factory=list)  # the model's terms that act; empty: all (the model's TERMS)


@dataclass
class ObservationConfig:
    """Observation operator applied to the simulated truth (ICs stay complete)."""

    fields: List[str] = field(default_factory=list)  # observed dynamic fields; empty: all of them
    spatial: SpatialMaskKind = SpatialMaskKind.full
    # box (spatial=box), or the region holding the sensors (spatial=sensors): fractions of the
    # domain per axis; both empty means the whole domain
    box_lower: List[float] = ranged([], 0.0, 1.0)
    box_upper: List[float] = ranged([], 0.0, 1.0)
    num_sensors: int = ranged(16, 1)  # sensors, uniform: random points in the box; lattice: sensors kept; tuples: pairs
    moving_sensors: bool = False  # sensors: new random points every frame (seeded) instead of fixed ones
    lattice: int = ranged(10, 1)  # lattice: sensors per axis, spread from box_lower to box_upper (ends included)
    sensor_indices: List[int] = ranged([], 0)  # lattice: the kept sensors (empty: num_sensors at random)
    # lattice: dX/dt = motion_matrix (X - motion_centre), absolute coordinates; empty matrix: fixed sensors
    motion_matrix: List[List[float]] = ranged([])
    motion_centre: List[float] = ranged([])
    temporal: TemporalMaskKind = TemporalMaskKind.all
    every_k: int = ranged(1, 1)
    fraction: float = ranged(1.0, 0.0, 1.0, open_low=True)  # for temporal=first/last: share of frames observed
    noise: float = ranged(0.0, 0.0)  # relative: std = noise * the scale below
    noise_scale: NoiseScale = NoiseScale.rms
    seed: int = ranged(1234, 0, SEED_MAX)


@dataclass
class SyntheticConfig:
    """The synthetic model: ``name`` picks a registered network; its knobs are the node
    ``synthetic.<name>`` (e.g. ``synthetic.unet.levels``), typed by the network's own dataclass.
    The nodes of the other networks are absent (null)."""

    name: str = "unet"


@dataclass
class TrainerConfig:
    """The knobs every arm shares; each arm's own knobs live in its node ``trainer.<node>``
    (``trainer.hyco``, ``trainer.pinn``, ``trainer.aphynity``, ...), typed by the arm's dataclass
    and absent (null) for every other arm. ``conf/trainer/<arm>.yaml`` are presets."""

    # a registered arm (hyco/arms/); checked by validate(), not by a type, so that a new arm is
    # one module and one preset, with no list to edit here
    variant: str = "synthetic_only"
    epochs: int = ranged(10, 1)
    batch_size: int = ranged(4, 1)
    rollout_steps: int = ranged(2, 1)
    # synthetic player
    lr: float = ranged(1e-3, **POSITIVE)
    weight_decay: float = ranged(0.0, 0.0)
    optimizer: Optimizer = Optimizer.adam
    scheduler: Scheduler = Scheduler.none
    step_size: int = ranged(10, 1)  # scheduler=step: epochs between two decays
    gamma: float = ranged(0.5, **POSITIVE)  # scheduler=step: the decay factor
    num_workers: int = ranged(0, 0)
    grad_clip: float = ranged(0.0, 0.0)  # 0 disables clipping
    betas: List[float] = ranged([0.9, 0.999], 0.0, 1.0, open_high=True)  # the network's Adam betas
    # physical player
    physical_optimizer: PhysicalOptimizer = PhysicalOptimizer.lbfgsb
    physical_iterations_per_epoch: int = ranged(10, 1)
    physical_lr: float = ranged(0.05, **POSITIVE)
    physical_sims_per_fit: int = ranged(4, 1)  # simulations per physical fit (batch of ICs)
    physical_betas: List[float] = ranged([0.9, 0.999], 0.0, 1.0, open_high=True)  # Adam's betas for the physics
    physical_scheduler: PhysicalScheduler = PhysicalScheduler.none
    # bookkeeping
    # epochs between checkpoints of a reconstruction run of one player (synthetic_only, physical_only on
    # scattered data) and of the PINN; the metrics of the epochs between go with the next checkpoint
    # (the HYCO arms: trainer.hyco.checkpoint_every)
    checkpoint_every: int = ranged(1, 1)
    resume: bool = True
    inject_nan_at_step: int = ranged(-1, -1)  # test hook: poison the loss at this optimisation step


@dataclass
class TrackingConfig:
    """Where runs are recorded. Empty URIs mean SQLite + artifacts under ``<root>/mlruns``."""

    enabled: bool = True
    tracking_uri: str = ""
    artifact_location: str = ""
    experiment_name: str = ""  # empty: the experiment preset's name
    run_name: str = ""
    log_memory: bool = True
    # the trained network as an MLflow PyTorch model (``mlflow.pytorch.load_model``); costs
    # seconds per run (measured in the README), so the sweep presets turn it off
    log_model: bool = True
    # With a remote artifact store (tracking server): upload checkpoints at most this often
    # (seconds) while training, and always at the end; another host resumes from the last upload.
    # The epochs' metrics are sent with each upload (one batch), not one HTTP call per epoch.
    checkpoint_upload_s: float = ranged(30.0, 0.0)


@dataclass
class EvaluationConfig:
    """Held-out evaluation: rollout horizon, which run, which figures."""

    horizon: int = ranged(0, 0)  # 0: all frames of the test simulations; at most data.num_frames - 1
    # reconstruction problems (scattered observations): the network's reconstruction error during
    # training every this many epochs (the physical model's every epoch), and the window of last
    # epochs whose minimum is reported beside the final value
    reconstruction_every: int = ranged(50, 1)
    min_window: int = ranged(100, 1)
    run_id: str = ""  # empty: the latest finished run of the configured arm (trainer.variant) in the experiment
    figures: bool = True
    num_snapshots: int = ranged(3, 1)


@dataclass
class SweepConfig:
    """The Optuna layer (``experiments/sweep.py``): study, storage, budget, search space.

    Every trial composes ``trial_overrides``, then the sweep command line's overrides that are
    not under ``sweep.`` (e.g. ``experiment=burgers_1d_quick trainer.epochs=4``; they win over
    ``trial_overrides``), then the sampled values.
    """

    study_name: str = "hyco"
    storage: str = ""  # empty: sqlite:///<root>/mlruns/optuna.db (any SQLAlchemy URL works)
    n_trials: int = ranged(12, 1)  # total budget across restarts: trials that end COMPLETE, PRUNED or FAIL
    workers: int = ranged(1, 1)  # processes on this machine against the one study
    arms: List[str] = field(default_factory=list)  # empty: every registered variant
    objective: Objective = Objective.synthetic_error
    pruner: PrunerKind = PrunerKind.median
    pruner_startup_trials: int = ranged(2, 0)
    pruner_warmup_steps: int = ranged(2, 0)
    # validation loss above factor x its first value = diverged (must exceed 1: a loss that merely
    # does not fall is not divergence)
    divergence_factor: float = ranged(100.0, 1.0, open_low=True)
    sampler_seed: int = ranged(0, 0, SEED_MAX)
    heartbeat_interval: int = ranged(10, 1)
    grace_period: int = ranged(30, 1)
    max_retry: int = ranged(1, 0)
    trial_overrides: List[str] = field(default_factory=list)
    search_space: Dict[str, Any] = field(default_factory=dict)
    summary_only: bool = False
    # after the study: retrain each arm's best configuration on this many fresh seeds (the seed
    # scheme of compare.py) and report mean ± interval beside the optimistic best value
    reeval_seeds: int = ranged(0, 0)
    # auto: create the study and its parent run if missing, else join them (every host may run the
    # same command); worker: only join, waiting up to attach_timeout seconds for them to exist
    role: SweepRole = SweepRole.auto
    attach_timeout: int = ranged(600, 0)


@dataclass
class HycoConfig:
    """Root of the configuration tree."""

    task: List[str] = field(default_factory=lambda: ["generate", "train", "evaluate"])
    experiment_name: str = "default"
    seed: int = ranged(0, 0, SEED_MAX)
    device: str = "auto"  # auto | cpu | cuda | cuda:N (checked by validate(), CUDA's presence too)
    torch_threads: int = ranged(0, 0)  # 0: cores per worker (os.cpu_count() // workers)
    # console verbosity (DEBUG shows every epoch; a run's log file always has it); empty: the
    # HYCO_LOG_LEVEL environment variable, else INFO. experiments/sweep.py -v is DEBUG.
    log_level: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)
    observation: ObservationConfig = field(default_factory=ObservationConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)


KNOWN_TASKS = ("generate", "train", "evaluate")


def _with_nodes(base: type, nodes: Mapping[str, type], name: str) -> type:
    """``base`` plus one optional field per node (``None`` by default), as a new dataclass."""
    taken = {f.name for f in dataclasses.fields(base)}
    clash = sorted(taken & set(nodes))
    if clash:
        raise ConfigError(f"{name}: plug-in node(s) {clash} clash with shared knobs of the same name")
    extra = [(node, Optional[cls], field(default=None)) for node, cls in sorted(nodes.items())]  # type: ignore[valid-type]
    return dataclasses.make_dataclass(base.__name__, extra, bases=(base,))


def register_schema(arm_nodes: Mapping[str, type] = {}, network_nodes: Mapping[str, type] = {}) -> type:
    """Register the root schema ``hyco_schema`` in Hydra's ConfigStore, with one optional node per
    arm (``trainer.<node>``) and per network (``synthetic.<name>``); returns the root dataclass.

    Called by :func:`hyco.compose.compose_config` (with the registries' nodes) before any
    composition; the bare schema is registered at import so that Hydra always finds it."""
    trainer = _with_nodes(TrainerConfig, arm_nodes, "trainer")
    synthetic = _with_nodes(SyntheticConfig, network_nodes, "synthetic")
    root = dataclasses.make_dataclass("HycoConfig", [
        ("trainer", trainer, field(default_factory=trainer)),
        ("synthetic", synthetic, field(default_factory=synthetic)),
    ], bases=(HycoConfig,))
    ConfigStore.instance().store(name="hyco_schema", node=root)
    global _ROOT
    _ROOT = root
    return root


_ROOT: type = HycoConfig


def current_schema() -> type:
    """The root dataclass last registered (with the arms' and networks' nodes)."""
    return _ROOT


register_schema()


def truth_physics(cfg: Any) -> Any:
    """The physics config of the model that generates the data: ``physics`` with ``data.truth``
    merged over it (typed as ``PhysicsConfig``), or ``physics`` itself when ``data.truth`` is empty."""
    from omegaconf import OmegaConf

    if not cfg.data.truth:
        return cfg.physics
    merged = OmegaConf.merge(OmegaConf.structured(PhysicsConfig), cfg.physics, cfg.data.truth)
    return merged


def default_torch_threads(workers: int = 1) -> int:
    """Cores per worker process, at least one."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))
