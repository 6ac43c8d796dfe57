"""Reproductions: the registry of published results, the verdicts, and a tiny benchmark run end to
end with seeds, then reused when the same command is repeated."""

from __future__ import annotations

import csv
import io

import pytest
from recon_helpers import TINY_RECON

from hyco.compare.published import Row, load_registry, verdict
from hyco.compare.reproduce import reproduce
from hyco.errors import ConfigError

TINY_SHARED = [o for o in TINY_RECON[1:] if not o.startswith("trainer.hyco.")]


def test_verdicts_compare_our_interval_with_the_published_range():
    row = Row("p", "cooperative", "m", (0.5, 0.6))
    assert verdict(row, [0.55, 0.57, 0.58]).verdict == "within the published spread"
    assert verdict(row, [0.2, 0.21, 0.22]).verdict == "better"
    assert verdict(row, [0.9, 0.91, 0.92]).verdict == "worse"
    assert verdict(Row("p", "a", "m", (0.5,), better="higher"), [0.9, 0.91]).verdict == "better"
    assert verdict(Row("p", "a", "m", (0.5,), spread=0.1), [0.58]).verdict == "within the published spread"
    assert verdict(row, [float("nan")]).verdict == "no result"
    assert verdict(Row("p", "a", "m", ()), [0.3]).verdict == "reported (nothing published)"
    wide = verdict(row, [0.1, 0.9])  # a wide interval meets the range
    assert wide.verdict == "within the published spread" and wide.summary.n == 2


def test_a_malformed_registry_is_refused_naming_the_entry(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {benchmark: a, preset: p, rows: [{label: x, arm: y, metric: z}]}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml\[0\].rows\[0\]: missing \['published'\]"):
        load_registry([bad])
    bad.write_text("- {benchmark: a, preset: p, protocol: mine, rows: [{label: x, arm: y, metric: z, published: 1}]}\n")
    with pytest.raises(ConfigError, match="protocol"):
        load_registry([bad])
    good = tmp_path / "good.yaml"
    good.write_text("- {benchmark: a, preset: p, rows: [{label: x, arm: y, metric: z, published: [1, 2]}]}\n")
    with pytest.raises(ConfigError, match="also defined"):
        load_registry([good, good])
    with pytest.raises(ConfigError, match="unknown"):
        reproduce(["nope"], 1, [good])
    assert load_registry([good])[0].rows[0].published == (1.0, 2.0)


def test_a_tiny_benchmark_runs_with_seeds_and_is_reused_when_repeated(tmp_path, make_overrides):
    registry = tmp_path / "tiny.yaml"
    registry.write_text("""
- benchmark: tiny_heat
  preset: paper_heat_quarter
  protocol: our protocol
  claim: a test
  source: none
  rows:
    - {label: physics p_error, arm: physical_only, metric: eval/recon/param/kappa/p_error, published: [1.0, 1.2]}
    - {label: physics rel. L2, arm: physical_only, metric: eval/recon/physical/rel_l2_final, published: null}
    - {label: network rel. L2, arm: synthetic_only, metric: eval/recon/synthetic/rel_l2_final, published: 0.5}
""")
    overrides = [o for o in make_overrides(base=TINY_SHARED)]
    output = tmp_path / "out" / "tiny.md"
    table = reproduce(["tiny_heat"], 2, [registry], overrides, output)
    assert "### tiny_heat (our protocol)" in table and "reported (nothing published)" in table
    assert f"Every run also had (after its row's own overrides, so these win): `{' '.join(overrides)}`" in table
    rows = list(csv.DictReader(io.StringIO(output.with_suffix(".csv").read_text())))
    assert len(rows) == 3 * 2 and {r["seed"] for r in rows} == {"0", "1"}
    assert all(float(r["value"]) > 0 for r in rows)
    first_ids = {r["run_id"] for r in rows}
    assert len(first_ids) == 4  # two arms x two seeds; rows of one arm share its runs
    assert output.with_suffix(".png").stat().st_size > 0
    # the same command again: every finished run is reused, the table is the same
    again = reproduce(["tiny_heat"], 2, [registry], overrides, output)
    assert {r["run_id"] for r in csv.DictReader(io.StringIO(output.with_suffix(".csv").read_text()))} == first_ids
    assert again.split("Wall time")[0] == table.split("Wall time")[0]
    # the table of what finished, training nothing: a third seed has no run, its rows say n = 2
    only = reproduce(["tiny_heat"], 3, [registry], overrides, output, train=False)
    rows = list(csv.DictReader(io.StringIO(output.with_suffix(".csv").read_text())))
    assert {r["run_id"] for r in rows if r["seed"] != "2"} == first_ids
    assert {r["run_id"] for r in rows if r["seed"] == "2"} == {""}
    assert all(line.split(" | ")[-2] == "2" for line in only.splitlines() if line.startswith("| physics p_error"))
