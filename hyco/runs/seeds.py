"""The one seed scheme of repeated runs (comparisons over seeds, a sweep's fresh-seed
re-evaluation): seed ``s`` changes the data, the observations and the training together, the same
way for every arm, so seed ``s`` of any arm sees exactly the same data."""

from __future__ import annotations

from typing import Any, List

#: data IC seeds of seed ``s`` start at ``data.seed + SEED_STRIDE * s`` (splits hold fewer sims)
SEED_STRIDE = 1000


def seed_overrides(cfg: Any, seed: int) -> List[str]:
    """The overrides of seed ``s``: the data's IC seeds shifted by ``SEED_STRIDE * s``, the
    observation seed (sensors, noise) by ``s`` and the training seed by ``s``. Seed 0 is the preset
    itself."""
    if seed == 0:
        return []
    if max(int(cfg.data.num_train), int(cfg.data.num_val), int(cfg.data.num_test)) >= SEED_STRIDE:
        raise ValueError(f"--seeds: a split with >= {SEED_STRIDE} simulations would overlap the next seed's data")
    return [f"data.seed={int(cfg.data.seed) + SEED_STRIDE * seed}",
            f"observation.seed={int(cfg.observation.seed) + seed}", f"seed={int(cfg.seed) + seed}"]
