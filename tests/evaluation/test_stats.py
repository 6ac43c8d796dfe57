"""Seed statistics: t intervals against a hand-computed case, paired comparisons."""

from __future__ import annotations

import math

import pytest

from hyco.evaluation.stats import paired, t_interval


def test_t_interval_matches_a_hand_computed_case():
    # values 1, 2, 3, 4, 5: mean 3, sample std sqrt(2.5) = 1.58114; t_{0.975, 4} = 2.776445
    s = t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.776445 * math.sqrt(2.5) / math.sqrt(5)
    assert s.n == 5 and s.mean == pytest.approx(3.0) and s.std == pytest.approx(math.sqrt(2.5))
    assert s.low == pytest.approx(3.0 - half, rel=1e-6) and s.high == pytest.approx(3.0 + half, rel=1e-6)
    assert s.format(2) == "3.00 ± 1.58 [1.04, 4.96]"


def test_nan_values_are_left_out_and_small_samples_have_no_interval():
    assert t_interval([math.nan, 2.0]).n == 1 and math.isnan(t_interval([2.0]).low)
    assert t_interval([]).format() == "—" and t_interval([2.0]).format(1) == "2.0"


def test_paired_counts_wins_and_summarises_differences():
    p = paired([0.1, 0.3, 0.2, math.nan], [0.2, 0.25, 0.4, 0.1])
    assert p.n == 3 and p.wins == 2
    assert p.difference.mean == pytest.approx((-0.1 + 0.05 - 0.2) / 3)
    assert p.format(2).startswith("2/3, -0.08 ± ")
