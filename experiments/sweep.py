"""The platform's main job: an Optuna study over the HYCO variants and baselines.

    python experiments/sweep.py                                  # embedded defaults
    python experiments/sweep.py sweep.n_trials=24 sweep.workers=2
    python experiments/sweep.py sweep.storage=postgresql://user@host/db   # several machines (README)
    python experiments/sweep.py sweep.role=worker ...            # only join an existing study
    python experiments/sweep.py sweep.summary_only=true          # summary of an existing study
    python experiments/sweep.py experiment=burgers_1d_quick trainer.epochs=4   # applied to every trial
    python experiments/sweep.py -v                               # every epoch of every trial (DEBUG)

Rerunning the same command resumes the study. Overrides outside ``sweep.`` apply to every trial.
The console shows one progress display for the study and a line per trial; ``-v``/``--verbose``
(or ``log_level=DEBUG``) brings back the per-epoch lines, which every run also keeps in its
``logs/train.log`` artifact.
"""

import os
import sys

os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files: no display needed (clusters, CI)

from hydra import compose, initialize_config_dir

import hyco.config  # noqa: F401  (registers the schema)
from hyco.config import ConfigError, validate
from hyco.console import setup_logging
from hyco.paths import conf_dir
from hyco.sweep.checks import check_sweep_config

VERBOSE_FLAGS = ("-v", "--verbose")


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    overrides = [a for a in args if a not in VERBOSE_FLAGS]
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose(config_name="config", overrides=overrides)
            validate(cfg)
            setup_logging("DEBUG" if len(overrides) < len(args) else (cfg.log_level or None))
            check_sweep_config(cfg, overrides)
    except ConfigError as err:
        print(f"configuration error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # Hydra's override/type errors name the key (the cause says why)
        cause = f"\n{err.__cause__}" if err.__cause__ is not None else ""
        print(f"configuration error: {err}{cause}", file=sys.stderr)
        return 2
    from hyco.sweep.runner import run_sweep  # imports torch/PhiFlow: only after the checks

    trial_overrides = [o for o in overrides if not o.lstrip("+~").startswith("sweep.")]
    try:
        run_sweep(cfg, trial_overrides)
    except ConfigError as err:  # e.g. a study that holds another problem: refused before any trial
        print(f"configuration error: {err}", file=sys.stderr)
        return 2
    except TimeoutError as err:  # sweep.role=worker found no study (or parent run) to join in time
        print(f"sweep: {err}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
