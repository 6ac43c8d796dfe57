"""One tiny configuration per registered physics model, for the generic contract tests.

A new PDE is covered by the contract by adding its case here: ``physics`` (a PhysicsConfig
mapping), ``ic`` (its prior's config or None) and ``invalid`` (parameter values that
``validate_params`` must refuse, each with the parameter name the message must contain).
"""

from __future__ import annotations

import math

TWO_PI = 2 * math.pi

CASES = {
    "burgers_1d": {
        "physics": {"name": "burgers", "dim": 1, "resolution": [16], "dt": 0.005,
                    "params": {"nu": {"true_value": 0.02, "initial_guess": 0.05, "upper": 0.1}}},
        "ic": {"name": "fourier", "max_wavenumber": 3},
        "invalid": [("nu", -0.01), ("nu", 0.5)],
    },
    "burgers_2d_field": {
        "physics": {"name": "burgers", "dim": 2, "resolution": [8, 8], "dt": 0.01,
                    "params": {"nu": {"kind": "field", "true_value": 0.02, "true_profile": "sine",
                                      "profile_amplitude": 0.5, "initial_guess": 0.05, "upper": 0.1}}},
        "ic": {"name": "fourier", "max_wavenumber": 2},
        "invalid": [("nu", -0.01)],
    },
    "inviscid_burgers_1d": {
        "physics": {"name": "inviscid_burgers", "dim": 1, "resolution": [16], "domain_size": TWO_PI, "dt": 0.1,
                    "params": {"phi": {"kind": "field", "true_value": 0.0, "true_profile": "sine",
                                       "profile_scale": "additive", "profile_amplitude": 0.3,
                                       "initial_guess": 0.0, "lower": -2.0, "upper": 2.0}}},
        "ic": {"name": "fourier", "max_wavenumber": 3},
        "invalid": [("phi", 5.0)],
    },
    "inviscid_burgers_2d": {
        "physics": {"name": "inviscid_burgers", "dim": 2, "resolution": [8, 8], "domain_size": TWO_PI, "dt": 0.1,
                    "params": {"phi": {"kind": "field", "true_value": 0.0, "true_profile": "sine",
                                       "profile_scale": "additive", "profile_amplitude": 0.3,
                                       "initial_guess": 0.0, "lower": -2.0, "upper": 2.0}}},
        "ic": {"name": "fourier", "max_wavenumber": 2},
        "invalid": [("phi", -3.0)],
    },
    "gray_scott": {
        "physics": {"name": "gray_scott", "dim": 2, "resolution": [8, 8], "domain_size": 12.5, "dt": 2.0,
                    "substeps": 5,
                    "params": {"Du": {"true_value": 0.2, "initial_guess": 0.1, "upper": 1.0},
                               "Dv": {"true_value": 0.08, "initial_guess": 0.05, "upper": 1.0},
                               "F": {"true_value": 0.018, "initial_guess": 0.018, "learnable": False},
                               "k": {"true_value": 0.051, "initial_guess": 0.051, "learnable": False}}},
        "ic": {"name": "spots", "num_spots": 2, "spot_size": 0.25, "noise": 0.01},
        "invalid": [("Du", -0.1), ("Dv", 2.0), ("F", -0.01)],
    },
    "heat": {
        "physics": {"name": "heat", "dim": 2, "resolution": [8, 8], "domain_origin": -3.0, "domain_size": 6.0,
                    "boundary": "dirichlet", "dt": 0.01,
                    "params": {"kappa": {"kind": "field", "true_value": 0.1, "true_profile": "gaussians",
                                         "profile_scale": "additive", "profile_amplitude": 1.0,
                                         "profile_args": {"centres": [[1.0, 1.0], [-2.0, -2.0]],
                                                          "amplitudes": [3.0, 2.5], "width": 1.0},
                                         "initial_guess": 1.0, "lower": 0.01, "upper": 5.0}}},
        "ic": {"name": "dirichlet_sines", "max_wavenumber": 3},
        "invalid": [("kappa", -0.5), ("kappa", 6.0)],
    },
    "smoke": {
        "physics": {"name": "smoke", "dim": 2, "resolution": [8, 8], "dt": 0.04, "grid": "staggered",
                    "params": {"b": {"kind": "field", "true_value": 1.0, "true_profile": "sine_x",
                                     "profile_scale": "relative", "profile_amplitude": 0.4,
                                     "initial_guess": 0.5, "lower": 0.0, "upper": 3.0}}},
        "ic": {"name": "blobs", "num_spots": 2, "spot_size": 0.2, "amplitude": 1.0},
        "invalid": [("b", -0.5), ("b", 5.0)],
    },
    "smoke_scalar": {
        "physics": {"name": "smoke", "dim": 2, "resolution": [8, 8], "dt": 0.04, "grid": "staggered",
                    "params": {"b": {"kind": "scalar", "true_value": 1.0, "initial_guess": 0.5,
                                     "lower": 0.0, "upper": 3.0}}},
        "ic": {"name": "blobs", "num_spots": 2, "spot_size": 0.2, "amplitude": 1.0},
        "invalid": [("b", -0.5)],
    },
}
