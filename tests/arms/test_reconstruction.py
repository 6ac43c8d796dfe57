"""The arms on scattered observations (reconstruction problems): every one trains and is scored
on its reconstruction, the others refuse such data, a resumed run equals an uninterrupted one."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from recon_helpers import TINY_RECON, TINY_RECON_GS, tiny_recon

from hyco import metrics as M
from hyco import tracking
from hyco.arms import reconstruction_arms
from hyco.arms.reconstruction import ReconstructionTrainer, check_switches
from hyco.compose import compose_config
from hyco.core.checkpoints import load_checkpoint
from hyco.errors import ConfigError, ProblemRefused
from hyco.evaluation import evaluate_run
from hyco.runs.train import train_run

PINN_SMALL = ["trainer.pinn.iterations_per_epoch=2", "trainer.pinn.collocation_points=64", "trainer.pinn.hidden=16",
              "trainer.pinn.layers=2", "trainer.pinn.data_batch=32"]


@pytest.mark.parametrize("arm", ["synthetic_only", "physical_only", "cooperative", "pinn"])
def test_every_reconstruction_arm_trains_and_scores_what_it_reconstructed(make_overrides, arm):
    assert set(reconstruction_arms()) >= {"synthetic_only", "physical_only", "cooperative", "pinn"}
    extra = PINN_SMALL if arm == "pinn" else []
    cfg = compose_config(make_overrides(*extra, base=tiny_recon(arm)))
    outcome = train_run(cfg)
    cfg.evaluation.run_id = outcome.run_id
    metrics = evaluate_run(cfg).metrics
    trains_network = arm in ("synthetic_only", "cooperative")
    learns = arm != "synthetic_only"
    assert (M.eval_recon("synthetic", "final") in metrics) == trains_network
    assert (M.eval_recon("physical", "final") in metrics) == learns
    assert (M.eval_recon_param(M.param_p_error("kappa")) in metrics) == learns
    assert all(math.isfinite(v) for v in metrics.values())
    run = tracking.get_run(outcome.run_id, cfg.tracking)
    if arm in ("physical_only", "cooperative"):  # the physics is scored every epoch
        history = tracking.get_metric_history(outcome.run_id, M.recon_rel_l2("physical"), cfg.tracking)
        assert [s for s, _ in history] == [1, 2, 3, 4]
        assert M.param_component("kappa", "A1") in run.metrics
    if trains_network:  # the network every reconstruction_every (2) epochs
        history = tracking.get_metric_history(outcome.run_id, M.recon_rel_l2("synthetic"), cfg.tracking)
        assert [s for s, _ in history] == [2, 4]
        # the evaluation scores the same network on the same grid as the last epoch did
        assert metrics[M.eval_recon("synthetic", "final")] == pytest.approx(history[-1][1], rel=1e-5)


def test_gray_scott_hybrid_warm_starts_sees_data_only_through_the_network_and_polishes(make_overrides):
    cfg = compose_config(make_overrides(base=TINY_RECON_GS))
    outcome = train_run(cfg)
    history = {k: tracking.get_metric_history(outcome.run_id, k, cfg.tracking)
               for k in (M.PHYSICAL_TOTAL_LOSS, M.recon_data_mse("synthetic"), M.RECON_GHOSTS)}
    assert [s for s, _ in history[M.PHYSICAL_TOTAL_LOSS]] == [3, 4]  # the physics waits for the warm start
    # every node of every frame after the first is a ghost point: 64 x 4
    assert [v for _, v in history[M.RECON_GHOSTS]] == [0, 0, 256, 256]
    # the L-BFGS post-training is one more step of the network's data misfit, lower than before
    misfit = history[M.recon_data_mse("synthetic")]
    assert misfit[-1][0] == 5 and misfit[-1][1] < misfit[-2][1]
    cfg.evaluation.run_id = outcome.run_id
    metrics = evaluate_run(cfg).metrics
    assert metrics[M.eval_recon("synthetic", "last_epoch", "mse")] != metrics[M.eval_recon("synthetic", "final", "mse")]
    assert M.eval_recon_param(M.param_rel_error("Du")) in metrics


def test_grid_arms_and_networks_refuse_scattered_data_before_any_compute(tmp_path):
    cache = f"data.cache_dir={tmp_path}"
    with pytest.raises(ProblemRefused, match="observation.spatial=lattice"):
        compose_config([*tiny_recon("full"), cache])
    with pytest.raises(ProblemRefused, match="synthetic.name=unet"):
        compose_config([o for o in tiny_recon("synthetic_only") if "field_mlp" not in o] + [cache, "synthetic=unet"])
    with pytest.raises(ProblemRefused, match="data.num_train=2"):
        compose_config([*TINY_RECON, cache, "data.num_train=2"])
    with pytest.raises(ProblemRefused, match="neural field reconstructs"):
        compose_config(["experiment=heat_quick", cache, "synthetic=field_mlp"])
    with pytest.raises(ConfigError, match="switches"):
        compose_config([*TINY_RECON, cache, "trainer.hyco.switches={later: {ghost_points: 2}}"])
    with pytest.raises(ConfigError, match="cannot be switched"):
        check_switches({"3": {"lr": 0.1}})
    assert check_switches({"3": {"ghost_points": 7}}) == {3: {"ghost_points": 7}}
    assert not list(tmp_path.iterdir())


def test_switches_change_the_knobs_from_their_epoch_on(make_overrides):
    cfg = compose_config(make_overrides("+trainer.hyco.switches={2: {ghost_points: 9, lambda_s_int: 0.5}}",
                                        base=TINY_RECON))
    outcome = train_run(cfg)
    ghosts = [v for _, v in tracking.get_metric_history(outcome.run_id, M.RECON_GHOSTS, cfg.tracking)]
    assert ghosts == [5 * 5, 5 * 5, 9 * 5, 9 * 5]  # spatial points x frames 1..5


def test_a_failed_reconstruction_resumes_to_the_uninterrupted_result(make_overrides, fresh_tracking, monkeypatch):
    cfg = compose_config(make_overrides(base=TINY_RECON))
    original = ReconstructionTrainer.run_epoch
    state = {"failed": False}

    def crash_in_epoch_3(self, epoch):
        if epoch == 2 and not state["failed"]:  # epochs 1-2 are checkpointed (checkpoint_every=2)
            state["failed"] = True
            raise RuntimeError("simulated crash")
        return original(self, epoch)

    monkeypatch.setattr(ReconstructionTrainer, "run_epoch", crash_in_epoch_3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_run(cfg)
    resumed = train_run(cfg)
    assert resumed.resumed
    straight = train_run(compose_config(make_overrides(base=TINY_RECON, tracking=fresh_tracking("straight"))))

    def final(run_id, store):
        return load_checkpoint(tracking.artifact_dir(run_id, store) / "checkpoints" / ReconstructionTrainer.CHECKPOINT)

    a, b = final(resumed.run_id, cfg.tracking), final(straight.run_id, fresh_tracking("straight"))
    assert a["epoch"] == b["epoch"] == 4
    for key in a["synthetic"]["model"]:
        assert torch.equal(a["synthetic"]["model"][key], b["synthetic"]["model"][key]), key
    np.testing.assert_array_equal(a["physical"]["theta"]["kappa"], b["physical"]["theta"]["kappa"])
    steps = [s for s, _ in tracking.get_metric_history(resumed.run_id, M.recon_rel_l2("physical"), cfg.tracking)]
    assert steps == [1, 2, 3, 4]


def test_an_interrupted_lbfgs_post_training_resumes_to_the_uninterrupted_result(make_overrides, fresh_tracking,
                                                                                  monkeypatch):
    extra = ("trainer.hyco.synthetic_lbfgs_iterations=4",)
    cfg = compose_config(make_overrides(*extra, base=TINY_RECON_GS))
    original = ReconstructionTrainer.save_post

    def stop_after_step_2(self, steps_done, optimiser, loss):
        original(self, steps_done, optimiser, loss)
        if steps_done == 2:
            raise RuntimeError("simulated crash in the L-BFGS phase")

    monkeypatch.setattr(ReconstructionTrainer, "save_post", stop_after_step_2)
    with pytest.raises(RuntimeError, match="L-BFGS phase"):
        train_run(cfg)
    monkeypatch.setattr(ReconstructionTrainer, "save_post", original)
    resumed = train_run(cfg)
    assert resumed.resumed
    straight_store = fresh_tracking("straight")
    straight = train_run(compose_config(make_overrides(*extra, base=TINY_RECON_GS, tracking=straight_store)))

    def final(run_id, store):
        return load_checkpoint(tracking.artifact_dir(run_id, store) / "checkpoints" / ReconstructionTrainer.CHECKPOINT)

    a, b = final(resumed.run_id, cfg.tracking), final(straight.run_id, straight_store)
    assert a["post_done"] and b["post_done"]
    for key in a["synthetic"]["model"]:
        assert torch.equal(a["synthetic"]["model"][key], b["synthetic"]["model"][key]), key
    # the objective of every L-BFGS step is in the run, once, and falls
    history = tracking.get_metric_history(resumed.run_id, M.RECON_LBFGS_LOSS, cfg.tracking)
    assert [s for s, _ in history] == [1, 2, 3, 4]
    assert history == tracking.get_metric_history(straight.run_id, M.RECON_LBFGS_LOSS, straight_store)
    assert history[-1][1] < history[0][1]
