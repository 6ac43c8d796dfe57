"""Process and CUDA memory, as metrics with stable names (MB).

``MemoryMonitor().snapshot()`` returns (names from :mod:`hyco.metrics`)::

    memory/rss_mb            resident set size of this process now
    memory/rss_peak_mb       highest RSS of this process: max of every value this monitor has seen
                          and the kernel's high-water mark (``getrusage(RUSAGE_SELF).ru_maxrss``),
                          so short spikes between snapshots are not missed
    memory/cuda_alloc_mb     tensors currently allocated by PyTorch on the device (0 without CUDA)
    memory/cuda_reserved_mb  memory held by PyTorch's caching allocator (0 without CUDA)
    memory/cuda_peak_mb      peak allocated since start or the last ``reset_peak`` (0 without CUDA)
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Dict, Optional, Union

import psutil
import torch

from hyco import metrics

try:  # not on Windows
    import resource
except ImportError:  # pragma: no cover - platform dependent
    resource = None  # type: ignore[assignment]

_MB = 1024.0 * 1024.0

METRIC_NAMES = metrics.MEMORY_METRICS


def _ru_maxrss_mb() -> float:
    """Kernel high-water mark of this process's RSS; 0 where ``resource`` is unavailable."""
    if resource is None:
        return 0.0
    peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    # Linux reports kilobytes, macOS bytes.
    return peak / _MB if sys.platform == "darwin" else peak / 1024.0


class MemoryMonitor:
    """Memory use of the current process and of one CUDA device.

    Parameters
    ----------
    device
        CUDA device to report (index, ``"cuda:N"`` or ``torch.device``); ``None``: the current
        device. Ignored when CUDA is not available, in which case the CUDA metrics are 0.

    Notes
    -----
    The RSS peak covers the whole process lifetime (the kernel's high-water mark cannot be
    reset); ``reset_peak`` restarts only the CUDA peak, which is what per-phase GPU peaks need.
    """

    def __init__(self, device: Optional[Union[int, str, torch.device]] = None) -> None:
        self._process = psutil.Process()
        self._cuda = torch.cuda.is_available()
        self._device = device
        self._peak_rss_mb = 0.0
        self.rss_mb()  # start tracking the peak from construction

    # ------------------------------------------------------------------------------ host RSS
    def rss_mb(self) -> float:
        """Current RSS in MB (also updates the tracked peak)."""
        rss = self._process.memory_info().rss / _MB
        self._peak_rss_mb = max(self._peak_rss_mb, rss)
        return rss

    def peak_rss_mb(self) -> float:
        """Highest RSS of the process in MB: tracked maximum or kernel high-water mark."""
        return max(self._peak_rss_mb, _ru_maxrss_mb())

    # ------------------------------------------------------------------------------ CUDA
    @property
    def cuda_available(self) -> bool:
        return self._cuda

    def _cuda_device(self) -> Optional[torch.device]:
        if not self._cuda:
            return None
        if self._device is None:
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device(self._device) if not isinstance(self._device, int) else torch.device("cuda", self._device)

    def cuda_mb(self) -> Dict[str, float]:
        """Allocated, reserved and peak-allocated device memory in MB (zeros without CUDA)."""
        device = self._cuda_device()
        if device is None:
            return {metrics.MEMORY_CUDA_ALLOC: 0.0, metrics.MEMORY_CUDA_RESERVED: 0.0, metrics.MEMORY_CUDA_PEAK: 0.0}
        return {
            metrics.MEMORY_CUDA_ALLOC: torch.cuda.memory_allocated(device) / _MB,
            metrics.MEMORY_CUDA_RESERVED: torch.cuda.memory_reserved(device) / _MB,
            metrics.MEMORY_CUDA_PEAK: torch.cuda.max_memory_allocated(device) / _MB,
        }

    def reset_peak(self) -> None:
        """Restart the CUDA peak counter (no-op without CUDA)."""
        device = self._cuda_device()
        if device is not None:
            torch.cuda.reset_peak_memory_stats(device)

    # ------------------------------------------------------------------------------ output
    def snapshot(self) -> Dict[str, float]:
        """All metrics of :data:`METRIC_NAMES`, in MB."""
        rss = self.rss_mb()
        out = {metrics.MEMORY_RSS: rss, metrics.MEMORY_RSS_PEAK: max(rss, self.peak_rss_mb())}
        out.update(self.cuda_mb())
        return out

    def log(self, logger: Any, prefix: str = "", step: Optional[int] = None) -> Dict[str, float]:
        """Send a snapshot to ``logger`` and return it (with prefixed names).

        ``logger`` may be a metrics logger with ``log_metrics(metrics, step=...)`` (the tracking
        interface, an in-memory recorder in tests) or a :class:`logging.Logger`, which gets one
        INFO line. ``prefix`` is prepended to every name, joined with ``_`` unless it already
        ends with a separator (``"train/"`` -> ``train/memory/rss_mb``; ``"train"`` ->
        ``train_memory/rss_mb``).
        """
        if prefix and prefix[-1] not in "/_.-":
            prefix = prefix + "_"
        values = {prefix + name: value for name, value in self.snapshot().items()}
        if hasattr(logger, "log_metrics"):
            if step is None:
                logger.log_metrics(values)
            else:
                logger.log_metrics(values, step=step)
        elif isinstance(logger, logging.Logger):
            logger.info("memory: %s", ", ".join(f"{k}={v:.1f}" for k, v in values.items()))
        else:
            raise TypeError(
                f"logger: need an object with log_metrics(...) or a logging.Logger, got {type(logger)!r}"
            )
        return values
