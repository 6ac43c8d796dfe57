"""Uncertainty over seeds: summaries with Student-t intervals and paired comparisons.

A comparison repeated over ``N`` seeds gives, per arm and metric, ``N`` numbers. We report their
mean, sample standard deviation (``ddof = 1``) and a two-sided 95 % confidence interval of the
mean from Student's t distribution, ``mean ± t_{0.975, N-1} · std / sqrt(N)``: with the 3–10
seeds a comparison can afford, a bootstrap interval would be too coarse and the t interval is the
standard choice (it assumes the seed-to-seed spread is roughly normal; with ``N = 1`` there is no
interval). Arms are compared *paired*: seed ``s`` of every arm sees the same data (see
:func:`hyco.compare.seed_overrides`), so the per-seed differences remove the data's share of the
spread, and the wins ("k of N seeds lower") need no distributional assumption.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from scipy import stats as _scipy_stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """Mean, standard deviation and t interval of one metric over seeds (NaNs left out)."""

    mean: float
    std: float
    low: float
    high: float
    n: int

    def format(self, digits: int = 4, floor: Optional[float] = None) -> str:
        """``mean ± std [low, high]`` (or ``—`` without values); ``floor`` bounds the interval
        below (an error is never negative: the symmetric t interval of two seeds often is)."""
        if self.n == 0:
            return "—"
        text = f"{self.mean:.{digits}f}"
        if self.n > 1:
            low = self.low if floor is None else max(self.low, floor)
            text += f" ± {self.std:.{digits}f} [{low:.{digits}f}, {self.high:.{digits}f}]"
        return text


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    """:class:`Summary` of the finite ``values`` with a two-sided Student-t interval of the mean."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return Summary(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Summary(mean, math.nan, math.nan, math.nan, 1)
    std = float(x.std(ddof=1))
    half = float(_scipy_stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return Summary(mean, std, mean - half, mean + half, n)


@dataclass(frozen=True)
class Paired:
    """Arm against a baseline on the same seeds: wins (arm lower) and the mean difference."""

    wins: int
    n: int
    difference: Summary  # of arm - baseline, per seed

    def format(self, digits: int = 2) -> str:
        if self.n == 0:
            return "—"
        d = self.difference
        spread = f" ± {d.std:.{digits}f}" if self.n > 1 else ""
        return f"{self.wins}/{self.n}, {d.mean:+.{digits}f}{spread}"


def paired(arm: Sequence[float], baseline: Sequence[float]) -> Paired:
    """Compare per-seed values (lower is better); seeds where either is missing are left out."""
    pairs = [(a, b) for a, b in zip(arm, baseline)
             if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)]
    diffs = [a - b for a, b in pairs]
    return Paired(sum(d < 0 for d in diffs), len(pairs), t_interval(diffs))
