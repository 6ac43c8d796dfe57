"""Compare every registered arm on one problem with equal budgets and print a Markdown table.

    python experiments/compare.py experiment=compare_quarter_scalar
    python experiments/compare.py experiment=compare_field_partial --arms physical_only,cooperative
    python experiments/compare.py experiment=compare_quarter_scalar trainer.epochs=10   # Hydra overrides
    python experiments/compare.py experiment=compare_field_partial --seeds 3   # mean ± std, t interval, paired wins

``experiment=<preset>`` is Hydra's spelling, as in run.py and sweep.py; ``--experiment <preset>``
is kept as an alias. A failure is one line and an exit status per class (docs/reliability.md);
-v adds the traceback.
"""

import os
import sys

os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files: no display needed (clusters, CI)
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import argparse
from pathlib import Path


def main(argv=None) -> int:
    from hyco.core.exits import run_guarded, wants_verbose

    args = list(sys.argv[1:] if argv is None else argv)
    return run_guarded(lambda: _main(args), verbose=wants_verbose(args))


def _main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default=None, help="alias of experiment=<preset> (conf/experiment; "
                                                            "default compare_quarter_scalar)")
    parser.add_argument("--arms", default="", help="comma-separated registered arms (default: every arm that "
                                                   "accepts the problem)")
    parser.add_argument("--seeds", type=int, default=1,
                        help="repeat every arm with this many seeds (data ICs, noise and training seed together)")
    parser.add_argument("--output", default=None, help="Markdown file (default: mlruns/comparisons/<experiment>.md)")
    parser.add_argument("-v", "--verbose", action="store_true", help="every epoch on the console, and the "
                                                                     "traceback of a failure")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides applied to every arm that reads them")
    args = parser.parse_intermixed_args(argv)  # Hydra overrides before and after the flags
    arms = [a.strip() for a in args.arms.split(",") if a.strip()] or None

    from hyco.errors import ConfigError

    given = [o.split("=", 1)[1] for o in args.overrides if o.startswith("experiment=")]
    overrides = [o for o in args.overrides if not o.startswith("experiment=")]
    if given and args.experiment and given[-1] != args.experiment:
        raise ConfigError(f"experiment={given[-1]} and --experiment {args.experiment} disagree; give one")
    experiment = (given[-1] if given else None) or args.experiment or "compare_quarter_scalar"

    from hyco.compare import compare
    from hyco.core.console import setup_logging

    setup_logging("DEBUG" if args.verbose else None)  # log lines above the bars; -v shows every epoch
    table = compare(experiment, arms, overrides, Path(args.output) if args.output else None, seeds=args.seeds)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
