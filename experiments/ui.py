"""Serve the MLflow UI and optuna-dashboard on loopback for the local stores: ``make ui``.

    python experiments/ui.py                       # mlruns/mlflow.db and mlruns/optuna.db
    python experiments/ui.py --storage postgresql://... --tracking-uri http://10.0.0.5:5000

Ctrl-C stops both (:mod:`hyco.app.ui`).
"""

import sys

from hyco.app.ui import main

if __name__ == "__main__":
    sys.exit(main())
