"""The static elliptic model of the papers' Helmholtz and Darcy benchmarks: its coefficient families,
the forcing derived from the truth, the analytic truth, the solve it wraps, and what it refuses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hyco.compose import compose_config
from hyco.errors import ConfigError
from hyco.physics.elliptic import StructuredTriangulation, solve_elliptic
from hyco.physics.elliptic.cases import (
    DARCY_TRUTH,
    HELMHOLTZ_TRUTH,
    darcy_kappa,
    helmholtz_eta,
    helmholtz_forcing,
    helmholtz_kappa,
)
from hyco.physics.families import FAMILIES, family_metrics
from hyco.physics.registry import build_physics, tiny_cases


def model_of(case: str, **options):
    physics = dict(tiny_cases()[case].physics)
    physics["options"] = {**physics["options"], **options}
    return build_physics(physics)


def test_the_families_are_the_papers_kappa_and_eta():
    x, y = StructuredTriangulation(6).centroids()
    coords = torch.stack([x, y], -1)
    helmholtz = torch.tensor(HELMHOLTZ_TRUTH, dtype=torch.float64)
    bumps = FAMILIES.get("gaussian_bumps")
    kappa = bumps.field(helmholtz[:3], coords, {"count": 1, "offset": 1.0})
    eta = bumps.field(helmholtz[3:], coords, {"count": 1, "offset": 1.0, "power": 2})
    torch.testing.assert_close(kappa, helmholtz_kappa(helmholtz)(x, y), rtol=1e-14, atol=0)
    torch.testing.assert_close(eta, helmholtz_eta(helmholtz)(x, y), rtol=1e-14, atol=0)
    sines = FAMILIES.get("softplus_sines")
    darcy = torch.tensor(DARCY_TRUTH, dtype=torch.float64)
    torch.testing.assert_close(sines.field(darcy, coords, {"modes": 3, "wavelength": 8.0}), darcy_kappa(darcy)(x, y),
                               rtol=1e-14, atol=0)
    assert sines.names({"modes": 3}, 2) == ["mu0", "c11", "c12", "c13", "c21", "c22", "c23", "c31", "c32", "c33"]
    with pytest.raises(ConfigError, match="power"):
        bumps.field(helmholtz[:3], coords, {"power": 0})


def test_the_sine_forcing_is_derived_from_the_truth_and_the_exact_truth_is_sin_x_sin_y():
    model = model_of("elliptic_helmholtz")
    x, y = model.mesh.nodes()
    torch.testing.assert_close(model.forcing_nodes(), helmholtz_forcing(torch.tensor(HELMHOLTZ_TRUTH,
                                                                                     dtype=torch.float64))(x, y),
                               rtol=1e-12, atol=1e-12)
    exact = model_of("elliptic_helmholtz", solution="exact")
    points = np.random.default_rng(0).uniform(-math.pi, math.pi, (20, 2))
    np.testing.assert_allclose(exact.exact_values(points)[:, 0], np.sin(points[:, 0]) * np.sin(points[:, 1]),
                               rtol=1e-12, atol=1e-14)
    assert model.exact_values(points) is None  # the FEM learner has no closed form
    assert float(exact.solve(exact.initial_params())[0, 5, 3]) == pytest.approx(
        math.sin(float(x[5, 3])) * math.sin(float(y[5, 3])), rel=1e-6)  # whatever the parameters
    darcy = model_of("elliptic_darcy")
    assert float(darcy.forcing_nodes().min()) == float(darcy.forcing_nodes().max()) == 1.0


def test_the_model_solves_what_the_elliptic_package_solves_at_the_papers_grid():
    cfg = compose_config(["experiment=paper_helmholtz"])
    model = build_physics(cfg.physics)
    assert model.resolution == (19, 19) and model.mesh.cells == 18
    u = model.solve(model.true_params(), dtype=torch.float64)[0]
    truth = torch.tensor(HELMHOLTZ_TRUTH, dtype=torch.float64)
    mesh = StructuredTriangulation(18)
    reference = solve_elliptic(mesh, helmholtz_kappa(truth), helmholtz_eta(truth), helmholtz_forcing(truth))
    torch.testing.assert_close(u, reference, rtol=1e-10, atol=1e-12)
    x, y = mesh.nodes()
    assert float((u - torch.sin(x) * torch.sin(y)).norm() / (torch.sin(x) * torch.sin(y)).norm()) < 0.03
    # read between the nodes bilinearly: exact at a node, the mean of two neighbours half way
    node = torch.tensor([[float(x[4, 7]), float(y[4, 7])], [0.5 * float(x[4, 7] + x[5, 7]), float(y[4, 7])]],
                        dtype=torch.float64)
    read = model.read(u[None], node)[:, 0]
    assert float(read[0]) == pytest.approx(float(u[4, 7]), abs=1e-12)
    assert float(read[1]) == pytest.approx(0.5 * float(u[4, 7] + u[5, 7]), abs=1e-12)


def test_all_family_scalars_together_are_scored_as_the_papers_parameter_error():
    model = model_of("elliptic_helmholtz")
    theta = {"kappa": [4.0, -1.0, -1.0], "eta": [1.0, 2.0, 2.0]}  # one centre off by 1
    scores = family_metrics(model, theta)
    assert scores["param/theta_rel_error"] == pytest.approx(1.0 / np.linalg.norm(HELMHOLTZ_TRUTH), rel=1e-12)
    assert scores["param/kappa/theta_rel_error"] == 0.0


def test_what_the_elliptic_model_refuses():
    physics = dict(tiny_cases()["elliptic_darcy"].physics)
    with pytest.raises(ConfigError, match="layout nodes"):
        build_physics({**physics, "layout": "cells"})
    with pytest.raises(ConfigError, match="forcing"):
        build_physics({**physics, "options": {"forcing": "gaussian"}})
    with pytest.raises(ConfigError, match="forcing=sine"):
        build_physics({**physics, "options": {"solution": "exact"}})
    field = {**physics["params"], "kappa": {"kind": "field", "true_value": 1.0, "initial_guess": 1.0, "upper": 2.0}}
    with pytest.raises(ConfigError, match="kind"):
        build_physics({**physics, "params": field})
    with pytest.raises(TypeError, match="static"):
        model_of("elliptic_darcy").tensor_rollout(torch.zeros(1, 1, 7, 7), 1, {})
    with pytest.raises(ConfigError, match="solution=exact"):  # a truth only: it ignores its parameters
        compose_config(["experiment=paper_helmholtz", "+physics.options.solution=exact"])
