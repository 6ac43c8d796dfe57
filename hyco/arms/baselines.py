"""The two baselines every comparison needs: each player trained alone on the observations.

* ``synthetic_only``: the network fitted to the observed rollout windows; the reference of every
  network in paired comparisons.
* ``physical_only``: the physical parameters fitted to the observed windows (L-BFGS-B or Adam);
  the reference of every physical rollout and parameter error.

On scattered observations (a reconstruction problem) each player reconstructs the observed
trajectories instead: the neural field fitted to the points, the physics rolled out over the
whole horizon (:mod:`hyco.arms.reconstruction`).
"""

from __future__ import annotations

from typing import Any, Optional

from hyco.arms.players import physical_player, synthetic_player
from hyco.arms.reconstruction import ReconstructionTrainer, build_reconstruction
from hyco.arms.spec import PHYSICAL_KEYS, SYNTHETIC_KEYS, ArmSpec, register_arm
from hyco.data.training_data import TrainingData
from hyco.physics.base import PhysicalModel
from hyco.training.context import RunContext
from hyco.training.networks import build_model_network
from hyco.training.physical import PhysicalTrainer
from hyco.training.synthetic import SyntheticTrainer


def build_synthetic_trainer(cfg: Any, model: PhysicalModel, data: TrainingData, context: Optional[RunContext],
                            total_epochs: Optional[int] = None) -> SyntheticTrainer:
    """The network of ``cfg.synthetic`` for ``model``'s fields, on the observed windows of ``data``
    (on scattered data: the neural field's reconstruction)."""
    if data.scattered is not None:
        return build_reconstruction(cfg, model, data, context, ("synthetic",))
    network, spec = build_model_network(cfg, model)
    return SyntheticTrainer(cfg, network, data.train, data.val, context,
                            total_epochs=int(cfg.trainer.epochs) if total_epochs is None else total_epochs,
                            network_spec=spec)


def build_physical_trainer(cfg: Any, model: PhysicalModel, data: TrainingData,
                           context: Optional[RunContext]) -> PhysicalTrainer:
    """The physical model's parameter fit on the observed windows of ``data`` (on scattered
    data: on the whole trajectories)."""
    if data.scattered is not None:
        return build_reconstruction(cfg, model, data, context, ("physical",))
    return PhysicalTrainer(cfg, model, data.train, data.val, context)


register_arm(ArmSpec(
    name="synthetic_only", build=build_synthetic_trainer, trains=("synthetic",), players=(synthetic_player(),),
    reads=(*SYNTHETIC_KEYS, "checkpoint_every"),
    checkpoints=(SyntheticTrainer.BEST, SyntheticTrainer.LAST, ReconstructionTrainer.CHECKPOINT),
    baseline_for=("synthetic",), reconstructs=True, static=True, rank=0))

register_arm(ArmSpec(
    name="physical_only", build=build_physical_trainer, trains=("physical",), players=(physical_player(),),
    reads=(*PHYSICAL_KEYS, "checkpoint_every"),
    checkpoints=(PhysicalTrainer.PARAMS_FILE, ReconstructionTrainer.CHECKPOINT),
    baseline_for=("physical",), reconstructs=True, static=True, rank=1))
