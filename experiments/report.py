"""Execute the analysis notebook headless for a study or a comparison: ``make report``.

    python experiments/report.py                                   # make sweep's study
    python experiments/report.py --study my_study --storage sqlite:////tmp/s/optuna.db
    python experiments/report.py --comparison <parent run id>      # a compare.py run

The HTML goes to mlruns/reports/ and to the parent run (:mod:`hyco.app.report`).
"""

import os
import sys

os.environ.setdefault("MPLBACKEND", "Agg")

from hyco.app.report import main

if __name__ == "__main__":
    sys.exit(main())
