"""What a run consumed and produced, the way MLflow's UI shows it: the data cache entry as the
run's *dataset input* (the runs table's "Dataset" column) and the trained network as an MLflow
*PyTorch model* (``mlflow.pytorch.load_model("runs:/<run id>/model")``).

Part of the one tracking package: ``mlflow`` is imported here, lazily, and nowhere outside
:mod:`hyco.tracking`. Callers hand in plain Python (paths, keys, ``nn.Module``, numpy arrays).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional, Union

import numpy as np

from hyco.tracking.run_logger import DatasetRef

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

log = logging.getLogger(__name__)

MODEL_NAME = "model"  # the artifact name: runs:/<run id>/model
DATA_CONTEXT = "training"  # the input's role, shown in the UI beside the dataset's name


def model_uri(run_id: str, name: str = MODEL_NAME) -> str:
    """The ``runs:/`` URI of a run's logged network."""
    return f"runs:/{run_id}/{name}"


def log_dataset_input(client: Any, run_id: str, dataset: DatasetRef) -> None:
    """Record ``dataset`` as an input of ``run_id`` (context ``training``); MLflow keeps one
    dataset per (name, digest) per experiment and links every run that used it."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    uri = Path(dataset.source).as_uri() if os.path.isabs(dataset.source) else dataset.source
    with warnings.catch_warnings():  # "can be interpreted in multiple ways": two local-file
        warnings.simplefilter("ignore", UserWarning)  # sources are registered, either is right
        source = resolve_dataset_source(uri)
    meta = MetaDataset(source=source, name=dataset.name, digest=dataset.digest)
    tags = [InputTag(key=MLFLOW_DATASET_CONTEXT, value=DATA_CONTEXT)]
    client.log_inputs(run_id, datasets=[DatasetInput(dataset=meta._to_mlflow_entity(), tags=tags)])


def log_torch_model(run_id: str, model: "nn.Module", input_example: Union[np.ndarray, Dict[str, np.ndarray]],
                    name: str = MODEL_NAME) -> float:
    """Log ``model`` once as an MLflow PyTorch model of the active run ``run_id``, with the
    signature inferred from ``input_example`` (real inputs, a batch of at least two: the export
    would fix a batch of one as the only size); returns the seconds it took. MLflow's default
    format, ``pt2`` (``torch.export``), is kept: loading it executes no pickle, as for the
    platform's own checkpoints. ``mlflow.pytorch.log_model`` writes to the fluent active run, so this
    refuses to run when ``run_id`` is not that run (the model would land in another run)."""
    import mlflow
    import mlflow.pytorch
    import torch
    from mlflow.models import infer_signature

    active = mlflow.active_run()
    if active is None or active.info.run_id != run_id:
        raise RuntimeError(f"log_torch_model: run {run_id} is not the active MLflow run "
                           f"({active.info.run_id if active else 'none'})")
    start = time.perf_counter()
    model = model.eval().cpu()
    with torch.no_grad():
        example = input_example if isinstance(input_example, np.ndarray) else next(iter(input_example.values()))
        output = model(torch.as_tensor(example)).numpy()
    signature = infer_signature(input_example, output)
    mlflow.pytorch.log_model(model, name=name, signature=signature, input_example=input_example,
                             pip_requirements=_requirements())
    seconds = time.perf_counter() - start
    log.debug("logged the network of run %s as %s in %.2f s", run_id, model_uri(run_id, name), seconds)
    return seconds


def _requirements() -> list:
    """The model's runtime requirements, pinned from this environment: MLflow's own inference of
    them imports the model in a subprocess, which costs seconds per run and gains nothing here."""
    import mlflow
    import torch

    return [f"mlflow=={mlflow.__version__}", f"torch=={torch.__version__.split('+')[0]}", "numpy"]


def load_torch_model(uri: str, tracking_uri: Optional[str] = None) -> "nn.Module":
    """``mlflow.pytorch.load_model(uri)`` (e.g. :func:`model_uri`) against ``tracking_uri``."""
    import mlflow
    import mlflow.pytorch

    previous = mlflow.get_tracking_uri()
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)  # runs:/ URIs are resolved against the global URI
    try:
        return mlflow.pytorch.load_model(uri, map_location="cpu")
    finally:
        mlflow.set_tracking_uri(previous)
