"""The MLP: the forecaster of a state without spatial axes, pointwise on a grid."""

from __future__ import annotations

import pytest
import torch

from hyco.compose import compose_config
from hyco.errors import ProblemRefused
from hyco.synthetic.networks.mlp import MLP


def test_residual_untrained_is_persistence_and_the_head_learns():
    net = MLP(0, 3, 2, hidden=16, layers=2)  # a static input channel beside the 2-field state
    x = torch.randn(5, 3)
    assert torch.equal(net(x), x[:, :2])
    target = torch.randn(5, 2)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = float((net(x) - target).square().mean().detach())
    for _ in range(50):
        optimizer.zero_grad()
        (net(x) - target).square().mean().backward()
        optimizer.step()
    assert float((net(x) - target).square().mean().detach()) < 0.5 * first


def test_on_a_grid_it_acts_on_every_cell_alone():
    net = MLP(2, 2, 2, hidden=8, residual=False, init_gain=0.5)
    x = torch.randn(2, 2, 6, 5)
    out = net(x)
    assert out.shape == x.shape
    # the output at a cell depends on that cell's input only
    for i, j in ((0, 0), (3, 4)):
        torch.testing.assert_close(out[:, :, i, j], net.head(net.body(x[:, :, i, j])))
    with pytest.raises(ValueError, match="expected input"):
        net(torch.randn(2, 3, 6, 5))


def test_orthogonal_gain_sets_the_hidden_weights():
    net = MLP(0, 2, 2, hidden=16, layers=2, init_gain=0.2, residual=False)
    first = net.body[0].weight  # [16, 2]: orthonormal columns times the gain
    torch.testing.assert_close(first.T @ first, 0.04 * torch.eye(2), rtol=1e-5, atol=1e-6)


def test_a_grid_network_is_refused_on_a_state_without_axes(tmp_path):
    with pytest.raises(ProblemRefused, match="synthetic=mlp"):
        compose_config(["experiment=aphynity_pendulum", "trainer=synthetic_only", "synthetic=unet",
                        f"data.cache_dir={tmp_path}"])
