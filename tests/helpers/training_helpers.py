"""Helpers of the trainer tests: tiny Hydra configs, the CLI in a subprocess, checkpoint tensors.

Every config points its MLflow database (a copy of the session's migrated template), its
artifacts and its data cache into pytest's temporary directories, never into the repository's
``mlruns/`` or ``data/cache``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import TensorDataset

from hyco.compose import compose_config
from hyco.config import HycoConfig, TrackingConfig
from hyco.core.paths import project_root

# 1D, 16 cells, 6 frames, 2+1+1 simulations, a one-level UNet with 4 filters: ~20 ms per epoch.
TINY_SYNTHETIC = [
    "experiment=burgers_1d_quick",
    "trainer=synthetic_only",
    "physics.resolution=[16]",
    "data.num_train=2",
    "data.num_val=1",
    "data.num_test=1",
    "data.num_frames=6",
    "data.generation_batch=4",
    "trainer.rollout_steps=2",
    "trainer.batch_size=4",
    "trainer.epochs=3",
    "synthetic.unet.levels=1",
    "synthetic.unet.filters=4",
    "torch_threads=1",
    "device=cpu",
]

# 1D, 32 cells, noise-free full observations: nu is identifiable from a few 3-step windows.
TINY_PHYSICAL_1D = [
    "experiment=burgers_1d_quick",
    "trainer=physical_only",
    "physics.resolution=[32]",
    "data.num_train=2",
    "data.num_val=0",
    "data.num_test=0",
    "data.num_frames=6",
    "data.generation_batch=4",
    "trainer.rollout_steps=3",
    "trainer.epochs=2",
    "trainer.physical_sims_per_fit=4",
    "torch_threads=1",
    "device=cpu",
]


def tracking_overrides(tracking: TrackingConfig) -> List[str]:
    return [
        f"tracking.tracking_uri='{tracking.tracking_uri}'",
        f"tracking.artifact_location='{tracking.artifact_location}'",
    ]


def compose_cfg(*overrides: str) -> DictConfig:
    """The composed config (arm and network nodes settled), not yet checked against the models."""
    return compose_config(list(overrides), check=False)


# ------------------------------------------------------------------------------ subprocesses
RUN_PY = project_root() / "experiments" / "run.py"


def cli_env() -> dict:
    """The environment of the entry points the tests run as subprocesses: one thread, no telemetry,
    and this checkout first on the path, so a child runs the code under test whatever the
    environment's install of hyco points at."""
    env = dict(os.environ)
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", PYTHONUNBUFFERED="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HYDRA_FULL_ERROR="0", TQDM_DISABLE="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(project_root()), env.get("PYTHONPATH", "")) if p)
    return env


def cli_command(*overrides: str) -> List[str]:
    return [sys.executable, str(RUN_PY), *overrides]


def run_cli(cwd: Path, *overrides: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``experiments/run.py`` with ``overrides`` in a subprocess (cwd ``cwd``), to completion."""
    return subprocess.run(cli_command(*overrides), cwd=cwd, env=cli_env(), capture_output=True, text=True,
                          timeout=timeout)


def checkpoint_tensors(state) -> dict:
    """Every tensor of a (nested) checkpoint, by dotted path."""
    out = {}

    def walk(prefix, value):
        if torch.is_tensor(value):
            out[prefix] = value
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(f"{prefix}.{i}", v)

    walk("", state)
    return out


# ------------------------------------------------------------------------------ unit-level
def unit_cfg(**trainer) -> DictConfig:
    """The schema's defaults (CPU, seed 0) with ``trainer`` overrides; no physics needed."""
    cfg = OmegaConf.structured(HycoConfig)
    cfg.device = "cpu"
    for key, value in trainer.items():
        cfg.trainer[key] = value
    return cfg


def toy_windows(n: int = 8, steps: int = 2, res: int = 16, static: int = 0, seed: int = 0) -> TensorDataset:
    """Windows ``(x0 [C+S, res], targets [K, 1, res], masks [K, 1, res])`` of a damped shift:
    ``u_{k+1}(x) = 0.9 u_k(x - dx)`` -- exactly what a 3-wide circular convolution can learn."""
    rng = np.random.default_rng(seed)
    x = (np.arange(res) + 0.5) / res
    u0 = np.stack([np.sin(2 * np.pi * (x + rng.uniform())) * rng.uniform(0.5, 1.0) for _ in range(n)])[:, None]
    frames, u = [], u0
    for _ in range(steps):
        u = 0.9 * np.roll(u, 1, axis=-1)
        frames.append(u)
    targets = torch.tensor(np.stack(frames, 1), dtype=torch.float32)
    x0 = torch.tensor(u0, dtype=torch.float32)
    if static:
        x0 = torch.cat([x0, torch.tensor(rng.uniform(size=(n, static, res)), dtype=torch.float32)], 1)
    return TensorDataset(x0, targets, torch.ones(n, steps, 1, res))


def toy_network(in_channels: int = 1, out_channels: int = 1, seed: int = 0) -> torch.nn.Module:
    from hyco.synthetic.registry import build_network

    return build_network({"name": "unet", "unet": {"levels": 1, "filters": 4}}, 1, in_channels, out_channels, seed=seed)
