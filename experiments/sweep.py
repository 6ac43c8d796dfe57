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

A failure is one line and an exit status per class (docs/reliability.md): 2 configuration, 3 no
such study (summary_only, sweep.role=worker), 5 unreachable or read-only store, 130/143 stopped by
SIGINT/SIGTERM (the running trials are queued to run again: rerun the same command).
"""

import os
import sys

os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files: no display needed (clusters, CI)

from hyco.compose import compose_config
from hyco.core.console import setup_logging
from hyco.core.exits import run_guarded, wants_verbose
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
    return run_guarded(lambda: _main(args), verbose=wants_verbose(args))


def _main(args) -> int:
    overrides = [a for a in args if a not in VERBOSE_FLAGS]
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    sweep_only = [o for o in overrides if o.lstrip("+~").startswith("sweep.")]
    trial_overrides = [o for o in overrides if o not in sweep_only]
    # the sweep's own settings, on the default arm; each arm's trial config is checked below
    cfg = compose_config([*sweep_only, *(o for o in trial_overrides if not _arm_knob(o))])
    setup_logging("DEBUG" if len(overrides) < len(args) else (cfg.log_level or None))
    check_sweep_config(cfg, trial_overrides)
    from hyco.sweep.runner import (
        run_sweep,  # imports torch/PhiFlow: only after the checks
    )

    run_sweep(cfg, trial_overrides)
    return 0


if __name__ == "__main__":
    sys.exit(main())
