"""Reconstruction scores on cases with a known answer, and the minimum over the last epochs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from recon_helpers import TINY_RECON

from hyco.compose import compose_config
from hyco.data.cache import CacheReader
from hyco.data.generate import generate_dataset
from hyco.data.scattered import ScatteredData, reconstruction_scores
from hyco.evaluation.reconstruction import window_minimum


def test_scores_of_a_scaled_truth_are_known():
    gen = torch.Generator().manual_seed(0)
    truth = torch.randn(1, 4, 2, 5, 5, generator=gen, dtype=torch.float64)
    scores = reconstruction_scores(1.1 * truth, truth)
    assert scores["rel_l2"] == pytest.approx(0.1, rel=1e-12)
    # mse: the sum over the two channels of each one's mean squared error
    expected = sum(float((0.1 * truth[:, :, c]).square().mean()) for c in range(2))
    assert scores["mse"] == pytest.approx(expected, rel=1e-12)


def test_a_field_is_scored_on_the_truths_own_finer_grid(tmp_path):
    cfg = compose_config([*TINY_RECON, f"data.cache_dir={tmp_path}"])
    data = ScatteredData.open(cfg, CacheReader(generate_dataset(cfg, progress=False).path))
    reference, (first, spacing) = data.reference()
    assert reference.shape[2:] == (15, 15) and first == pytest.approx((-3.0, -3.0))
    assert spacing == pytest.approx((6 / 14, 6 / 14))

    def exact(points):  # reads the fine truth where the points are (they are its samples, in order)
        out = []
        for p in points:
            t = int(round(float(p[2]) / float(data.times[1])))
            i, j = (int(round((float(p[d]) - first[d]) / spacing[d])) for d in range(2))
            out.append(float(reference[t, 0, i, j]))
        return 1.2 * torch.tensor(out, dtype=torch.float64)[:, None]

    assert data.field_error(exact)["rel_l2"] == pytest.approx(0.2, rel=1e-6)


def test_the_window_minimum_reads_only_the_last_epochs():
    history = [(1, 0.1), (2, 0.5), (3, 0.4), (4, float("nan")), (5, 0.45)]
    assert window_minimum(history, 3) == 0.4  # epochs 3..5
    assert window_minimum(history, 10) == 0.1
    assert math.isnan(window_minimum([], 3))
    assert window_minimum([(7, 2.0)], 1) == 2.0 and np.isfinite(window_minimum(history, 1))
