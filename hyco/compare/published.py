"""The registry of published results a reproduction runs against, and its verdicts.

A registry file (``experiments/published/*.yaml``) is a list of benchmarks; each names the preset
that sets the experiment up, the protocol (``as published``, ``fair``, ``our protocol``), the
claim, the file of the authors' repository the numbers come from, and its rows::

    - benchmark: heat_quarter
      preset: paper_heat_quarter
      protocol: as published
      claim: ...
      source: MJSteynberg/HYCO-Code DynamicHYCO/Heat/parameters/heat/table/errors_..._quarter.csv
      rows:
        - label: HYCO physical p_error
          arm: cooperative
          metric: eval/recon/param/kappa/p_error
          published: [0.576, 0.542]      # one value, the values of several published runs, or null
                                         # (a number the authors did not publish: reported only)
          overrides: []                  # Hydra overrides of this row's runs (optional)
          published_spread: 0.0          # optional: a published +- around the values
          better: lower                  # lower (errors, default) or higher

Rows with the same preset, arm and overrides share their runs. :func:`verdict` compares our
values over seeds with the published ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from hyco.errors import ConfigError
from hyco.evaluation.stats import Summary, t_interval

PROTOCOLS = ("as published", "fair", "our protocol")
VERDICTS = ("within the published spread", "better", "worse", "no result", "reported (nothing published)")


@dataclass(frozen=True)
class Row:
    """One published number (or several runs of it) and how to get ours."""

    label: str
    arm: str
    metric: str
    published: Tuple[float, ...]
    overrides: Tuple[str, ...] = ()
    spread: float = 0.0
    better: str = "lower"

    @property
    def group(self) -> Tuple[str, Tuple[str, ...]]:
        """The runs this row reads: its arm and overrides (within its benchmark's preset)."""
        return self.arm, self.overrides


@dataclass(frozen=True)
class Benchmark:
    """A published experiment and its rows."""

    name: str
    preset: str
    protocol: str
    claim: str
    source: str
    rows: Tuple[Row, ...]
    origin: str = ""  # the registry file
    notes: str = ""

    def groups(self) -> List[Tuple[str, Tuple[str, ...]]]:
        """The distinct (arm, overrides) run groups of its rows, in order."""
        return list(dict.fromkeys(r.group for r in self.rows))


def _as_values(value: Any, where: str) -> Tuple[float, ...]:
    if value is None:
        return ()
    values = value if isinstance(value, (list, tuple)) else [value]
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: published must be a number or a list of numbers, got {value!r}") from None
    if not all(math.isfinite(v) for v in out):
        raise ConfigError(f"{where}: published must hold finite numbers, got {value!r}")
    return out


def _row(raw: Any, where: str) -> Row:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a row is a mapping with label, arm, metric and published")
    missing = [k for k in ("label", "arm", "metric", "published") if k not in raw]
    if missing:
        raise ConfigError(f"{where}: missing {missing}")
    better = str(raw.get("better", "lower"))
    if better not in ("lower", "higher"):
        raise ConfigError(f"{where}.better: lower or higher, got {better!r}")
    overrides = raw.get("overrides") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise ConfigError(f"{where}.overrides: a list of Hydra overrides, got {overrides!r}")
    return Row(str(raw["label"]), str(raw["arm"]), str(raw["metric"]), _as_values(raw["published"], where),
               tuple(overrides), float(raw.get("published_spread", 0.0) or 0.0), better)


def load_registry(paths: Sequence[Path]) -> List[Benchmark]:
    """Every benchmark of the registry files ``paths`` (a :class:`ConfigError` naming the file and
    entry for a malformed one; benchmark names are unique across files)."""
    out: List[Benchmark] = []
    seen: Dict[str, str] = {}
    for path in paths:
        path = Path(path)
        try:
            entries = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"published-results registry {path}: cannot read it ({err})") from None
        if not isinstance(entries, list):
            raise ConfigError(f"published-results registry {path}: a list of benchmarks, got {type(entries).__name__}")
        for i, raw in enumerate(entries):
            where = f"{path.name}[{i}]"
            if not isinstance(raw, dict) or not {"benchmark", "preset", "rows"} <= set(raw):
                raise ConfigError(f"{where}: a benchmark needs benchmark, preset and rows")
            name = str(raw["benchmark"])
            if name in seen:
                raise ConfigError(f"{where}: benchmark {name!r} is also defined in {seen[name]}")
            protocol = str(raw.get("protocol", "as published"))
            if protocol not in PROTOCOLS:
                raise ConfigError(f"{where}.protocol: one of {PROTOCOLS}, got {protocol!r}")
            rows = tuple(_row(r, f"{where}.rows[{j}]") for j, r in enumerate(raw["rows"] or []))
            if not rows:
                raise ConfigError(f"{where}: no rows")
            seen[name] = path.name
            out.append(Benchmark(name, str(raw["preset"]), protocol, str(raw.get("claim", "")),
                                 str(raw.get("source", "")), rows, path.name, str(raw.get("notes", ""))))
    return out


@dataclass
class Outcome:
    """Our values of one row over seeds, summarised, and the verdict against the published ones."""

    row: Row
    values: List[float] = field(default_factory=list)
    summary: Optional[Summary] = None
    verdict: str = "no result"


def verdict(row: Row, values: Sequence[float]) -> Outcome:
    """Ours against the published: ``within the published spread`` when our interval (a single
    value, with one seed) meets the range of the published values widened by their spread, else
    ``better`` or ``worse`` in the row's sense; ``no result`` without a finite value."""
    summary = t_interval(values)
    if summary.n == 0:
        return Outcome(row, list(values), summary, "no result")
    if not row.published:
        return Outcome(row, list(values), summary, "reported (nothing published)")
    low, high = (summary.low, summary.high) if summary.n > 1 else (summary.mean, summary.mean)
    pub_low, pub_high = min(row.published) - row.spread, max(row.published) + row.spread
    if high >= pub_low and low <= pub_high:
        text = "within the published spread"
    else:
        ours_lower = high < pub_low
        text = "better" if ours_lower == (row.better == "lower") else "worse"
    return Outcome(row, list(values), summary, text)
