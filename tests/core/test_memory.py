"""MemoryMonitor: RSS, peak and CUDA metrics with stable names."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from hyco import metrics as M
from hyco.core.memory import METRIC_NAMES, MemoryMonitor


def test_snapshot_names_and_values() -> None:
    mon = MemoryMonitor()
    snap = mon.snapshot()
    assert tuple(snap) == METRIC_NAMES
    assert all(isinstance(v, float) for v in snap.values())
    assert snap[M.MEMORY_RSS] > 0
    assert snap[M.MEMORY_RSS_PEAK] >= snap[M.MEMORY_RSS]
    if not torch.cuda.is_available():
        assert snap[M.MEMORY_CUDA_ALLOC] == snap[M.MEMORY_CUDA_RESERVED] == snap[M.MEMORY_CUDA_PEAK] == 0.0


def test_peak_follows_an_allocation() -> None:
    mon = MemoryMonitor()
    before = mon.snapshot()
    block = np.ones(64 * 1024 * 1024 // 8)  # 64 MB, written so the pages are resident
    during = mon.snapshot()
    del block
    after = mon.snapshot()
    assert during[M.MEMORY_RSS] >= before[M.MEMORY_RSS] + 50
    assert after[M.MEMORY_RSS_PEAK] >= during[M.MEMORY_RSS] >= after[M.MEMORY_RSS] - 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_metrics() -> None:
    mon = MemoryMonitor()
    mon.reset_peak()
    x = torch.empty(32 * 1024 * 1024 // 4, device="cuda")  # 32 MB
    held = mon.snapshot()
    assert held[M.MEMORY_CUDA_ALLOC] >= 32 and held[M.MEMORY_CUDA_RESERVED] >= held[M.MEMORY_CUDA_ALLOC]
    del x
    freed = mon.snapshot()
    assert freed[M.MEMORY_CUDA_ALLOC] <= held[M.MEMORY_CUDA_ALLOC] - 32
    assert freed[M.MEMORY_CUDA_PEAK] >= held[M.MEMORY_CUDA_ALLOC]


class _Recorder:
    def __init__(self) -> None:
        self.calls = []

    def log_metrics(self, metrics, step=None) -> None:
        self.calls.append((dict(metrics), step))


def test_log_to_metrics_logger_and_logging(caplog: pytest.LogCaptureFixture) -> None:
    mon = MemoryMonitor()
    rec = _Recorder()
    out = mon.log(rec, prefix="train/", step=3)
    assert rec.calls == [(out, 3)] and set(out) == {"train/" + n for n in METRIC_NAMES}
    assert set(mon.log(rec, prefix="physical")) == {"physical_" + n for n in METRIC_NAMES}
    assert rec.calls[1][1] is None
    with caplog.at_level(logging.INFO, logger="hyco.test"):
        mon.log(logging.getLogger("hyco.test"))
    assert f"{M.MEMORY_RSS}=" in caplog.text
    with pytest.raises(TypeError):
        mon.log(object())
