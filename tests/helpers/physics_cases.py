"""The tiny configurations every registered model declares (``PhysicalModel.TINY_CASES``), in the
mapping form the physics tests use: ``{case: {"physics": ..., "ic": ..., "invalid": [...]}}``."""

from __future__ import annotations

import copy

from hyco.physics.registry import tiny_cases

CASES = {name: {"physics": copy.deepcopy(dict(case.physics)), "ic": copy.deepcopy(case.ic),
                "invalid": list(case.invalid)}
         for name, case in tiny_cases().items()}
