"""The P1 assembly on the structured triangulation, against the authors' element loop; interpolation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hyco.physics.elliptic import StructuredTriangulation, assemble, interpolate_bilinear
from hyco.physics.elliptic.cases import HELMHOLTZ_TRUTH, helmholtz_eta, helmholtz_forcing, helmholtz_kappa


def element_loop_system(cells: int, kappa_e: np.ndarray, eta_e: np.ndarray, f_nodes: np.ndarray):
    """The authors' assembly (``finite_element_method.py``), element by element, reduced to the interior.

    Elements are their ``t1`` (lower) then ``t2`` (upper) triangles; local stiffness
    ``(b b^T + c c^T) / (4 area)`` with ``b_i = y_{i+1} - y_{i+2}``, ``c_i = x_{i+2} - x_{i+1}``; local mass
    ``area/12 [[2,1,1],[1,2,1],[1,1,2]]``; each coefficient at the element's centroid (here given per
    element); load ``area/3 f(vertex)`` per element and vertex.
    """
    axis = np.linspace(-math.pi, math.pi, cells + 1)
    xv, yv = np.meshgrid(axis, axis, indexing="ij")
    nodes = np.column_stack([xv.ravel(), yv.ravel()])
    grid = np.arange((cells + 1) ** 2).reshape(cells + 1, cells + 1)
    lower = np.stack([grid[:-1, :-1].ravel(), grid[1:, :-1].ravel(), grid[1:, 1:].ravel()], axis=1)
    upper = np.stack([grid[:-1, :-1].ravel(), grid[1:, 1:].ravel(), grid[:-1, 1:].ravel()], axis=1)
    elements = np.concatenate([lower, upper])
    kappa_flat = np.concatenate([kappa_e[0].ravel(), kappa_e[1].ravel()])
    eta_flat = np.concatenate([eta_e[0].ravel(), eta_e[1].ravel()])
    h = 2 * math.pi / cells
    area = h * h / 2
    nn = nodes.shape[0]
    matrix, load = np.zeros((nn, nn)), np.zeros(nn)
    mass = area / 12 * np.array([[2.0, 1, 1], [1, 2, 1], [1, 1, 2]])
    for e, elem in enumerate(elements):
        coords = nodes[elem]
        b = np.roll(coords[:, 1], -1) - np.roll(coords[:, 1], -2)
        c = np.roll(coords[:, 0], -2) - np.roll(coords[:, 0], -1)
        local = (np.outer(b, b) + np.outer(c, c)) / (4 * area) * kappa_flat[e] + mass * eta_flat[e]
        matrix[np.ix_(elem, elem)] += local
        load[elem] += area / 3 * f_nodes.ravel()[elem]
    interior = np.nonzero((np.abs(nodes) < math.pi - 1e-9).all(axis=1))[0]
    return matrix[np.ix_(interior, interior)], load[interior]


def test_stencil_assembly_equals_the_authors_element_loop():
    cells = 5
    rng = np.random.default_rng(0)
    kappa_e = rng.uniform(0.5, 3.0, (2, cells, cells))
    eta_e = rng.uniform(0.0, 2.0, (2, cells, cells))
    f_nodes = rng.normal(size=(cells + 1, cells + 1))
    mesh = StructuredTriangulation(cells)
    system = assemble(mesh, torch.tensor(kappa_e), torch.tensor(eta_e), torch.tensor(f_nodes))
    reference, load = element_loop_system(cells, kappa_e, eta_e, f_nodes)
    np.testing.assert_allclose(system.dense().numpy(), reference, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(system.rhs.flatten().numpy(), load, rtol=1e-12, atol=1e-12)
    # the stencil's own product is the same matrix
    u = torch.tensor(rng.normal(size=(cells - 1, cells - 1)))
    np.testing.assert_allclose(system.matvec(u).flatten().numpy(), reference @ u.flatten().numpy(), atol=1e-12)


def test_callables_are_evaluated_at_element_centroids():
    mesh = StructuredTriangulation(3, lower=0.0, upper=3.0)
    x, y = mesh.centroids()
    # cell (1, 2): lower triangle (1,2),(2,2),(2,3) and upper (1,2),(2,3),(1,3), h = 1
    assert (x[0, 1, 2].item(), y[0, 1, 2].item()) == pytest.approx((1 + 2 / 3, 2 + 1 / 3))
    assert (x[1, 1, 2].item(), y[1, 1, 2].item()) == pytest.approx((1 + 1 / 3, 2 + 2 / 3))
    values = mesh.at_centroids(lambda x, y: x + 10 * y)
    assert values[1, 1, 2].item() == pytest.approx(1 + 1 / 3 + 10 * (2 + 2 / 3))


@pytest.mark.parametrize("with_eta", [True, False])
def test_interior_matrix_is_symmetric_positive_definite(with_eta):
    mesh = StructuredTriangulation(8)
    theta = torch.tensor(HELMHOLTZ_TRUTH, dtype=torch.float64)
    eta = helmholtz_eta(theta) if with_eta else None
    matrix = assemble(mesh, helmholtz_kappa(theta), eta, helmholtz_forcing(theta)).dense()
    assert torch.equal(matrix, matrix.T)
    eigenvalues = torch.linalg.eigvalsh(matrix)
    assert eigenvalues.min() > 0.05  # the discrete Dirichlet Laplacian's smallest is ~ 2 (pi h / L)^2 ~ 0.3
    # a constant kappa = 1 and no eta is the 5-point Laplacian (times h^2): 4 on the diagonal
    laplace = assemble(mesh, 1.0, None, 0.0).dense()
    assert torch.all(torch.diagonal(laplace) == 4.0) and laplace.sum(-1).max() == 2.0


def test_coefficient_shapes_are_checked():
    mesh = StructuredTriangulation(4)
    with pytest.raises(ValueError, match=r"expected trailing shape \(2, 4, 4\)"):
        assemble(mesh, torch.ones(4, 4), None, 1.0)
    with pytest.raises(ValueError, match=r"expected trailing shape \(5, 5\)"):
        assemble(mesh, 1.0, None, torch.ones(4, 4))
    with pytest.raises(ValueError, match="cells must be an integer >= 2"):
        StructuredTriangulation(1)


def test_bilinear_interpolation_is_exact_on_bilinear_functions_and_differentiable():
    mesh = StructuredTriangulation(6)
    x, y = mesh.nodes()
    coefficients = torch.tensor([[0.3, -1.2, 0.7, 0.45], [1.0, 0.0, -2.0, -0.1]], dtype=torch.float64)

    def bilinear(c, x, y):
        return c[:, 0:1] + c[:, 1:2] * x + c[:, 2:3] * y + c[:, 3:4] * x * y  # (2, P)

    values = bilinear(coefficients, x.flatten(), y.flatten()).reshape(2, 7, 7).requires_grad_(True)
    generator = torch.Generator().manual_seed(1)
    inside = (torch.rand(40, 2, generator=generator, dtype=torch.float64) * 2 - 1) * math.pi
    outside = torch.tensor([[-3.5, 0.2], [3.3, 3.3], [0.0, -4.0]], dtype=torch.float64)  # extrapolated
    nodes = torch.stack([x[2:4, 1:3].flatten(), y[2:4, 1:3].flatten()], -1)
    points = torch.cat([inside, outside, nodes])
    result = interpolate_bilinear(mesh, values, points)
    expected = bilinear(coefficients, points[:, 0], points[:, 1])
    torch.testing.assert_close(result, expected, rtol=0, atol=1e-12)
    # gradient w.r.t. the nodal values: the four bilinear weights of each point, summing to one
    result[0].sum().backward()
    assert values.grad[1].abs().max() == 0
    assert values.grad[0].sum().item() == pytest.approx(len(points))
    assert (values.grad[0] != 0).sum() > 4
