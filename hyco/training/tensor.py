"""Epoch-based training of PyTorch models: device, optimiser, scheduler, checkpoints, epoch loop."""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional, Sequence

import torch
from omegaconf import DictConfig
from torch import nn

from hyco import metrics as M
from hyco.core.checkpoints import load_checkpoint, save_checkpoint, tensors_finite
from hyco.core.console import bar_metrics, phase_bar
from hyco.core.devices import select_device
from hyco.synthetic.checkpoint import network_header
from hyco.synthetic.registry import NetworkSpec
from hyco.training.base import AbstractTrainer
from hyco.training.rng import capture_rng_state, restore_rng_state

log = logging.getLogger(__name__)

EpochCallback = Callable[[int, Dict[str, float]], None]


def build_optimizer(tr: DictConfig, params) -> torch.optim.Optimizer:
    """Adam or AdamW from ``trainer.optimizer``/``lr``/``weight_decay``/``betas``."""
    name = getattr(tr.optimizer, "value", tr.optimizer)
    betas = tuple(float(b) for b in tr.get("betas", (0.9, 0.999)))
    if name == "adam":
        return torch.optim.Adam(params, lr=tr.lr, weight_decay=tr.weight_decay, betas=betas)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=tr.lr, weight_decay=tr.weight_decay, betas=betas)
    raise ValueError(f"trainer.optimizer: unknown optimiser {name!r}; choose adam or adamw")


def optimizer_step(loss: torch.Tensor, optimizers: Sequence[torch.optim.Optimizer], clip_params: Iterable,
                   grad_clip: float) -> None:
    """One gradient step of ``loss`` for every optimiser (gradients cleared first), with the norm
    of ``clip_params``' gradients clipped to ``grad_clip`` when it is > 0."""
    for optimizer in optimizers:
        optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        nn.utils.clip_grad_norm_(clip_params, grad_clip)
    for optimizer in optimizers:
        optimizer.step()


def build_scheduler(tr: DictConfig, optimizer: torch.optim.Optimizer, total_epochs: int):
    """None, cosine annealing over ``total_epochs``, step decay (``step_size``, ``gamma``) or
    OneCycle over ``total_epochs`` (the authors' schedule of the papers' experiments)."""
    name = getattr(tr.scheduler, "value", tr.scheduler)
    if name == "none":
        return None
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_epochs))
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=tr.step_size, gamma=tr.gamma)
    if name == "onecycle":  # stepped once per epoch, peaking at trainer.lr
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=float(tr.lr), total_steps=max(2, total_epochs))
    raise ValueError(f"trainer.scheduler: unknown scheduler {name!r}; choose none, cosine, step or onecycle")


class TensorTrainer(AbstractTrainer):
    """Trains an ``nn.Module`` epoch by epoch.

    Subclasses implement :meth:`train_epoch` (one pass over the data they are given) and
    :meth:`validation_loss`. The epoch loop, checkpoints (model, optimiser, scheduler, counters
    and every RNG state) and resuming live here.

    Parameters
    ----------
    cfg
        The full HYCO config; ``cfg.trainer`` holds the optimisation knobs.
    model
        The network to train; moved to the selected device.
    total_epochs
        Epochs the scheduler is planned for (cosine annealing needs it).
    network_spec
        What the network was built from; checkpoints carry it, so evaluation rebuilds the
        network from the checkpoint alone (:mod:`hyco.synthetic.checkpoint`).
    """

    def __init__(self, cfg: DictConfig, model: nn.Module, total_epochs: Optional[int] = None,
                 network_spec: Optional[NetworkSpec] = None) -> None:
        super().__init__(cfg)
        self.network_spec = network_spec
        self.device = select_device(cfg.device)
        self.model = model.to(self.device)
        self.total_epochs = int(total_epochs if total_epochs is not None else cfg.trainer.epochs)
        self.optimizer = build_optimizer(cfg.trainer, self.model.parameters())
        self.scheduler = build_scheduler(cfg.trainer, self.optimizer, self.total_epochs)
        self.epoch = 0  # completed epochs
        self.step = 0  # completed optimisation steps
        self.best_val = float("inf")

    # ------------------------------------------------------------------ subclass hooks
    @abstractmethod
    def train_epoch(self, data: Any) -> float:
        """One pass over ``data``; returns the mean training loss."""

    @abstractmethod
    def validation_loss(self, data: Any) -> float:
        """Loss on held-out ``data`` without updating the model."""

    # ------------------------------------------------------------------ state
    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def end_epoch(self) -> None:
        """Advance the epoch counter and the scheduler."""
        self.epoch += 1
        if self.scheduler is not None:
            self.scheduler.step()

    def state_dict(self) -> Dict[str, Any]:
        return {
            **(network_header(self.network_spec) if self.network_spec is not None else {}),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else {},
            "epoch": self.epoch,
            "step": self.step,
            "best_val": self.best_val,
            "rng": capture_rng_state(),
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler"):
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.step = int(state["step"])
        self.best_val = float(state["best_val"])
        restore_rng_state(state["rng"])

    def save(self, path: Path, extra: Optional[Dict[str, Any]] = None) -> Path:
        """Checkpoint atomically; refuses to overwrite a good checkpoint with non-finite weights."""
        state = self.state_dict()
        if not tensors_finite(state["model"]):
            raise FloatingPointError(f"refusing to write non-finite weights to {path}")
        if extra:
            state.update(extra)
        return save_checkpoint(path, state)

    def load(self, path: Path) -> Dict[str, Any]:
        state = load_checkpoint(path, map_location=self.device)
        self.load_state_dict(state)
        return state

    # ------------------------------------------------------------------ epoch loop
    def fit(
        self,
        train_data: Any,
        val_data: Any = None,
        epochs: Optional[int] = None,
        on_epoch_end: Optional[EpochCallback] = None,
        prefix: str = "synthetic",
    ) -> Dict[str, float]:
        """Train from ``self.epoch`` up to ``epochs`` (default ``trainer.epochs``).

        ``on_epoch_end(epoch, metrics)`` is called after each epoch (tracking, checkpoints);
        metrics (:mod:`hyco.metrics`): ``<prefix>/train_loss``, ``<prefix>/data_loss`` (the
        validation misfit), ``synthetic/lr`` and ``time/epoch_s``.
        """
        target = int(epochs if epochs is not None else self.cfg.trainer.epochs)
        metrics: Dict[str, float] = {}
        bar = phase_bar(range(self.epoch, target), f"{self.cfg.trainer.variant} epochs", initial=self.epoch,
                        total=target)
        for _ in bar:
            start = time.perf_counter()
            lr = self.lr
            train_loss = self.train_epoch(train_data)
            metrics = {M.loss(prefix, "train"): train_loss, M.SYNTHETIC_LR: lr}
            if val_data is not None:
                metrics[M.loss(prefix, "data")] = self.validation_loss(val_data)
            self.end_epoch()
            metrics[M.TIME_EPOCH] = time.perf_counter() - start
            log.debug("epoch %d/%d %s", self.epoch, target,
                     " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
            if on_epoch_end is not None:
                on_epoch_end(self.epoch, metrics)  # may add metrics (an arm's parameters)
            bar.set_postfix(bar_metrics(metrics))
        return metrics
