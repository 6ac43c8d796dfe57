"""Tiny static problems (no time axis) for the tests: the papers' Helmholtz and Darcy set-ups on
7 x 7 learner nodes, scored on a 9 x 9 reference grid, with small networks; milliseconds per epoch."""

from __future__ import annotations

from typing import List, Sequence

_SHARED = [
    "physics.resolution=[7,7]",
    "data.reference_nodes=9",
    "synthetic.field_mlp.hidden=[16,16,16]",
    "trainer.epochs=4",
    "trainer.checkpoint_every=2",
    "evaluation.reconstruction_every=2",
    "torch_threads=1",
    "device=cpu",
    "tracking.log_model=false",
    "tracking.log_memory=false",
    # the arms' own knobs (tiny_static keeps each for its arm)
    "trainer.hyco.ghost_points=10",
    "trainer.hyco.checkpoint_every=2",
    "trainer.hyco.warmstart_threshold=1000",  # one warm-start epoch (its misfit starts at inf), then exchanges
    "trainer.pinn.hidden=16",
    "trainer.pinn.collocation_points=32",
    "trainer.pinn.boundary_points=16",
    "trainer.pinn.pretrain_threshold=1000",  # one step of the first phase (the physics alone), then all terms
]
TINY_HELMHOLTZ = ["experiment=paper_helmholtz", "observation.num_sensors=12", *_SHARED]
TINY_DARCY = ["experiment=paper_darcy", "data.truth.resolution=[13,13]", "observation.num_sensors=20", *_SHARED]


def tiny_static(arm: str = "cooperative", base: Sequence[str] = TINY_HELMHOLTZ) -> List[str]:
    """``base`` for ``arm``: the preset and the arm first, each arm node's knobs only for its arm."""
    own = {"cooperative": "trainer.hyco.", "pinn": "trainer.pinn."}.get(arm)
    keep = [o for o in base[1:] if not o.startswith(("trainer.hyco.", "trainer.pinn.")) or (own and o.startswith(own))]
    return [base[0], f"trainer={arm}", *keep]
