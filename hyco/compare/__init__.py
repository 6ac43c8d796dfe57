"""The comparison of arms: every registered arm (or a chosen few) on one problem, equal budgets,
N seeds (:mod:`hyco.compare.comparison`), and the reports over seeds (:mod:`hyco.compare.reports`)."""

from hyco.compare.comparison import (
    ArmResult,
    Comparison,
    all_arms,
    compare,
    compare_runs,
    compose_arm,
    runnable_arms,
)

__all__ = ["ArmResult", "Comparison", "all_arms", "compare", "compare_runs", "compose_arm", "runnable_arms"]
