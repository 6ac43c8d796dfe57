"""The PINN's coordinate network on a static problem: its forward Laplacian against autograd's derivatives."""

from __future__ import annotations

import math

import pytest
import torch

from hyco.arms.pinn_network import CoordinateNetwork
from hyco.synthetic import gemm


def network(dtype: torch.dtype, **kwargs) -> CoordinateNetwork:
    args = {"hidden": 16, "layers": 3, "harmonics": 1, "embedding_dim": 2, "share": True, "skip": True}
    args.update(kwargs)
    return CoordinateNetwork([False, False], [-math.pi, -math.pi], 2 * math.pi, 1.0, 2, 3, seed=0, timed=False,
                             hidden=args["hidden"], layers=args["layers"], harmonics=args["harmonics"],
                             embedding_dim=args["embedding_dim"], share=args["share"], skip=args["skip"]).to(dtype)


def autograd_derivatives(net: CoordinateNetwork, coords: torch.Tensor, sims: torch.Tensor):
    coords = coords.clone().requires_grad_(True)
    out = net(coords, sims)
    firsts, laplacians = [], []
    for c in range(out.shape[1]):
        (g,) = torch.autograd.grad(out[:, c].sum(), coords, create_graph=True)
        firsts.append(g)
        laplacians.append(sum(torch.autograd.grad(g[:, d].sum(), coords, retain_graph=True)[0][:, d]
                              for d in range(coords.shape[1])))
    return out, torch.stack(firsts, 1), torch.stack(laplacians, 1)


@pytest.mark.parametrize("kwargs", [{}, {"share": False, "skip": False, "layers": 2, "harmonics": 0}])
def test_the_forward_laplacian_is_autograds_value_gradient_and_laplacian_in_float64(kwargs):
    net = network(torch.float64, **kwargs)
    gen = torch.Generator().manual_seed(1)
    coords = (torch.rand(20, 2, generator=gen, dtype=torch.float64) * 2 - 1) * math.pi
    sims = torch.randint(0, 3, (20,), generator=gen)
    value, first, laplacian = net.laplacian_jet(coords, sims)
    expected = autograd_derivatives(net, coords, sims)
    for ours, reference in zip((value, first, laplacian), expected):
        torch.testing.assert_close(ours, reference.detach(), rtol=1e-10, atol=1e-12)


def test_in_float32_on_onednn_it_matches_float64_and_so_do_the_weight_gradients():
    gen = torch.Generator().manual_seed(2)
    coords = (torch.rand(64, 2, generator=gen, dtype=torch.float64) * 2 - 1) * math.pi
    sims = torch.zeros(64, dtype=torch.long)
    results = []
    for dtype in (torch.float64, torch.float32):
        net = network(dtype, hidden=64)
        value, first, laplacian = net.laplacian_jet(coords.to(dtype), sims)
        loss = value.square().mean() + first.square().mean() + laplacian.square().mean()
        results.append([loss, *torch.autograd.grad(loss, list(net.parameters()))])
    assert gemm.linear is net._linear  # a static network's products take the fast path
    for low, high in zip(results[1], results[0]):
        assert float((low.double() - high).abs().max() / high.abs().max()) < 1e-5


def test_pinn_epochs_on_onednn_follow_the_f_linear_epochs(tmp_path, monkeypatch):
    from static_helpers import tiny_static

    from hyco.arms import build_trainer
    from hyco.compose import compose_config
    from hyco.data.cache import CacheReader
    from hyco.data.generate import generate_dataset
    from hyco.data.training_data import TrainingData

    cfg = compose_config([*tiny_static("pinn"), f"data.cache_dir={tmp_path}", "trainer.pinn.hidden=64"])
    params = []
    for enabled in (True, False):
        monkeypatch.setattr(gemm, "ENABLED", enabled)
        trainer = build_trainer(cfg, TrainingData.open(cfg, CacheReader(generate_dataset(cfg, progress=False).path)),
                                None)
        losses = [trainer.train_epoch()["pinn/total_loss"] for _ in range(5)]
        params.append((losses, torch.cat([z.detach().reshape(-1) for z in trainer.physical.z.values()])))
    (fast_losses, fast), (plain_losses, plain) = params
    assert fast_losses == pytest.approx(plain_losses, rel=1e-5)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
