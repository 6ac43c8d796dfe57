"""The synthetic network of a problem: its channels and padding from the physical model's fields."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Tuple

from torch import nn

from hyco.fields import padding_mode
from hyco.synthetic.registry import NETWORKS, NetworkSpec, network_node

if TYPE_CHECKING:  # pragma: no cover
    from hyco.physics.base import PhysicalModel


def input_channels(cfg: Any, model: "PhysicalModel") -> Tuple[int, int]:
    """(in, out) channels of the synthetic network: dynamic fields, plus static fields and known
    parameters as inputs (one channel each)."""
    dynamic = sum(model.channels.values())
    static = sum(model.converter.fields[n] for n in model.static_fields)
    params = len([n for n in cfg.data.static_fields if n not in model.static_fields])
    return dynamic + static + params, dynamic


def network_spec(cfg: Any, model: "PhysicalModel") -> NetworkSpec:
    """The configured network for ``model``'s state: a forecaster's channels from its fields and
    ``padding: auto`` resolved from their boundaries; a neural field's inputs (coordinates and
    time) and outputs (the dynamic channels), with the domain's box and the horizon for its input
    normalisation."""
    node = network_node(cfg.synthetic)
    entry = NETWORKS.get(cfg.synthetic.name)
    if entry.kind == "field":
        lower, size = getattr(model, "node_box", (model.domain_origin, model.domain_size))
        node.update(lower=[float(lower)] * model.dim, size=float(size),
                    horizon=float(cfg.physics.dt) * (int(cfg.data.num_frames) - 1))
        # a static problem has no time: its neural field takes the coordinates only
        inputs = model.dim + (1 if model.time_dependent else 0)
        return NetworkSpec(str(cfg.synthetic.name), node, model.dim, inputs, sum(model.channels.values()))
    if str(node.get("padding", "")) == "auto":
        node["padding"] = padding_mode(model.field_specs)
    c_in, c_out = input_channels(cfg, model)
    return NetworkSpec(str(cfg.synthetic.name), node, model.dim, c_in, c_out)


def build_model_network(cfg: Any, model: "PhysicalModel") -> Tuple[nn.Module, NetworkSpec]:
    """The network (initialised from ``cfg.seed``) and the spec its checkpoints carry."""
    spec = network_spec(cfg, model)
    return spec.build(seed=int(cfg.seed)), spec
