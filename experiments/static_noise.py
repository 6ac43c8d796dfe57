"""The noise sweep of the static Darcy experiment: every arm, N seeds, each noise level a comparison.

    python experiments/static_noise.py --seeds 3 torch_threads=1                     # levels 0 ... 0.5
    python experiments/static_noise.py --levels 0,0.1,0.2 --arms physical_only,cooperative --seeds 2
    python experiments/static_noise.py --experiment paper_darcy trainer.epochs=500  # Hydra overrides

Each level runs ``experiments/compare.py``'s machinery (:func:`hyco.compare.compare_runs`, its seed
scheme, one MLflow parent run and Markdown table per level) with ``observation.noise=<level>``
(sigma = level x max |u_obs|). The papers' figure is then drawn from the runs: the solution's
relative L2 on the 50 x 50 grid (each arm's players: the physical solve, the network, the PINN's
network) and the parameter error ``||theta - theta*|| / ||theta*||`` against the noise level, mean
over seeds with a band of +- one standard deviation. The figure, the CSV of every value and a
Markdown summary go to ``--output`` (default ``docs/img/static_noise``, the figure the docs site
shows) and to one MLflow run (experiment ``static_noise``) that names the comparisons' parent runs.
"""

import os
import sys

os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files: no display needed (clusters, CI)
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import argparse
from pathlib import Path

LEVELS = "0,0.05,0.1,0.2,0.3,0.4,0.5"
ARMS = "synthetic_only,physical_only,cooperative,pinn"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="paper_darcy", help="a static preset (conf/experiment)")
    parser.add_argument("--levels", default=LEVELS, help=f"comma-separated noise levels (default {LEVELS})")
    parser.add_argument("--arms", default=ARMS, help=f"comma-separated arms (default {ARMS})")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per arm and level (default 3)")
    parser.add_argument("--output", default=None, help="files' stem (default docs/img/static_noise)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides applied to every run")
    args = parser.parse_args()

    from hyco.compare.noise import noise_sweep
    from hyco.core.console import setup_logging
    from hyco.core.paths import project_root
    from hyco.errors import ConfigError

    setup_logging()
    levels = [float(v) for v in args.levels.split(",") if v.strip()]
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    output = Path(args.output) if args.output else project_root() / "docs" / "img" / "static_noise"
    try:
        summary = noise_sweep(args.experiment, levels, arms, args.seeds, list(args.overrides), output)
    except ConfigError as err:
        print(f"configuration error: {err}", file=sys.stderr)
        return 2
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
