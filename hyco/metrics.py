"""Every metric name the platform logs, in one place, grouped by ``/`` prefixes.

MLflow's UI turns the prefixes into sections (``synthetic/``, ``physical/``, ``param/``,
``time/``, ``memory/``, ``eval/``), so a run's page reads like a table of contents. Producers
(trainers, evaluation, comparison, sweep) and consumers (figures, notebook, summary) build names
with the constants and functions below. An arm's own metrics (``hyco/alpha``, ``pinn/...``,
``aphynity/...``) are declared by the arm (``ArmSpec.metrics``, :mod:`hyco.arms`), in a namespace
of its own; :func:`is_platform_metric` says which names are the platform's.

=======================================================  ==========================================  ===================
name                                                     meaning                                     step
=======================================================  ==========================================  ===================
``synthetic/train_loss``                                 mean training loss of the network           epoch / round
``synthetic/data_loss``                                  network's masked rollout misfit on the      epoch / round
                                                         validation observations
``synthetic/interaction_loss``                           network vs physical prediction (HYCO)       round
``synthetic/total_loss``                                 network's full cost in a HYCO round         round
``synthetic/lr``                                         network's learning rate                     epoch / round
``physical/lr``                                          the physics' Adam learning rate in effect   epoch
``physical/data_loss``                                   physical model's misfit on the validation   epoch / round
                                                         observations
``physical/interaction_loss``                            physical vs network prediction (HYCO)       round
``physical/total_loss``                                  physical model's fit loss                   epoch / round
``physical/fit_evaluations``                             solver loss evaluations of the fit          epoch
``param/<name>``                                         learned value (field: spatial mean)         epoch / round
``param/<name>_rel_error``                               ``|p-p*|/|p*|`` (field: relative L2)        epoch / round
``param/<name>/<component>``                             a family parameter's scalars (``A1``, ...)  epoch / round
``param/<name>/theta_rel_error``, ``.../p_error``        its ``|theta-theta*|/|theta*|``; the        epoch / round
                                                         papers' grouped error
``param/theta_rel_error``                                ``|theta-theta*|/|theta*|`` of all family   epoch / round
                                                         parameters' scalars together
``time/epoch_s``, ``time/round_s``                       wall time of an epoch / a HYCO round        epoch / round
``time/physical_s``, ``time/synthetic_s``,               wall time of the physical fit, the network  epoch / round
``time/predict_s``                                       epochs, the players' predictions
``memory/rss_mb``, ``memory/rss_peak_mb``                process resident memory now / peak (MB)     epoch / round
``memory/cuda_alloc_mb``, ``memory/cuda_reserved_mb``,   CUDA memory allocated / reserved / peak     epoch / round
``memory/cuda_peak_mb``                                  (MB; 0 without CUDA)
``eval/<split>/<player>/rel_l2_mean``                    rollout relative L2, mean over steps 1..H   0
``eval/<split>/<player>/rel_l2_final``                   rollout relative L2 at step H               0
``eval/<split>/<player>/<field>/rel_l2_mean|_final``     the same on one field's channels            0
``eval/<split>/<player>/rel_l2``                         rollout relative L2 per step (test split)   rollout step
``eval/<split>/<player>/log_mse``                        ``ln`` of the rollout's mean squared error  0
                                                         over steps 1..H, all fields (APHYNITY's)
``eval/<split>/param/<name>``                            evaluated parameter (field: spatial mean)   0
``eval/<split>/param/<name>_rel_error``                  its error against the truth                 0
``eval/<split>/param_error``                             mean of the learnable parameters' errors    0
``recon/<player>/rel_l2``                                reconstruction problems: the player's       epoch (network:
                                                         trajectory against the clean truth over     every
                                                         frames 1..T-1 (relative L2)                 ``reconstruction
                                                                                                     _every``)
``recon/<player>/mse``                                   the same as a sum over fields of MSEs       as ``rel_l2``
``recon/<player>/data_mse``                              its misfit at the observed points           epoch
``recon/ghost_points``                                   ghost points of the epoch (x frames)        epoch
``eval/recon/<player>/rel_l2_final``, ``..._min``,       the final reconstruction error, and the     0
``eval/recon/<player>/mse_final``, ``..._min``,          minimum over the last ``min_window``
``..._last_epoch``, ``.../data_mse_final``               epochs; at the last epoch (before post-
                                                         training); the final data misfit
``eval/recon/param/<name>...``                           the learned parameters, as ``param/``       0
``compare/<arm>/<player>/rel_l2_mean``                   comparison parent run: arm's test error     0
``compare/<arm>/<player>/log_mse``                       comparison parent run: arm's test log MSE   0
``compare/<arm>/param/<name>_rel_error``                 comparison parent run: arm's param error    0
``compare/<arm>/time/wall_s``                            comparison parent run: arm's wall time      0
``sweep/best/<arm>/<objective>``                         sweep parent run: best value of an arm      0
=======================================================  ==========================================  ===================

``<split>`` is ``test`` or ``val``; ``<player>`` is ``synthetic``, ``physical`` or
``persistence`` (the ``u_{t+1} = u_t`` reference); ``<field>`` is a dynamic field of the
physical model (``model.channels``).
"""

