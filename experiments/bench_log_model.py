"""What ``tracking.log_model`` costs per run: logging the trained network as an MLflow PyTorch
model (signature, input example, ``pt2`` export) against logging its checkpoint file.

    python experiments/bench_log_model.py                       # the sweep's network (2D quick)
    python experiments/bench_log_model.py experiment=burgers_1d_quick --repeats 5

Everything goes to a throwaway MLflow database in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import torch

import hyco.config  # noqa: F401  (registers the schema)
from hyco import tracking
from hyco.compose import compose_config
from hyco.config import TrackingConfig
from hyco.physics.registry import build_physics
from hyco.training.networks import build_model_network, input_channels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("overrides", nargs="*", default=["experiment=burgers_2d_quick"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = compose_config(list(args.overrides))
    model = build_physics(cfg.physics, cfg.data.ic)
    network, _ = build_model_network(cfg, model)
    c_in, _ = input_channels(cfg, model)
    example = torch.randn(2, c_in, *model.converter.sample_shape).numpy()
    params = sum(p.numel() for p in network.parameters())
    with tempfile.TemporaryDirectory() as tmp:
        tracking_cfg = TrackingConfig(tracking_uri=f"sqlite:///{tmp}/mlflow.db", artifact_location=f"{tmp}/artifacts")
        checkpoint = Path(tmp) / "synthetic_best.pt"
        torch.save({"model": network.state_dict()}, checkpoint)
        model_s, artifact_s = [], []
        for _ in range(args.repeats + 1):  # the first round warms imports and the export machinery up
            with tracking.tracked_run(tracking_cfg, "bench_log_model") as logger:
                start = time.perf_counter()
                logger.log_model(network, example)
                model_s.append(time.perf_counter() - start)
                start = time.perf_counter()
                logger.log_artifact(checkpoint, "checkpoints")
                artifact_s.append(time.perf_counter() - start)
    print(f"network: {params} parameters, input example {list(example.shape)} ({' '.join(args.overrides)})")
    print(f"first call (imports, export machinery): log_model {model_s[0]:.2f} s")
    print(f"log_model (pt2, signature, input example): median {statistics.median(model_s[1:]):.2f} s "
          f"over {args.repeats} runs")
    print(f"log_artifact of the checkpoint:            median {statistics.median(artifact_s[1:]) * 1e3:.1f} ms")


if __name__ == "__main__":
    from hyco.core.exits import run_guarded, wants_verbose

    sys.exit(run_guarded(main, verbose=wants_verbose(sys.argv[1:])))  # one line per failure (docs/reliability.md)
