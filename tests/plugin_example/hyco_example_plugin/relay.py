"""The ``relay`` arm: the physics first, then the network (sequential pre-training on simulation).

Stage 1 fits the physical parameters to the observations for ``trainer.relay.physics_epochs``
epochs; stage 2 trains the network for ``trainer.epochs`` epochs on the observations where there
are some and on the fitted physics' predictions everywhere else. Each player is checkpointed as
the baselines do, so evaluation scores both.
"""

from dataclasses import dataclass

import numpy as np
from torch.utils.data import TensorDataset

from hyco.arms import PHYSICAL_KEYS, SYNTHETIC_KEYS, ArmSpec, register_arm
from hyco.arms.baselines import build_physical_trainer, build_synthetic_trainer
from hyco.arms.players import physical_player, synthetic_player
from hyco.training.base import AbstractTrainer
from hyco.training.hybrid import ObservedWindows
from hyco.training.targets import cooperative_targets

STAGE = "relay/stage"


@dataclass
class RelayConfig:
    """The knobs of ``trainer.relay``."""

    physics_epochs: int = 2


class RelayTrainer(AbstractTrainer):
    def __init__(self, cfg, physical, synthetic, data, context):
        super().__init__(cfg)
        self.physical, self.synthetic, self.data, self.context = physical, synthetic, data, context

    def train(self):
        epochs = int(self.cfg.trainer.relay.physics_epochs)
        for epoch in range(1, epochs + 1):
            metrics = {**self.physical.train_epoch(self.data.dataset), STAGE: 1.0}
            self.context.report(epoch, metrics, lambda extra: self.physical.save(extra))
        everything = np.arange(len(self.data))
        x0 = self.data.initial_states(everything)
        observed, mask = self.data.observations(everything)
        params = self.physical.physics_params(self.physical.z)
        prediction = self.physical.rollout_tensor(x0, observed.shape[1], params).detach()
        targets = cooperative_targets(x0, prediction, observed, mask, 1.0, 1.0)
        windows = TensorDataset(*targets.as_tuple())
        for epoch in range(epochs + 1, epochs + int(self.cfg.trainer.epochs) + 1):
            metrics = {"synthetic/train_loss": self.synthetic.train_epoch(windows), STAGE: 2.0}
            self.synthetic.end_epoch()
            path = self.context.path(self.synthetic.LAST)
            self.context.report(epoch, metrics, lambda extra: self.synthetic.save(path, extra))
        return metrics


def build_relay(cfg, model, data, context):
    return RelayTrainer(cfg, build_physical_trainer(cfg, model, data, context),
                        build_synthetic_trainer(cfg, model, data, context), ObservedWindows(data.train), context)


register_arm(ArmSpec(
    name="relay", build=build_relay, trains=("synthetic", "physical"),
    players=(synthetic_player(), physical_player()), node="relay", node_config=RelayConfig,
    reads=(*SYNTHETIC_KEYS, *PHYSICAL_KEYS, "relay.physics_epochs"),
    checkpoints=("synthetic_last.pt", "physical_params.json"),
    metrics={STAGE: "1 while the physics is fitted, 2 while the network trains"}, rank=50))
