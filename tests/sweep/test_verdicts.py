"""The terminal's sweep summary: a row per arm within 100 columns, fresh-seed cells, verdicts."""

from __future__ import annotations

import math

from hyco.sweep.summary import SweepSummary
from hyco.sweep.verdicts import console_summary, seed_cell

ARMS = ["synthetic_only", "physical_only", "full", "warmstart", "mixed", "cooperative", "pinn", "aphynity"]


def _summary(seeds: int) -> SweepSummary:
    rows, reeval = [], {}
    for i, arm in enumerate(ARMS):
        value = 1e-3 if arm in ("physical_only", "pinn") else 0.3 + 0.01 * i
        rows.append({"arm": arm, "trial": 100 + i, "forecast_error": value, "test_forecast_error": value,
                     "test_param_error": math.nan if arm == "synthetic_only" else 0.01 * (i + 1),
                     "params": "trainer.lr=0.001", "mlflow_run_id": "0" * 32, "mlflow_run_name": f"{arm}-t{i}"})
        shift = -0.1 if arm == "cooperative" else 0.0
        reeval[arm] = {"trial": 100 + i, "seeds": list(range(1, seeds + 1)),
                       "forecast_error": [value + shift + 0.001 * s for s in range(seeds)],
                       "param_error": [math.nan if arm == "synthetic_only" else 0.01 * (i + 1)] * seeds,
                       "model": f"models:/hyco_default-{arm}@best" if arm not in ("physical_only", "pinn") else ""}
    return SweepSummary("hyco_default", ["forecast_error"], rows, {"COMPLETE": 16, "PRUNED": 0}, reeval=reeval)


def test_summary_fits_100_columns_with_a_row_per_arm_and_a_verdict_per_question():
    for seeds in (2, 5):
        text = console_summary(_summary(seeds), "synthetic_error")
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= 100, text
        for arm in ARMS:
            assert any(line.startswith(arm + " ") for line in lines), arm
        head = next(i for i, line in enumerate(lines) if line.startswith("Verdicts"))
        verdicts = [line.strip() for line in lines[head + 1:]]
        assert verdicts[0].startswith("network forecast: cooperative") and "better on all" in verdicts[0], text
        assert any(v.startswith("physics forecast: pinn") for v in verdicts), text
        assert any(v.startswith("parameter error: full") and "vs physical_only" in v for v in verdicts), text
        assert not any("synthetic_only" in v for v in verdicts if v.startswith("parameter error"))
        assert "models:/hyco_default-cooperative@best" in text and "models:/hyco_default-pinn" not in text


def test_fresh_seed_cells_list_few_seeds_and_floor_the_interval_at_zero():
    assert seed_cell([0.3, 0.31]) == "0.3, 0.31"
    cell = seed_cell([0.01, 0.2, 0.9])
    assert "[0.000," in cell and "±" in cell  # a symmetric interval would reach below zero
    assert seed_cell([]) == "—"
