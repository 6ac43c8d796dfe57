"""The physical player: fits the PDE's parameters epoch by epoch, with history and resume."""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import Dataset

from hyco import metrics as M
from hyco.core.checkpoints import load_json_checkpoint, save_json_checkpoint
from hyco.core.console import bar_metrics, phase_bar
from hyco.physics.base import PhysicalModel
from hyco.physics.params import param_to_numpy, parameter_metrics
from hyco.training.batches import sample_windows
from hyco.training.context import RunContext
from hyco.training.field import FieldTrainer

log = logging.getLogger(__name__)


class PhysicalTrainer(FieldTrainer):
    """Fits the physical model on the windows it is given, one fit of
    ``trainer.physical_iterations_per_epoch`` solver iterations per epoch.

    The parameters and their per-epoch history are saved as JSON (no pickle) in the context's
    checkpoint directory after every epoch; rerunning resumes from there.
    """

    PARAMS_FILE = "physical_params.json"

    def __init__(
        self,
        cfg: DictConfig,
        model: PhysicalModel,
        train_data: Optional[Dataset] = None,
        val_data: Optional[Dataset] = None,
        context: Optional[RunContext] = None,
    ) -> None:
        super().__init__(cfg, model)
        self.train_data = train_data
        self.val_data = val_data
        self.context = context
        self.truth = {n: param_to_numpy(t) for n, t in model.true_params().items()}
        self.epoch = 0
        self.history: List[Dict[str, Any]] = []

    # ------------------------------------------------------------------ persistence
    def state(self, extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        return {
            "epoch": self.epoch,
            "step": self.step,
            "evaluations": self.evaluations,
            "params": {n: np.asarray(v).tolist() for n, v in self.current_params().items()},
            "theta": {n: np.asarray(v).tolist() for n, v in self.current_theta().items()},
            "history": self.history,
            # the optimised variables themselves: p -> logit(p) does not give back z's last bit
            "unconstrained": {n: z.detach().cpu().tolist() for n, z in self.z.items()},
            "adam": self.optimizer_state(),
            **(extra or {}),
        }

    def save(self, extra: Optional[Dict[str, Any]] = None) -> None:
        assert self.context is not None
        save_json_checkpoint(self.context.path(self.PARAMS_FILE), self.state(extra))

    def load_state(self, state: Dict[str, Any]) -> None:
        self.set_params({n: np.asarray(v) for n, v in state["params"].items()})
        for name, value in state.get("unconstrained", {}).items():
            if name in self.z:
                self._assign(name, torch.tensor(value, dtype=torch.float32))
        self.epoch = int(state["epoch"])
        self.step = int(state["step"])
        self.evaluations = int(state["evaluations"])
        self.history = list(state["history"])
        self.load_optimizer_state(state.get("adam", {}))

    def resume(self) -> bool:
        path = self.context and self.context.resume_from(self.PARAMS_FILE, self.cfg.trainer.resume)
        if not path:
            return False
        state = load_json_checkpoint(path)
        self.load_state(state)
        self.context.replay_pending(state)
        log.info("resumed physical training from %s at epoch %d", path, self.epoch)
        return True

    # ------------------------------------------------------------------ one epoch
    def epoch_batch(self, data: Dataset) -> tuple:
        """The windows fitted this epoch: ``physical_sims_per_fit`` drawn with a (seed, epoch) RNG."""
        return sample_windows(data, self.cfg.trainer.physical_sims_per_fit,
                              seed=int(self.cfg.seed) * 7919 + self.epoch)

    def parameter_scores(self, params: Optional[Dict[str, np.ndarray]] = None) -> Dict[str, float]:
        """The learned parameters and their errors against the truth (``params``: the current
        ones by default), with each family parameter's scalars and their errors."""
        from hyco.physics.families import family_metrics

        values = self.current_params() if params is None else params
        return {**parameter_metrics(values, self.truth, self.learnable), **family_metrics(self.model,
                                                                                          self.current_theta())}

    def validation_loss(self, data: Dataset) -> float:
        import torch

        # A fixed sample keeps the validation loss comparable across epochs and cheap.
        batch = sample_windows(data, 2 * self.cfg.trainer.physical_sims_per_fit, seed=int(self.cfg.seed))
        with torch.no_grad():
            return float(self.loss(self.z, *batch, optimising=False))

    def train_epoch(self, data: Dataset) -> Dict[str, float]:
        """One physical fit on this epoch's windows; returns the epoch's metrics."""
        start = time.perf_counter()
        result = self.fit(*self.epoch_batch(data), iterations=self.cfg.trainer.physical_iterations_per_epoch)
        self.epoch += 1
        metrics = {
            M.PHYSICAL_TOTAL_LOSS: result.loss,
            M.PHYSICAL_FIT_EVALUATIONS: float(result.evaluations),
            **self.parameter_scores(result.params),
        }
        metrics[M.TIME_PHYSICAL] = time.perf_counter() - start
        self.history.append({"epoch": self.epoch, **{k: v for k, v in metrics.items() if M.is_param_metric(k)}})
        return metrics

    def train(self) -> Dict[str, Any]:
        """The ``physical_only`` baseline: fit the observed training windows for ``trainer.epochs``."""
        if self.train_data is None or self.context is None:
            raise ValueError("PhysicalTrainer.train needs train_data and a RunContext")
        self.resume()
        metrics: Dict[str, float] = {}
        epochs = int(self.cfg.trainer.epochs)
        bar = phase_bar(range(self.epoch, epochs), f"{self.cfg.trainer.variant} epochs", initial=self.epoch,
                        total=epochs)
        for _ in bar:
            metrics = self.train_epoch(self.train_data)
            if self.val_data is not None and len(self.val_data) > 0:  # type: ignore[arg-type]
                metrics[M.PHYSICAL_DATA_LOSS] = self.validation_loss(self.val_data)
            bar.set_postfix(bar_metrics(metrics))
            log.debug("epoch %d/%d %s", self.epoch, epochs, " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
            self.context.report(self.epoch, metrics, self.save)
        return {**metrics, "epochs": self.epoch, "params": self.current_params()}
