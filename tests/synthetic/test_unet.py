"""UNet and network registry: shapes, periodic equivariance, persistence at init, errors."""

from enum import Enum

import pytest
import torch
from omegaconf import OmegaConf

from hyco.errors import ConfigError, PluginError
from hyco.synthetic import NETWORKS, available_networks, build_network, register_network
from hyco.synthetic.networks.unet import UNet, UNetConfig


def _cfg(**kw) -> dict:
    """A ``synthetic`` config with the UNet's node ``synthetic.unet``."""
    base = dict(levels=2, filters=4, kernel_size=3, activation="gelu", padding="circular", residual=False)
    base.update(kw)
    return {"name": "unet", "unet": base}


@pytest.mark.parametrize("dim,shape", [(1, (16,)), (2, (8, 16))])
@pytest.mark.parametrize("downsample", ["conv", "avgpool"])
def test_output_shape_1d_2d(dim, shape, downsample):
    cfg = dict(name="unet", levels=2, filters=4, residual=False, downsample=downsample)
    net = build_network(cfg, dim, in_channels=3, out_channels=2, seed=0)
    assert isinstance(net, UNet)
    y = net(torch.randn(2, 3, *shape))
    assert y.shape == (2, 2, *shape)
    assert net.head.__class__.__name__ == f"Conv{dim}d"


@pytest.mark.parametrize("dim,shape,shift", [(1, (16,), (4,)), (2, (8, 16), (4, 8))])
@pytest.mark.parametrize("downsample", ["conv", "avgpool"])
def test_circular_padding_is_equivariant_to_periodic_shifts(dim, shape, shift, downsample):
    net = build_network(_cfg(levels=2, filters=4, residual=False, downsample=downsample), dim, 2, 2, seed=1)
    dims = tuple(range(2, 2 + dim))
    x = torch.randn(1, 2, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        shifted_out = net(torch.roll(x, shift, dims))
        out_shifted = torch.roll(net(x), shift, dims)
    assert torch.allclose(shifted_out, out_shifted, atol=1e-6)


def test_zero_padding_breaks_equivariance():
    # guards the test above: it would pass trivially if the net ignored its input's position
    net = build_network(_cfg(padding="zeros"), 1, 2, 2, seed=1)
    x = torch.randn(1, 2, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff = (net(torch.roll(x, 4, 2)) - torch.roll(net(x), 4, 2)).abs().max()
    assert diff > 1e-4


@pytest.mark.parametrize("dim,shape", [(1, (8,)), (2, (8, 8))])
def test_residual_untrained_is_persistence(dim, shape):
    # 3 inputs = 2 state channels + 1 static channel; the output carries the state forward
    net = build_network(_cfg(residual=True), dim, 3, 2, seed=0)
    x = torch.randn(4, 3, *shape)
    assert torch.equal(net(x), x[:, :2])


def test_residual_net_learns_after_zero_init():
    net = build_network(_cfg(residual=True), 1, 1, 1, seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    x = torch.randn(2, 1, 8)
    for _ in range(2):  # step 1 moves the head, step 2 the rest
        opt.zero_grad()
        ((net(x) - 2 * x) ** 2).mean().backward()
        opt.step()
    assert not torch.equal(net(x), x)
    assert net.stem.body[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("padding", ["zeros", "replicate", "circular"])
def test_sizes_not_divisible_by_2_pow_levels_are_padded_and_cropped(padding):
    # a walled staggered state at 32^2 is 33 x 33: padded to 40 x 40 inside, cropped back
    net = build_network(_cfg(levels=3, padding=padding, residual=True), 2, 3, 3, seed=0)
    torch.nn.init.normal_(net.head.weight, std=0.1)
    x = torch.randn(2, 3, 33, 17, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = net(x)
        # the crop keeps sample i of the input at sample i of the output: same as padding by hand
        padded = net(torch.nn.functional.pad(x, (0, 7, 0, 7), mode="constant" if padding == "zeros" else padding))
    assert y.shape == x.shape
    assert float((y - x).abs().max()) > 1e-3  # the network acts
    assert torch.allclose(y, padded[:, :, :33, :17], atol=1e-6)


def test_sizes_below_2_pow_levels_and_wrong_channels_raise():
    net = build_network(_cfg(levels=3), 2, 2, 2, seed=0)
    with pytest.raises(ValueError, match="at least 2\\*\\*levels = 8"):
        net(torch.randn(1, 2, 16, 6))
    with pytest.raises(ValueError, match="expected input"):
        net(torch.randn(1, 3, 16, 16))


def test_deterministic_given_seed_and_global_rng_untouched():
    a = build_network(_cfg(), 2, 2, 2, seed=7)
    state = torch.random.get_rng_state()
    b = build_network(_cfg(), 2, 2, 2, seed=7)
    assert torch.equal(state, torch.random.get_rng_state())
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    torch.manual_seed(3)
    c = build_network(_cfg(), 2, 2, 2)
    torch.manual_seed(3)
    d = build_network(_cfg(), 2, 2, 2)
    assert all(torch.equal(pc, pd) for pc, pd in zip(c.parameters(), d.parameters()))
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


def test_config_as_dictconfig_and_enum_values():
    class Pad(str, Enum):
        zeros = "zeros"

    dc = OmegaConf.create({"name": "unet", "unet": OmegaConf.structured(UNetConfig(activation="silu", filters=3))})
    net = build_network(dc, 1, 1, 1, seed=0)
    assert isinstance(net.stem.body[1], torch.nn.SiLU) and net.stem.body[0].out_channels == 3
    assert net.enc[-1].body[0].out_channels == 12  # filters double per level
    net = build_network(_cfg(padding=Pad.zeros, levels=1), 1, 1, 1, seed=0)
    assert net.padding_mode == "zeros"


def test_unknown_choices_give_clear_errors():
    with pytest.raises(ConfigError, match="synthetic.name: unknown network 'fno'; registered: \\[.*'unet'"):
        build_network(dict(name="fno"), 1, 1, 1)
    with pytest.raises(ValueError, match="synthetic.unet.activation.*gelu"):
        build_network(_cfg(activation="swish"), 1, 1, 1)
    with pytest.raises(ValueError, match="synthetic.unet.padding"):
        build_network(_cfg(padding="mirror"), 1, 1, 1)
    with pytest.raises(ValueError, match="kernel_size"):
        build_network(_cfg(kernel_size=4), 1, 1, 1)
    with pytest.raises(ValueError, match="in_channels >= out_channels"):
        build_network(_cfg(residual=True), 1, 1, 2)


def test_register_network_adds_a_builder():
    @register_network("test_identity_net")
    def _build(cfg, dim, in_channels, out_channels):
        return torch.nn.Identity()

    try:
        assert "test_identity_net" in available_networks()
        assert isinstance(build_network(dict(name="test_identity_net"), 1, 1, 1), torch.nn.Identity)
        with pytest.raises(PluginError, match="registered twice"):
            register_network("unet")(_build)
    finally:
        NETWORKS.remove("test_identity_net")