from __future__ import annotations

from typing import Iterable, List, Optional

SPLITS = ("test", "val")
PLAYERS = ("synthetic", "physical")
PERSISTENCE = "persistence"
EVAL_PLAYERS = (*PLAYERS, PERSISTENCE)
LOSS_KINDS = ("train", "data", "interaction", "total")


# ------------------------------------------------------------------------------ per player
def loss(player: str, kind: str) -> str:
    """``<player>/<kind>_loss``; ``kind`` is one of :data:`LOSS_KINDS`."""
    if player not in PLAYERS:
        raise ValueError(f"metric player: {player!r}; choose from {PLAYERS}")
    if kind not in LOSS_KINDS:
        raise ValueError(f"loss kind: {kind!r}; choose from {LOSS_KINDS}")
    return f"{player}/{kind}_loss"


SYNTHETIC_TRAIN_LOSS = loss("synthetic", "train")
SYNTHETIC_DATA_LOSS = loss("synthetic", "data")
SYNTHETIC_INTERACTION_LOSS = loss("synthetic", "interaction")
SYNTHETIC_TOTAL_LOSS = loss("synthetic", "total")
PHYSICAL_DATA_LOSS = loss("physical", "data")
PHYSICAL_INTERACTION_LOSS = loss("physical", "interaction")
PHYSICAL_TOTAL_LOSS = loss("physical", "total")
PHYSICAL_FIT_EVALUATIONS = "physical/fit_evaluations"
SYNTHETIC_LR = "synthetic/lr"
PHYSICAL_LR = "physical/lr"  # Adam's learning rate in effect (after its schedule)

# the per-epoch validation misfit, in order of preference (pruning reads the first present)
VALIDATION_LOSSES = (SYNTHETIC_DATA_LOSS, PHYSICAL_DATA_LOSS)


def player_losses(player: str, keys: Iterable[str]) -> List[str]:
    """The loss metrics of ``player`` among ``keys`` (sorted), e.g. for loss-curve plots."""
    prefix = f"{player}/"
    return sorted(k for k in keys if k.startswith(prefix) and k.endswith("_loss"))


# ------------------------------------------------------------------------------ timings
TIME_EPOCH = "time/epoch_s"
TIME_ROUND = "time/round_s"
TIME_PHYSICAL = "time/physical_s"
TIME_SYNTHETIC = "time/synthetic_s"
TIME_PREDICT = "time/predict_s"


def is_timing(key: str) -> bool:
    """Wall-time metrics differ between identical runs (resume tests compare everything else)."""
    return key.startswith("time/")


# ------------------------------------------------------------------------------ memory
MEMORY_RSS = "memory/rss_mb"
MEMORY_RSS_PEAK = "memory/rss_peak_mb"
MEMORY_CUDA_ALLOC = "memory/cuda_alloc_mb"
MEMORY_CUDA_RESERVED = "memory/cuda_reserved_mb"
MEMORY_CUDA_PEAK = "memory/cuda_peak_mb"
MEMORY_METRICS = (MEMORY_RSS, MEMORY_RSS_PEAK, MEMORY_CUDA_ALLOC, MEMORY_CUDA_RESERVED, MEMORY_CUDA_PEAK)


# ------------------------------------------------------------------------------ parameters
_PARAM = "param/"
_REL_ERROR = "_rel_error"


