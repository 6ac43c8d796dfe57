"""The config reference (the docs site's page) is generated from the schema and lists every key,
the arms' and networks' nodes included, each with its declared effect."""

from __future__ import annotations

from omegaconf import OmegaConf

from hyco.arms import available_arms, get_arm
from hyco.compose import compose_config
from hyco.compose.reference import config_reference, schema_keys


def _leaves(node, prefix=""):
    for key, value in node.items():
        if OmegaConf.is_dict(value) and len(value):
            yield from _leaves(value, f"{prefix}{key}.")
        elif value is not None or not prefix.startswith(("trainer.", "synthetic.")):
            yield f"{prefix}{key}"


def test_the_reference_lists_every_key_of_every_arm_and_network():
    page = config_reference()
    keys = set()
    by_node = {}  # one arm per config node: arms that share a node share its keys
    for arm in available_arms():
        by_node.setdefault(get_arm(arm).node, arm)
    for arm in by_node.values():
        cfg = compose_config([f"trainer={arm}"], check=False)
        keys |= {k for k in _leaves(cfg) if not k.startswith(("sweep.search_space.", "hydra"))}
    named = {k if not k.startswith("physics.params.") else "physics.params.<name>." + k.split(".", 3)[3] for k in keys}
    missing = sorted(k for k in named if f"`{k}`" not in page)
    assert not missing, missing
    generated = {k for k, _, _ in schema_keys()}
    assert {"trainer.hyco.alpha", "trainer.pinn.hidden", "trainer.aphynity.tau", "synthetic.unet.levels"} <= generated
    row = next(line for line in page.splitlines() if line.startswith("| `synthetic.unet.levels`"))
    assert ">= 0" in row and "a run (resume fingerprint)" in row and "network unet" in row
    assert "| `data.num_train` |" in page and "the data (cache key)" in page
