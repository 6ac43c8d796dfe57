"""HYCO: hybrid co-training of differentiable PDE solvers and neural networks."""

__version__ = "0.1.0"
