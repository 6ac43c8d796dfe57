"""What an evaluation may write over a run's recorded results.

A run's evaluation metrics are its results; a damaged checkpoint or a changed environment can
make a re-evaluation non-finite, and MLflow shows the newest value of a metric. So a run that
already holds finite evaluation metrics never gets non-finite ones over them: the evaluation is
refused and nothing is logged. A finite re-evaluation is a new evaluation: it is logged (the
earlier values stay in each metric's history) and the log says so.
"""

from __future__ import annotations

import logging
import math
from typing import Mapping

from hyco.errors import EvaluationError

log = logging.getLogger(__name__)


def guard_recorded(run_id: str, previous: Mapping[str, float], metrics: Mapping[str, float]) -> None:
    """Refuse to log non-finite evaluation metrics over finite ones the run already holds (a damaged
    checkpoint, or a changed environment, must not overwrite a finished run's results); a finite
    re-evaluation is logged, and said to be one (the earlier values stay in each metric's history)."""
    bad = sorted(k for k, v in metrics.items() if not math.isfinite(v))
    kept = [k for k in bad if k in previous and math.isfinite(previous[k]) and abs(previous[k]) < 1e300]
    if kept:
        raise EvaluationError(
            f"evaluation of run {run_id} gave non-finite {', '.join(f'{k}={metrics[k]}' for k in kept[:3])}"
            f"{' and more' if len(kept) > 3 else ''}; nothing was logged, the run keeps its recorded evaluation "
            f"({kept[0]}={previous[kept[0]]:.4g}). Check its checkpoints and data (rerun with -v for details)")
    again = [k for k in metrics if k in previous]
    if again:
        log.info("run %s already had an evaluation: logging a new one (the earlier values stay in each metric's "
                 "history)", run_id)
