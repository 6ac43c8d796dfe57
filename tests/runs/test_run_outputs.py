"""A finished run carries what MLflow's UI and API expect: the data cache entry as its dataset
input, the trained network as a loadable PyTorch model, and its log file with per-epoch detail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from hyco import metrics as M
from hyco import tracking
from hyco.core.paths import conf_dir
from hyco.data.cache import CacheReader
from hyco.evaluation import evaluate_run, relative_l2_per_step
from hyco.evaluation.evaluate import load_test_set
from hyco.physics.registry import build_physics
from hyco.runs.train import train_run
from hyco.synthetic.rollout import rollout


def _cfg(tmp_path: Path, tracking_cfg, *overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=[
            "experiment=burgers_1d_quick", "physics.resolution=[16]", "data.num_train=2", "data.num_val=1",
            "data.num_test=2", "data.num_frames=6", "trainer.rollout_steps=2", "trainer.epochs=2",
            "synthetic.unet.levels=1", "synthetic.unet.filters=4", "torch_threads=1", "device=cpu",
            "evaluation.figures=false", "tracking.log_memory=false",
            f"data.cache_dir={tmp_path / 'cache'}",
            f"tracking.tracking_uri={tracking_cfg.tracking_uri}",
            f"tracking.artifact_location={tracking_cfg.artifact_location}",
            *overrides,
        ])


@pytest.mark.parametrize("variant", ["synthetic_only", "cooperative"])
def test_logged_network_loads_by_runs_uri_and_reproduces_the_held_out_error(tmp_path, mlflow_tracking_cfg,
                                                                             variant):
    cfg = _cfg(tmp_path, mlflow_tracking_cfg, f"trainer={variant}")
    outcome = train_run(cfg)
    assert outcome.model_uri == f"runs:/{outcome.run_id}/model"
    cfg.evaluation.run_id = outcome.run_id
    evaluated = evaluate_run(cfg).metrics[M.rel_l2_mean("test", "synthetic")]

    network = tracking.load_torch_model(outcome.model_uri, tracking.resolve_backend(cfg.tracking).uri)
    reader = CacheReader(Path(cfg.data.cache_dir)
                         / tracking.get_run(outcome.run_id, cfg.tracking).tags["hyco.data_key"])
    model = build_physics(cfg.physics, cfg.data.ic)
    test = load_test_set(cfg, reader, horizon=reader.metadata["num_frames"] - 1, channels=model.channels)
    static = None if test["static"] is None else torch.from_numpy(test["static"])
    with torch.no_grad():
        pred = rollout(network, torch.from_numpy(test["truth"][:, 0]), test["truth"].shape[1] - 1, static=static)
    errors = relative_l2_per_step(pred.numpy(), test["truth"][:, 1:])
    assert float(np.mean(errors)) == pytest.approx(evaluated, rel=1e-5)


def test_run_has_its_data_as_dataset_input_and_its_log_file(tmp_path, mlflow_tracking_cfg):
    cfg = _cfg(tmp_path, mlflow_tracking_cfg, "trainer=synthetic_only", "tracking.log_model=false")
    outcome = train_run(cfg)
    assert outcome.model_uri is None  # switched off: nothing logged, nothing to load
    run = tracking.get_client(cfg.tracking).get_run(outcome.run_id)
    key = run.data.tags["hyco.data_key"]
    [entry] = run.inputs.dataset_inputs
    assert entry.dataset.digest == key
    assert entry.dataset.name == "burgers_1d_quick/burgers"
    assert key in entry.dataset.source and Path(cfg.data.cache_dir).name in entry.dataset.source
    assert {t.key: t.value for t in entry.tags}["mlflow.data.context"] == "training"
    assert not run.outputs or not run.outputs.model_outputs

    log_file = tracking.artifact_dir(outcome.run_id, cfg.tracking) / "logs" / "train.log"
    text = log_file.read_text()
    assert "[DEBUG] epoch 1/2" in text and "[DEBUG] epoch 2/2" in text  # the detail the console hides
