"""The comparison of arms: every registered arm (or a chosen few) on one problem, equal budgets,
N seeds (:mod:`hyco.compare.comparison`), and the reports over seeds (:mod:`hyco.compare.reports`)."""

from hyco.compare.comparison import (
    ArmResult,
    all_arms,
    compare,
    compose_arm,
    runnable_arms,
)

__all__ = ["ArmResult", "all_arms", "compare", "compose_arm", "runnable_arms"]
