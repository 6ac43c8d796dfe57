"""Tiny reconstruction problems (scattered observations of one trajectory) for the tests.

The heat papers' set-up shrunk: 8 x 8 learner nodes, a 15 x 15 truth with a finer time step, 6
frames, moving lattice sensors, a small neural field; each epoch takes milliseconds.
"""

from __future__ import annotations

TINY_RECON = [
    "experiment=paper_heat_quarter",
    "physics.resolution=[8,8]",
    "physics.jit_frames=5",
    "data.truth.resolution=[15,15]",
    "data.truth.dt=0.002",
    "data.num_frames=6",
    "observation.lattice=4",
    "observation.num_sensors=10",
    "synthetic.field_mlp.hidden=[16,16]",
    "trainer.epochs=4",
    "trainer.batch_size=64",
    "evaluation.reconstruction_every=2",
    "torch_threads=1",
    "device=cpu",
    # the HYCO arms' own knobs (tiny_recon leaves them out for the other arms)
    "trainer.hyco.ghost_points=5",
    "trainer.hyco.checkpoint_every=2",
]


def tiny_recon(arm: str = "cooperative", base=None) -> list:
    """:data:`TINY_RECON` (or ``base``) for ``arm``: the arm first, ``trainer.hyco.*`` only for
    the HYCO arms that read them."""
    base = TINY_RECON if base is None else base
    keep = [o for o in base if arm == "cooperative" or not o.startswith("trainer.hyco.")]
    return [keep[0], f"trainer={arm}", *keep[1:]]

# Gray-Scott on a tiny periodic grid from a disc, random tuples: the network and the physics both
# on two fields.
TINY_RECON_GS = [
    "experiment=paper_gray_scott",
    "physics.resolution=[8,8]",
    "physics.domain_origin=0.0",
    "physics.domain_size=12.5",
    "physics.dt=2.0",
    "physics.substeps=5",
    "data.ic.centre=[6.25,6.25]",
    "data.ic.radius=2.5",
    "data.num_frames=5",
    "observation.num_sensors=120",
    "synthetic.field_mlp.hidden=[16,16]",
    "trainer.epochs=4",
    "trainer.batch_size=40",
    "trainer.hyco.warmstart_epochs=2",
    "trainer.hyco.ghost_batch=40",
    "trainer.hyco.synthetic_lbfgs_iterations=2",
    "trainer.hyco.checkpoint_every=1",
    "evaluation.reconstruction_every=1",
    "torch_threads=1",
    "device=cpu",
]
