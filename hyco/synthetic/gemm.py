"""A linear map on oneDNN's matrix product, for the networks whose epochs are one large GEMM after another.

``torch.nn.functional.linear`` on a CPU float32 tensor runs MKL's ``sgemm``. On the AMD EPYC CPUs of
the shared machines MKL does not take its fastest path, and oneDNN's GEMM (the one torch's own
compiler calls, ``torch.ops.mkldnn._linear_pointwise``) is about twice as fast on the static PINN's
products (one thread, ``[1600, 256] x [256, 256]``: 1.0 ms against 2.2-2.4 ms, measured; the same
for the two products of the backward). :func:`linear` uses it for CPU float32 inputs where torch
has it, and ``F.linear`` everywhere else; its backward is built from the same product, so it can be
differentiated again (a residual's derivatives by autograd).

The two GEMMs sum in different orders: a result differs from ``F.linear``'s in float32's last bits
(relative 1e-7), as it would between two machines. :data:`ENABLED` switches it off (the tests
compare both).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F


def _available() -> bool:
    """Whether this torch has oneDNN and its linear operator (a private operator: checked, not assumed)."""
    try:
        return bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    except (AttributeError, RuntimeError):
        return False


AVAILABLE = _available()
#: route CPU float32 products through oneDNN (where :data:`AVAILABLE`); False: always ``F.linear``
ENABLED = True


def _product(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


class _OneDNNLinear(torch.autograd.Function):
    """``x W^T + b`` with the backward's products on oneDNN too (``g W`` and ``g^T x``)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _product(x, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = linear(grad, weight.t())  # differentiable again: built from the same product
        if ctx.needs_input_grad[1]:
            rows = grad.reshape(-1, grad.shape[-1])
            grad_w = linear(rows.t(), x.reshape(-1, x.shape[-1]).t())
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.reshape(-1, grad.shape[-1]).sum(0)
        return grad_x, grad_w, grad_b


def linear(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``F.linear(x, weight, bias)``: on oneDNN for float32 CPU tensors (module docstring)."""
    if (ENABLED and AVAILABLE and x.device.type == "cpu" and weight.device.type == "cpu"
            and x.dtype == torch.float32 and weight.dtype == torch.float32 and x.numel() and x.dim() >= 2):
        return _OneDNNLinear.apply(x, weight, bias)
    return F.linear(x, weight, bias)