def param(name: str) -> str:
    """``param/<name>``: the learned value (a field parameter's spatial mean)."""
    return f"{_PARAM}{name}"


def param_rel_error(name: str) -> str:
    """``param/<name>_rel_error``: ``|p-p*|/|p*|`` (scalar) or relative L2 (field)."""
    return f"{_PARAM}{name}{_REL_ERROR}"


def param_component(name: str, component: str) -> str:
    """``param/<name>/<component>``: one scalar of a family parameter (``param/kappa/A1``)."""
    return f"{_PARAM}{name}/{component}"


#: ``||theta - theta*|| / ||theta*||`` over the scalars of every learnable family parameter together
PARAM_THETA_ERROR = f"{_PARAM}theta_rel_error"


def param_theta_error(name: str) -> str:
    """``param/<name>/theta_rel_error``: ``||theta - theta*|| / ||theta*||`` of a family parameter."""
    return f"{_PARAM}{name}/theta_rel_error"


def param_p_error(name: str) -> str:
    """``param/<name>/p_error``: the papers' parameter error of a family parameter (the sum of its
    groups' relative errors, e.g. amplitudes and centres)."""
    return f"{_PARAM}{name}/p_error"


def is_param_metric(key: str) -> bool:
    """True for ``param/<name>`` and ``param/<name>_rel_error``."""
    return key.startswith(_PARAM)


def param_names(keys: Iterable[str]) -> List[str]:
    """Parameter names whose value metric ``param/<name>`` is among ``keys`` (in order seen)."""
    names = [k[len(_PARAM):] for k in keys if k.startswith(_PARAM) and not k.endswith(_REL_ERROR)
             and "/" not in k[len(_PARAM):]]
    return list(dict.fromkeys(names))


# ------------------------------------------------------------------------------ evaluation
def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"evaluation split: {split!r}; choose from {SPLITS}")


def eval_metric(split: str, player: str, stat: str, field: Optional[str] = None) -> str:
    """``eval/<split>/<player>[/<field>]/<stat>``, ``stat`` in ``rel_l2_mean``, ``rel_l2_final``, ``rel_l2``,
    ``log_mse``."""
    _check_split(split)
    if stat not in ("rel_l2_mean", "rel_l2_final", "rel_l2", "log_mse"):
        raise ValueError(f"evaluation statistic: {stat!r}")
    middle = player if field is None else f"{player}/{field}"
    return f"eval/{split}/{middle}/{stat}"


def rel_l2_mean(split: str, player: str, field: Optional[str] = None) -> str:
    """Rollout relative L2 averaged over steps ``1..H`` (all fields, or one ``field``)."""
    return eval_metric(split, player, "rel_l2_mean", field)


def rel_l2_final(split: str, player: str, field: Optional[str] = None) -> str:
    """Rollout relative L2 at the last step ``H``."""
    return eval_metric(split, player, "rel_l2_final", field)


def rel_l2_curve(split: str, player: str, field: Optional[str] = None) -> str:
    """Rollout relative L2 per step (logged with ``step`` = rollout step)."""
    return eval_metric(split, player, "rel_l2", field)


def log_mse(split: str, player: str) -> str:
    """``ln`` of the rollout's mean squared error over steps ``1..H``, every field, cell and test
    simulation together (APHYNITY's table metric; ``H = evaluation.horizon``)."""
    return eval_metric(split, player, "log_mse")


def eval_fields(keys: Iterable[str], split: str, player: str) -> List[str]:
    """Fields with a per-field ``rel_l2_mean`` of ``player`` on ``split`` among ``keys`` (in order seen)."""
    head, tail = f"eval/{split}/{player}/", "/rel_l2_mean"
    names = [k[len(head):-len(tail)] for k in keys if k.startswith(head) and k.endswith(tail)]
    return list(dict.fromkeys(n for n in names if n and "/" not in n))


def eval_param(split: str, name: str) -> str:
    """``eval/<split>/param/<name>``: the evaluated parameter (field: spatial mean)."""
    _check_split(split)
    return f"eval/{split}/{param(name)}"


def eval_param_rel_error(split: str, name: str) -> str:
    """``eval/<split>/param/<name>_rel_error``."""
    _check_split(split)
    return f"eval/{split}/{param_rel_error(name)}"


