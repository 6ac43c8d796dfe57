"""Where APHYNITY's objective puts the physical parameters when the data are fitted exactly.

    python experiments/aphynity_optimum.py rd|wave|pendulum [--seeds 3] [--at a=3.9e-4,b=5.4e-3] [overrides ...]

For each seed of an APHYNITY preset (``conf/experiment/aphynity_<problem>.yaml``; seed ``s`` sees
the data of a comparison's seed ``s``), on the states of its training windows: the minimum-norm
parameters ``θ°`` of the learner's incomplete physics (:mod:`hyco.arms.aphynity_optimum`), their
%Err against the truth, ``‖F_a‖²`` at ``θ°`` (what an exact fit must pay) and at the truth (the
missing term's mean square), and how much ``‖F_a‖²`` rises when one parameter moves from ``θ°``
by 1 % of its true value (the objective's curvature). ``--at`` adds ``‖F_a‖²`` at given parameter values, e.g. a
run's learned ones. Hydra overrides apply to every seed (``physics.resolution=[32,32]`` puts the
reaction–diffusion data on the paper's grid). The data are generated (or read from the cache) as
a run would; one CPU thread, seconds per seed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Dict, List

import torch

from hyco.arms.aphynity_optimum import correction_penalty, minimum_norm_fit, window_states
from hyco.compose import compose_config
from hyco.config.schema import truth_physics
from hyco.data.cache import CacheReader
from hyco.data.generate import generate_dataset
from hyco.data.training_data import TrainingData
from hyco.physics import build_physics
from hyco.runs.seeds import seed_overrides

PROBLEMS = ("rd", "wave", "pendulum")


def parse_values(text: str) -> Dict[str, float]:
    """``a=3.9e-4,b=5e-3`` as a mapping; a clear error for anything else."""
    values: Dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise SystemExit(f"--at: expected name=value pairs separated by commas, got {item!r}")
    return values


def report(problem: str, seeds: int, overrides: List[str], at: Dict[str, float]) -> None:
    base = compose_config([f"experiment=aphynity_{problem}", "trainer=aphynity", "torch_threads=1", *overrides])
    print(f"aphynity_{problem}{' ' + ' '.join(overrides) if overrides else ''}: learner terms "
          f"{list(base.physics.terms)}, truth terms {list(truth_physics(base).terms)}, "
          f"normalised penalty: {bool(base.trainer.aphynity.normalise)}")
    for seed in range(seeds):
        cfg = compose_config([f"experiment=aphynity_{problem}", "trainer=aphynity", "torch_threads=1", *overrides,
                              *seed_overrides(base, seed)])
        reader = CacheReader(generate_dataset(cfg).path)
        states = window_states(TrainingData.open(cfg, reader).train)
        truth = build_physics(truth_physics(cfg), cfg.data.ic, jit=False)
        learner = build_physics(cfg.physics, cfg.data.ic, jit=False)
        normalise = bool(cfg.trainer.aphynity.normalise)
        fit = minimum_norm_fit(truth, learner, states, normalise)
        optimum = ", ".join(f"{n} {v:.6g} (truth {fit.truth[n]:.6g}, {100 * fit.relative_errors[n]:.2f} %)"
                            for n, v in fit.params.items())
        print(f"  seed {seed}: {fit.states} states; θ° {optimum}; %Err {fit.percent_error:.2f}")
        print(f"    ‖F_a‖² at θ° {fit.penalty:.6g}, at the truth {fit.penalty_at_truth:.6g}")
        for name, value in fit.params.items():
            shifted = {**fit.params, name: value + 0.01 * abs(fit.truth[name])}
            moved = correction_penalty(truth, learner, states, shifted, normalise)
            rise = moved - fit.penalty
            print(f"    {name} + 1 % of its truth from θ°: ‖F_a‖² +{rise:.3g} ({100 * rise / fit.penalty:.3g} %)")
        if at:
            value = correction_penalty(truth, learner, states, {**fit.params, **at}, normalise)
            print(f"    at {at}: ‖F_a‖² {value:.6g} ({100 * (value / fit.penalty - 1):+.3g} % over θ°)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("problem", choices=PROBLEMS)
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0 .. N-1 (default 1)")
    parser.add_argument("--at", default="", help="parameter values to score as well, e.g. a=3.9e-4,b=5.4e-3")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every seed")
    args = parser.parse_intermixed_args()  # options may follow the overrides and precede them
    if args.seeds < 1:
        parser.error("--seeds: at least 1")
    torch.set_num_threads(1)
    report(args.problem, args.seeds, list(args.overrides), parse_values(args.at))
    return 0


if __name__ == "__main__":
    sys.exit(main())
