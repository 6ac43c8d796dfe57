"""APHYNITY's convolutional correction network: its layout, its batch statistics, its scale invariance,
and a continuous-form APHYNITY epoch with it."""

from __future__ import annotations

import pytest
import torch

from hyco.arms import build_trainer
from hyco.arms.aphynity import APHYNITY_CORRECTION_NORM
from hyco.arms.aphynity_forms import correction
from hyco.compose import compose_config
from hyco.errors import ProblemRefused
from hyco.runs.train import open_training_data
from hyco.synthetic import build_network
from hyco.synthetic.networks.aphynity_net import AphynityNet
from hyco.tracking.run_logger import MemoryRunLogger
from hyco.training.context import RunContext


def test_the_authors_layout_and_parameter_count():
    # ConvNetEstimator(state_c=2, hidden=16): 2*16*9 + 32 + 16*16*9 + 32 + 16*2*9 + 2 parameters
    net = build_network({"name": "aphynity_net", "aphynity_net": {"hidden": 16, "layers": 2}}, 2, 2, 2, seed=0)
    assert isinstance(net, AphynityNet)
    assert sum(p.numel() for p in net.parameters()) == 288 + 32 + 2304 + 32 + 290
    assert net(torch.rand(3, 2, 8, 8)).shape == (3, 2, 8, 8)
    one_d = AphynityNet(1, 2, 1, hidden=4)
    assert one_d(torch.rand(2, 2, 10)).shape == (2, 1, 10)


def test_batch_statistics_make_a_sample_depend_on_its_batch():
    torch.manual_seed(0)
    x = torch.rand(4, 2, 8, 8)
    other = torch.rand(4, 2, 8, 8) * 3
    batched = AphynityNet(2, 2, 2, norm="batch")
    alone = batched(x[:1])
    with_others = batched(torch.cat([x[:1], other]))[:1]
    assert (alone - with_others).abs().max() > 1e-3
    # in evaluation mode too: no running statistics are kept
    batched.eval()
    torch.testing.assert_close(batched(x[:1]), alone)
    plain = AphynityNet(2, 2, 2, norm="none")
    torch.testing.assert_close(plain(x[:1]), plain(torch.cat([x[:1], other]))[:1], rtol=1e-6, atol=1e-6)


def test_with_batch_norm_the_correction_does_not_follow_the_states_scale():
    torch.manual_seed(1)
    x = torch.rand(4, 2, 8, 8) - 0.5
    net = AphynityNet(2, 2, 2, norm="batch", padding="zeros")
    torch.testing.assert_close(net(10.0 * x), net(x), rtol=1e-4, atol=1e-4)
    # down to the norm's eps (1e-5 against each hidden channel's variance over the batch)
    torch.testing.assert_close(net(3.0 * x), net(x), rtol=1e-4, atol=1e-4)
    plain = AphynityNet(2, 2, 2, norm="none")
    assert (plain(10.0 * x) - plain(x)).abs().max() > 1e-2


def test_bad_knobs_and_a_state_without_axes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="synthetic.aphynity_net.norm"):
        AphynityNet(2, 2, 2, norm="layer")
    with pytest.raises(ValueError, match="kernel_size"):
        AphynityNet(2, 2, 2, kernel_size=2)
    with pytest.raises(ProblemRefused, match="synthetic=mlp"):
        compose_config(["experiment=aphynity_pendulum", "trainer=aphynity", "synthetic=aphynity_net",
                        f"data.cache_dir={tmp_path}"])


def test_as_aphynitys_correction_it_trains_in_the_continuous_form(tmp_path):
    net = AphynityNet(2, 2, 2)
    x = torch.rand(3, 2, 8, 8)
    torch.testing.assert_close(correction(net, x, 2), net(x))  # not residual: the output is F_a itself
    cfg = compose_config(["experiment=aphynity_rd", "trainer=aphynity", "synthetic=aphynity_net",
                          "physics.resolution=[8,8]",
                          "data.num_train=2", "data.num_val=1", "data.num_test=1", "data.num_frames=4",
                          "trainer.rollout_steps=3", "trainer.batch_size=2", "evaluation.horizon=0",
                          "torch_threads=1", f"data.cache_dir={tmp_path / 'cache'}"])
    data, _ = open_training_data(cfg)
    trainer = build_trainer(cfg, data, RunContext(MemoryRunLogger(), tmp_path / "run", log_memory=False))
    start = dict(trainer.physical.current_params())
    trainer.train_epoch(data.train)
    assert 0 < trainer.terms[APHYNITY_CORRECTION_NORM] < float("inf")
    assert trainer.physical.current_params()["a"] != pytest.approx(start["a"])
