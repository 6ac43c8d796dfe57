"""The sweep's param_error objective: the mean of the learnable parameters' relative errors."""

from __future__ import annotations

import math

from omegaconf import OmegaConf

from hyco import metrics as M
from hyco.evaluation.scores import learnable_params, param_error


def test_param_error_is_the_mean_over_learnable_parameters():
    val = {M.eval_param_rel_error("val", "nu"): 0.1, M.eval_param_rel_error("val", "kappa"): 0.5,
           M.eval_param_rel_error("val", "fixed"): 0.0, M.rel_l2_mean("val", "synthetic"): 9.0}
    assert param_error(val, "val", ["nu", "kappa"]) == (0.1 + 0.5) / 2
    assert param_error(val, "val", ["kappa", "nu"]) == param_error(val, "val", ["nu", "kappa"])
    assert math.isnan(param_error(val, "test", ["nu"]))  # another split's numbers are not used
    assert math.isnan(param_error(val, "val", []))
    assert math.isnan(param_error(val, "val", ["nu", "missing"]))


def test_learnable_params_skips_fixed_ones():
    cfg = OmegaConf.create({"physics": {"params": {"nu": {"learnable": True}, "rho": {"learnable": False},
                                                   "kappa": {"learnable": True}}}})
    assert learnable_params(cfg) == ["nu", "kappa"]
