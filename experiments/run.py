"""Run one HYCO experiment: ``python experiments/run.py experiment=burgers_2d_quick task=[generate]``.

The logic lives in :mod:`hyco.app`; ``--cfg job`` prints the composed config, ``-h`` the usage.
"""

import os
import sys

os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files: no display needed (clusters, CI)

from hyco.app.cli import run_main

if __name__ == "__main__":
    sys.exit(run_main())
