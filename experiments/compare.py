"""Compare every registered arm on one problem with equal budgets and print a Markdown table.

    python experiments/compare.py --experiment compare_quarter_scalar
    python experiments/compare.py --experiment compare_field_partial --arms physical_only,cooperative
    python experiments/compare.py --experiment compare_quarter_scalar trainer.epochs=10   # Hydra overrides
    python experiments/compare.py --experiment compare_field_partial --seeds 3   # mean ± std, t interval, paired wins
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files: no display needed (clusters, CI)

import argparse
import os
from pathlib import Path

from hyco.compare import ARMS, compare
from hyco.console import setup_logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="compare_quarter_scalar", help="experiment preset (conf/experiment)")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated subset of {','.join(ARMS)}")
    parser.add_argument("--seeds", type=int, default=1,
                        help="repeat every arm with this many seeds (data ICs, noise and training seed together)")
    parser.add_argument("--output", default=None, help="Markdown file (default: mlruns/comparisons/<experiment>.md)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides applied to every arm")
    args = parser.parse_args()
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        parser.error(f"--arms: unknown arm(s) {unknown}; choose from {list(ARMS)}")
    setup_logging()  # log lines above the per-phase bars; HYCO_LOG_LEVEL=DEBUG shows every epoch
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if args.seeds < 1:
        parser.error(f"--seeds: must be >= 1, got {args.seeds}")
    table = compare(args.experiment, arms, list(args.overrides), Path(args.output) if args.output else None,
                    seeds=args.seeds)
    print(table)


if __name__ == "__main__":
    main()
