"""Registry of synthetic networks and the spec that rebuilds a trained one.

A network is one module under ``hyco/synthetic/networks/`` (imported on the first look-up) or in a
plug-in package, which registers a builder with its typed config node::

    @dataclass
    class UNetConfig:
        levels: int = 2
        ...

    @register_network("unet", config=UNetConfig)
    class UNet(nn.Module):
        @classmethod
        def from_config(cls, cfg, dim, in_channels, out_channels): ...

``synthetic.name=unet`` picks it and ``synthetic.unet.<knob>`` holds its knobs (the node of every
other network is absent). A :class:`NetworkSpec` records what a network was built from (name,
resolved knobs, dimension, channels); checkpoints carry it, so a trained network is rebuilt from its
checkpoint alone (:mod:`hyco.synthetic.checkpoint`), never from a run's config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, TypeVar

import torch
from torch import nn

from hyco.core.plain import to_plain
from hyco.core.registry import Registry
from hyco.errors import ConfigError

__all__ = ["NETWORKS", "NetworkEntry", "NetworkSpec", "available_networks", "build_network", "register_network"]

#: ``builder(cfg, dim, in_channels, out_channels) -> nn.Module``; ``cfg`` is the network's own node
NetworkBuilder = Callable[[Any, int, int, int], nn.Module]
_T = TypeVar("_T")


@dataclass(frozen=True)
class NetworkEntry:
    """A registered network: its builder and the dataclass of its config node (None: no knobs)."""

    name: str
    builder: NetworkBuilder
    config: Optional[type] = None
    #: ``forecaster``: maps the state ``[B, C, *s]`` at t to t+1; ``field``: maps coordinates to values
    kind: str = "forecaster"
    #: ``check(spec, sample_shape)`` raises ``ValueError`` (naming the key) when the network cannot
    #: take the problem's state, before any compute
    check: Optional[Callable[["NetworkSpec", tuple], None]] = None


NETWORKS: Registry[NetworkEntry] = Registry("network", key="synthetic.name", discover="hyco.synthetic.networks")


def register_network(name: str, config: Optional[type] = None, kind: str = "forecaster",
                     check: Optional[Callable[["NetworkSpec", tuple], None]] = None) -> Callable[[_T], _T]:
    """Class/function decorator that registers a network under ``name``.

    A decorated class must provide ``from_config(cfg, dim, in_channels, out_channels)``
    (classmethod); a decorated function is itself the builder with that signature. ``config`` is
    the dataclass of the network's knobs, its node ``synthetic.<name>``; ``check`` refuses a
    problem the network cannot take (see :class:`NetworkEntry`).
    """

    def decorator(obj: _T) -> _T:
        builder = getattr(obj, "from_config", obj) if isinstance(obj, type) else obj
        if not callable(builder):
            raise TypeError(f"register_network('{name}'): {obj!r} is not callable")
        NETWORKS.add(name, NetworkEntry(name, builder, config, kind, check))
        return obj

    return decorator


def available_networks() -> List[str]:
    """Sorted names of the registered networks."""
    return NETWORKS.names()


@dataclass(frozen=True)
class NetworkSpec:
    """Everything a network is built from: rebuilding from it gives the same architecture.

    ``config`` holds the network's resolved knobs (``padding: auto`` already replaced by the
    physics' boundary), as plain values.
    """

    name: str
    config: Mapping[str, Any]
    dim: int
    in_channels: int
    out_channels: int

    def build(self, seed: Optional[int] = None) -> nn.Module:
        """The network, initialised from ``seed`` inside a forked RNG (the global torch RNG is
        neither used nor advanced); ``None`` uses the global RNG."""
        entry = NETWORKS.get(self.name)
        if seed is None:
            return entry.builder(dict(self.config), self.dim, self.in_channels, self.out_channels)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            return entry.builder(dict(self.config), self.dim, self.in_channels, self.out_channels)

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "config": to_plain(dict(self.config)), "dim": self.dim,
                "in_channels": self.in_channels, "out_channels": self.out_channels}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "NetworkSpec":
        try:
            return cls(str(data["name"]), dict(data["config"]), int(data["dim"]), int(data["in_channels"]),
                       int(data["out_channels"]))
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"network spec {dict(data)!r} is incomplete ({err})") from None


def network_node(synthetic_cfg: Any) -> Dict[str, Any]:
    """The knobs of the network ``synthetic.name`` names (its node ``synthetic.<name>``), plain;
    the dataclass defaults when the node is absent."""
    plain = to_plain(synthetic_cfg)
    name = str(plain.get("name", "unet"))
    entry = NETWORKS.get(name)
    node = plain.get(name)
    if node is None:
        node = to_plain(entry.config()) if entry.config is not None else {}
    return dict(node)


def build_network(synthetic_cfg: Any, dim: int, in_channels: int, out_channels: int,
                  seed: Optional[int] = None) -> nn.Module:
    """Build the network named by ``synthetic_cfg.name`` from its node (see :class:`NetworkSpec`)."""
    name = str(to_plain(synthetic_cfg).get("name", "unet"))
    return NetworkSpec(name, network_node(synthetic_cfg), dim, in_channels, out_channels).build(seed)
