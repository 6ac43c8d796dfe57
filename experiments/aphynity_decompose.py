"""What APHYNITY's learned correction ``F_a`` holds, on the held-out states of a run.

    python experiments/aphynity_decompose.py <run id> [--tracking-uri sqlite:///mlruns/mlflow.db]

For a reaction–diffusion run (``aphynity_rd``): the least-squares fit, over every held-out state,
of the correction of each field on the terms of the complete equation the learner may lack,

    F_a,u ≈ α_u Δu + β_u (u − u³ − v) + γ_u,        F_a,v ≈ α_v Δv + β_v (u − v) + γ_v,

with the residual's share of ``‖F_a‖²``. The missing reaction has ``β = 1``, ``γ_u = −k``; a
nonzero ``α`` is diffusion the correction carries, so ``a + α_u`` (``b + α_v``) is the diffusion
the augmented model applies in total: when the learned ``a`` is off by the amount ``α_u`` makes up,
the network took over part of what the physics should explain (the identifiability APHYNITY's
penalty is meant to enforce, not reached at this budget).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from hyco import tracking
from hyco.arms.aphynity import AphynityTrainer
from hyco.core.checkpoints import first_existing, load_checkpoint
from hyco.data.cache import CacheReader
from hyco.data.generate import generate_dataset
from hyco.evaluation.evaluate import run_config
from hyco.physics import build_physics, tensor_ops
from hyco.synthetic.checkpoint import spec_of


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_id")
    parser.add_argument("--tracking-uri", default="")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from hyco.compose import compose_config

    base = compose_config(["experiment=aphynity_rd", "trainer=aphynity", "torch_threads=1"]
                          + ([f"tracking.tracking_uri={args.tracking_uri}"] if args.tracking_uri else []))
    cfg = run_config(args.run_id, base)
    model = build_physics(cfg.physics, cfg.data.ic)
    folder = tracking.download_artifact(args.run_id, "checkpoints", base.tracking)
    path = first_existing(folder, (AphynityTrainer.BEST, AphynityTrainer.LAST))
    state = load_checkpoint(path)
    network = spec_of(state, path).build()
    network.load_state_dict(state["model"])
    network.eval()
    learned = {n: float(np.asarray(v).mean()) for n, v in state["physical"]["params"].items()}
    reader = CacheReader(generate_dataset(cfg).path)
    sims = [reader.load("test", i) for i in range(reader.num_sims("test"))]
    x = torch.from_numpy(np.concatenate([np.concatenate([s["truth_u"], s["truth_v"]], axis=1) for s in sims]))
    with torch.no_grad():
        out = network(x)
        correction = (out - x if getattr(network, "residual", False) else out).double().numpy()
    u, v = x[:, :1].double(), x[:, 1:].double()
    walls = model.spec("u").boundary
    lap_u, lap_v = (tensor_ops.laplace(f, model.dx, walls).numpy().ravel() for f in (u, v))
    u, v = u.numpy().ravel(), v.numpy().ravel()
    print(f"run {args.run_id}: learned {learned}; {x.shape[0]} held-out states of {list(model.resolution)}")
    for name, lap, reaction, target in (("u", lap_u, u - u ** 3 - v, correction[:, 0].ravel()),
                                        ("v", lap_v, u - v, correction[:, 1].ravel())):
        basis = np.stack([lap, reaction, np.ones_like(lap)], 1)
        coef, *_ = np.linalg.lstsq(basis, target, rcond=None)
        rest = target - basis @ coef
        share = float((rest ** 2).sum() / max((target ** 2).sum(), 1e-30))
        diffusion = "a" if name == "u" else "b"
        print(f"  F_a,{name} = {coef[0]:+.3g} Δ{name} {coef[1]:+.4f} reaction {coef[2]:+.4f}; unexplained share "
              f"{share:.3f}; {diffusion} learned {learned[diffusion]:.4g} + carried {coef[0]:+.3g} = "
              f"{learned[diffusion] + coef[0]:.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
