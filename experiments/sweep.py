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

from hyco.compose import compose_config
from hyco.core.console import setup_logging
from hyco.errors import ConfigError
from hyco.sweep.checks import check_sweep_config

VERBOSE_FLAGS = ("-v", "--verbose")


def _arm_knob(override: str) -> bool:
    """An override of one arm's node (``trainer.hyco.alpha=...``): it applies to the trials of the
    arms that read it, not to the sweep's own config."""
    from hyco.arms import arm_nodes

    parts = override.lstrip("+~").split("=", 1)[0].split(".")
    return len(parts) > 2 and parts[0] == "trainer" and parts[1] in arm_nodes()


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    overrides = [a for a in args if a not in VERBOSE_FLAGS]
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    sweep_only = [o for o in overrides if o.lstrip("+~").startswith("sweep.")]
    trial_overrides = [o for o in overrides if o not in sweep_only]
    try:
        # the sweep's own settings, on the default arm; each arm's trial config is checked below
        cfg = compose_config([*sweep_only, *(o for o in trial_overrides if not _arm_knob(o))])
        setup_logging("DEBUG" if len(overrides) < len(args) else (cfg.log_level or None))
        check_sweep_config(cfg, trial_overrides)
    except ConfigError as err:
        print(f"configuration error: {err}", file=sys.stderr)
        return 2
    from hyco.sweep.runner import (
        run_sweep,  # imports torch/PhiFlow: only after the checks
    )

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
