"""The linear map on oneDNN's GEMM equals ``F.linear`` to float32's rounding, and differentiates twice."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hyco.synthetic import gemm

pytestmark = pytest.mark.skipif(not gemm.AVAILABLE, reason="this torch has no oneDNN linear operator")


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def test_values_gradients_and_second_derivatives_equal_f_linear_in_float32():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 3, 64, generator=gen, requires_grad=True)  # a jet's rows: leading dims fold
    w = torch.randn(32, 64, generator=gen, requires_grad=True)
    b = torch.randn(32, generator=gen, requires_grad=True)
    results = []
    for f in (F.linear, gemm.linear):
        y = torch.tanh(f(x, w, b))
        gx, gw, gb = torch.autograd.grad(y.square().sum(), (x, w, b), create_graph=True)
        second = torch.autograd.grad(gx.square().sum() + gw.sum(), (x, w))  # through the backward's products
        results.append((y, gx, gw, gb, *second))
    for ours, reference in zip(results[1], results[0]):
        assert _relative(ours.detach(), reference.detach()) < 1e-5


def test_it_is_f_linear_itself_off_the_fast_path(monkeypatch):
    x, w = torch.randn(5, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    assert torch.equal(gemm.linear(x, w), F.linear(x, w))  # float64: F.linear
    monkeypatch.setattr(gemm, "ENABLED", False)
    x32, w32 = x.float(), w.float()
    y = gemm.linear(x32, w32)
    assert y.grad_fn is None and torch.equal(y, F.linear(x32, w32))
