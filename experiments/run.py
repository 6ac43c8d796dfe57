"""Run one HYCO experiment: ``python experiments/run.py experiment=burgers_2d_quick task=[generate]``.

The logic lives in :mod:`hyco.app`; this script only hands Hydra's composed config to it.
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files: no display needed (clusters, CI)

import hydra
from omegaconf import DictConfig

import hyco.config  # noqa: F401  (registers the schema in Hydra's ConfigStore)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    from hyco.app import run_tasks

    run_tasks(cfg)


if __name__ == "__main__":
    main()
