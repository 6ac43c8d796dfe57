"""The synthetic player: a network trained by autoregressive rollouts on the data it is given."""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Tuple

import torch
from omegaconf import DictConfig
from torch import nn
from torch.utils.data import DataLoader, Dataset

from hyco import metrics as M
from hyco.data.dataset import make_loader
from hyco.synthetic.registry import NetworkSpec
from hyco.synthetic.rollout import masked_rollout_loss, rollout
from hyco.training.base import check_finite
from hyco.training.context import RunContext
from hyco.training.tensor import TensorTrainer, optimizer_step

log = logging.getLogger(__name__)

# Loss term names, used in metrics and in non-finite-loss errors.
SYNTHETIC_LOSS = "synthetic_rollout_mse"
_MAX_LOADERS = 4  # DataLoaders kept for reuse (train and validation data, shuffled or not)


class SyntheticTrainer(TensorTrainer):
    """Trains the synthetic model ``S_w`` on windows ``(x0, targets[K], masks[K][, weights[K]])``.

    The data is an argument of :meth:`train_epoch` (a ``Dataset`` of such windows: observed
    ground truth for the baseline, the physical model's predictions inside HYCO), so the hybrid
    trainer orchestrates by passing data, never by patching a loader.

    The loss is the masked MSE of a ``K``-step autoregressive rollout
    (:func:`hyco.synthetic.rollout.masked_rollout_loss`); static input channels (those of ``x0``
    beyond the targets' channels) are re-appended at every step.
    """

    def __init__(
        self,
        cfg: DictConfig,
        model: nn.Module,
        train_data: Optional[Dataset] = None,
        val_data: Optional[Dataset] = None,
        context: Optional[RunContext] = None,
        total_epochs: Optional[int] = None,
        network_spec: Optional[NetworkSpec] = None,
    ) -> None:
        super().__init__(cfg, model, total_epochs, network_spec)
        self.train_data = train_data
        self.val_data = val_data
        self.context = context
        self._loaders: Dict[Tuple[int, bool], DataLoader] = {}

    # ------------------------------------------------------------------ data
    def _loader(self, data: Dataset | DataLoader, shuffle: bool) -> DataLoader:
        if isinstance(data, DataLoader):
            return data
        key = (id(data), bool(shuffle))  # a dataset used for training and validation gets two loaders
        loader = self._loaders.pop(key, None)
        if loader is None or loader.dataset is not data:
            tr = self.cfg.trainer
            loader = make_loader(data, batch_size=tr.batch_size, shuffle=shuffle, seed=self.cfg.seed,
                                 num_workers=tr.num_workers)
        # Most recent first, and only a few: a loader keeps its dataset alive, and HYCO hands a
        # new dataset of targets to every round.
        self._loaders = dict([(key, loader), *list(self._loaders.items())[: _MAX_LOADERS - 1]])
        if loader.generator is not None:
            # The shuffle order depends on (seed, epoch) only, so a resumed run replays it exactly.
            loader.generator.manual_seed(int(self.cfg.seed) * 1_000_003 + self.epoch)
        return loader

    def _unpack(self, batch):
        batch = [b.to(self.device, non_blocking=True) for b in batch]
        x0, targets, masks = batch[:3]
        weights = batch[3] if len(batch) > 3 else None
        return x0, targets, masks, weights

    def _rollout_loss(self, x0: torch.Tensor, targets: torch.Tensor, masks: torch.Tensor,
                      weights: Optional[torch.Tensor]) -> torch.Tensor:
        channels = targets.shape[2]
        static = x0[:, channels:] if x0.shape[1] > channels else None
        predictions = rollout(self.model, x0[:, :channels], targets.shape[1], static=static)
        return masked_rollout_loss(predictions, targets, masks, weights)

    # ------------------------------------------------------------------ training
    def train_epoch(self, data: Dataset | DataLoader) -> float:
        """One pass over ``data`` with Adam/AdamW; returns the mean batch loss.

        Raises :class:`~hyco.training.base.NonFiniteLossError` naming the step on a NaN/inf loss,
        before the optimiser touches the weights.
        """
        self.model.train()
        tr = self.cfg.trainer
        if not isinstance(data, DataLoader) and len(data) == 0:  # type: ignore[arg-type]
            # (a shuffling DataLoader would fail first with a message about num_samples)
            raise ValueError("synthetic training data is empty: no rollout windows to train on")
        total, batches = 0.0, 0
        for batch in self._loader(data, shuffle=True):
            x0, targets, masks, weights = self._unpack(batch)
            loss = self._rollout_loss(x0, targets, masks, weights)
            if self.step == tr.inject_nan_at_step:
                loss = loss * float("nan")  # test hook: simulate a diverging step
            check_finite(float(loss.detach()), term=SYNTHETIC_LOSS, step=self.step,
                         where=f"epoch {self.epoch + 1}")
            optimizer_step(loss, [self.optimizer], self.model.parameters(), tr.grad_clip)
            self.step += 1
            total += float(loss.detach())
            batches += 1
        if batches == 0:
            raise ValueError("synthetic training data is empty: no rollout windows to train on")
        return total / batches

    @torch.no_grad()
    def validation_loss(self, data: Dataset | DataLoader) -> float:
        """Mean masked rollout loss on ``data`` (no shuffling, no updates)."""
        self.model.eval()
        total, count = 0.0, 0
        for batch in self._loader(data, shuffle=False):
            x0, targets, masks, weights = self._unpack(batch)
            total += float(self._rollout_loss(x0, targets, masks, weights)) * x0.shape[0]
            count += x0.shape[0]
        return total / max(count, 1)

    @torch.no_grad()
    def predict(self, x0: torch.Tensor, steps: int, static: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Detached autoregressive predictions ``[B, steps, C, *s]`` from ``x0`` (dynamic channels)."""
        self.model.eval()
        x0 = x0.to(self.device)
        if static is not None:
            static = static.to(self.device)
        return rollout(self.model, x0, steps, static=static).detach()

    # ------------------------------------------------------------------ baseline run
    LAST, BEST = "synthetic_last.pt", "synthetic_best.pt"

    def resume(self) -> bool:
        """Continue from the context's last checkpoint if there is one (and ``trainer.resume``)."""
        last = self.context and self.context.resume_from(self.LAST, self.cfg.trainer.resume)
        if not last:
            return False
        state = self.load(last)
        self.context.replay_pending(state)
        log.info("resumed synthetic training from %s at epoch %d", last, self.epoch)
        return True

    def _on_epoch_end(self, epoch: int, metrics: Dict[str, float]) -> None:
        assert self.context is not None
        val = metrics.get(M.SYNTHETIC_DATA_LOSS, metrics[M.SYNTHETIC_TRAIN_LOSS])
        if val < self.best_val:
            self.best_val = val
            self.save(self.context.path(self.BEST))
        self.context.report(epoch, metrics, lambda extra: self.save(self.context.path(self.LAST), extra))

    def train(self) -> Dict[str, Any]:
        """The ``synthetic_only`` baseline: fit on the observed training windows given at construction.

        Every epoch is checkpointed (last and best by validation loss) and reported to the
        context; rerunning with the same context resumes from the last checkpoint.
        """
        if self.train_data is None or self.context is None:
            raise ValueError("SyntheticTrainer.train needs train_data and a RunContext")
        self.resume()
        metrics = self.fit(self.train_data, self.val_data, on_epoch_end=self._on_epoch_end)
        return {**metrics, "epochs": self.epoch, "best_val_loss": self.best_val}
