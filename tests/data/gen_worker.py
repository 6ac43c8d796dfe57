"""Entry point of the spawned processes in the concurrency test (importable by the children)."""

from __future__ import annotations

from typing import Any, Dict


def generate_in_child(plain_cfg: Dict[str, Any], barrier: Any, results: Any) -> None:
    """Rebuild the typed config, wait for the sibling, generate, report ``(hit, key, path)``."""
    import torch

    torch.set_num_threads(1)
    from hyco.compose import load_run_config
    from hyco.data.generate import generate_dataset

    cfg = load_run_config(plain_cfg)
    barrier.wait(timeout=120)  # both processes are past their imports: start together
    try:
        result = generate_dataset(cfg, progress=False)
        results.put(("ok", result.hit, result.key, str(result.path)))
    except BaseException as exc:  # report instead of dying silently
        results.put(("error", repr(exc), "", ""))
        raise
