"""Run the papers' experiments with N seeds and set our numbers beside the published ones.

    python experiments/reproduce.py --list                                  # the registry
    python experiments/reproduce.py --benchmarks heat_quarter --seeds 3     # one benchmark, 3 seeds
    python experiments/reproduce.py --benchmarks gray_scott,gray_scott_fair
    python experiments/reproduce.py --benchmarks heat_full trainer.epochs=300   # Hydra overrides for every run
    python experiments/reproduce.py --benchmarks heat_full --arms physical_only --seeds 5
    python experiments/reproduce.py --benchmarks heat_half --only-seeds 1   # one process per seed, then
    python experiments/reproduce.py --benchmarks heat_half                  # the table, reusing their runs
    python experiments/reproduce.py --benchmarks heat_half --table-only     # the finished runs' table, training nothing

Each benchmark (experiments/published/*.yaml) names a preset, its protocol (as published, fair,
our protocol), the claim and the authors' source file; each row an arm, a metric and the
published values. The table (ours: mean ± std [95 % t interval] over seeds; a verdict against
the published range) is printed and written as Markdown, CSV and a figure under
mlruns/reproductions/ and one MLflow parent run (experiment "reproductions"). Rerunning the same
command reuses the runs that finished (--no-reuse retrains them).
"""

import os
import sys

os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files: no display needed (clusters, CI)
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import argparse
from pathlib import Path

REGISTRY = Path(__file__).resolve().parent / "published"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmarks", default="", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per run group (default 3)")
    parser.add_argument("--arms", default="", help="comma-separated arms: keep only their rows")
    parser.add_argument("--only-seeds", default="", help="comma-separated seeds of the --seeds to run here "
                                                          "(processes sharing a reproduction; a last call "
                                                          "without it reuses their runs)")
    parser.add_argument("--registry", nargs="*", default=None,
                        help=f"registry files (default: {REGISTRY}/*.yaml)")
    parser.add_argument("--output", default=None, help="Markdown file (default: mlruns/reproductions/<names>.md)")
    parser.add_argument("--list", action="store_true", help="print the registry and exit")
    parser.add_argument("--no-reuse", action="store_true", help="retrain runs that already finished")
    parser.add_argument("--table-only", action="store_true",
                        help="train nothing: the table of the runs that finished (the others: no result)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides applied to every run")
    args = parser.parse_args()

    from hyco.compare.published import load_registry
    from hyco.compare.reproduce import reproduce
    from hyco.core.console import setup_logging
    from hyco.errors import ConfigError

    setup_logging()
    registry = [Path(p) for p in args.registry] if args.registry else sorted(REGISTRY.glob("*.yaml"))
    names = [n.strip() for n in args.benchmarks.split(",") if n.strip()]
    try:
        if args.list:
            for bench in load_registry(registry):
                print(f"{bench.name:<22} {bench.protocol:<13} preset={bench.preset:<24} "
                      f"runs per seed: {len(bench.groups())}  ({bench.origin})")
            return 0
        table = reproduce(names, args.seeds, registry, list(args.overrides),
                          Path(args.output) if args.output else None, reuse=not args.no_reuse,
                          arms=[a.strip() for a in args.arms.split(",") if a.strip()] or None,
                          only_seeds=[int(s) for s in args.only_seeds.split(",") if s.strip()] or None,
                          train=not args.table_only)
    except ConfigError as err:
        print(f"configuration error: {err}", file=sys.stderr)
        return 2
    print(table)
    return 0


if __name__ == "__main__":
    from hyco.core.exits import run_guarded, wants_verbose

    sys.exit(run_guarded(main, verbose=wants_verbose(sys.argv[1:])))  # one line per failure (docs/reliability.md)
