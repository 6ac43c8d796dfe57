"""Held-out evaluation: rollouts of each trained player, metrics per field, figures."""

from hyco.evaluation.evaluate import (  # noqa: F401
    EvaluationResult,
    evaluate_run,
    evaluate_splits,
    relative_l2_per_step,
)