def eval_param_error(split: str) -> str:
    """``eval/<split>/param_error``: the mean of the learnable parameters' relative errors (the
    sweeps' ``param_error``; APHYNITY's "%Err" divided by 100)."""
    _check_split(split)
    return f"eval/{split}/param_error"


# ------------------------------------------------------------------------------ reconstruction
# A reconstruction problem (scattered observations of its training trajectories, the papers'
# protocol) scores each player on the trajectory it reconstructed, not on held-out forecasts.
RECON = "recon"
RECON_GHOSTS = "recon/ghost_points"  # ghost points of the epoch (spatial points x frames)
RECON_LBFGS_LOSS = "recon/synthetic/lbfgs_loss"  # the network's L-BFGS post-training objective, at its step


def recon_rel_l2(player: str) -> str:
    """``recon/<player>/rel_l2``: the reconstruction's relative L2 during training."""
    return f"{RECON}/{player}/rel_l2"


def recon_mse(player: str) -> str:
    """``recon/<player>/mse``: the reconstruction's squared error against the truth (the sum over
    fields of each one's mean, as the Gray–Scott paper reports it)."""
    return f"{RECON}/{player}/mse"


def recon_data_mse(player: str) -> str:
    """``recon/<player>/data_mse``: the player's mean squared misfit at the observed points."""
    return f"{RECON}/{player}/data_mse"


RECON_STATS = ("final", "min", "last_epoch")


def eval_recon(player: str, stat: str, score: str = "rel_l2") -> str:
    """``eval/recon/<player>/<score>_<stat>``: ``score`` ``rel_l2``, ``mse`` or ``data_mse`` (the
    misfit at the observed points); ``stat`` ``final`` (the trained player), ``min`` (over the
    last ``evaluation.min_window`` epochs) or ``last_epoch`` (at the last epoch, before any
    post-training such as Gray–Scott's L-BFGS)."""
    if stat not in RECON_STATS or score not in ("rel_l2", "mse", "data_mse"):
        raise ValueError(f"reconstruction statistic: {score!r}_{stat!r}; choose rel_l2|mse|data_mse and {RECON_STATS}")
    return f"eval/{RECON}/{player}/{score}_{stat}"


def eval_recon_param(key: str) -> str:
    """``eval/recon/<key>`` for a ``param/...`` metric ``key``."""
    return f"eval/{RECON}/{key}"


# ------------------------------------------------------------------------------ parent runs
def compare_metric(arm: str, name: str) -> str:
    """A comparison parent run's per-arm metric ``compare/<arm>/<name>`` (``name`` from above,
    e.g. ``compare_metric("mixed", "synthetic/rel_l2_mean")``)."""
    return f"compare/{arm}/{name}"


def compare_rel_l2_mean(arm: str, player: str) -> str:
    return compare_metric(arm, f"{player}/rel_l2_mean")


def compare_log_mse(arm: str, player: str) -> str:
    return compare_metric(arm, f"{player}/log_mse")


def compare_param_rel_error(arm: str, name: str) -> str:
    return compare_metric(arm, param_rel_error(name))


def compare_wall_time(arm: str) -> str:
    return compare_metric(arm, "time/wall_s")


def sweep_best(arm: str, objective: str) -> str:
    """A sweep parent run's best objective value of one arm."""
    return f"sweep/best/{arm}/{objective}"


# ------------------------------------------------------------------------------ sweep trials
# Optuna user attributes a trial records beside its objective values (not MLflow metrics, but
# read back by the summary and the notebook, so named here too).
TRIAL_TEST_FORECAST_ERROR = "test_forecast_error"
TRIAL_TEST_PARAM_ERROR = "test_param_error"


def trial_param_rel_error(split: str, name: str) -> str:
    """A trial's user attribute for one parameter's error on ``split`` (same as the metric)."""
    return eval_param_rel_error(split, name)


#: the namespaces of the platform's own metrics (an arm's metrics live in namespaces of their own)
NAMESPACES = ("synthetic", "physical", "param", "recon", "time", "memory", "eval", "compare", "sweep")


def is_platform_metric(key: str) -> bool:
    """Whether ``key`` is in one of the platform's namespaces (:data:`NAMESPACES`)."""
    return key.split("/", 1)[0] in NAMESPACES
