"""A researcher's own PDE, network and arm, from their own package, with nothing in ``hyco/`` or
``conf/`` edited: ``tests/plugin_example`` is installed (a real ``pip install``, into a folder of
its own) and used from its own directory by run.py, compare.py, the sweep and the arm contract.
The docs page docs/plugins.md shows that package, file for file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hyco.core.paths import project_root

ROOT = project_root()
PLUGIN = ROOT / "tests" / "plugin_example"
NAMES = ("decay_diffusion", "convnet", "relay", "decay_quick")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """The plug-in installed into its own site folder; the environment of a process that has it."""
    site = tmp_path_factory.mktemp("plugin_site")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--target", str(site), str(PLUGIN)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path_factory.mktemp("build"))
    assert proc.returncode == 0, proc.stderr
    for leftover in ("build", "hyco_example_plugin.egg-info"):  # setuptools builds in the source tree
        if (PLUGIN / leftover).exists():
            import shutil

            shutil.rmtree(PLUGIN / leftover)
    # the plug-in's folder, then this checkout (the code under test, whatever the environment's install points at)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "MLFLOW_DISABLE_TELEMETRY": "true",
           "HYCO_RUN_BARS": "0"}
    return env


def tracking(root: Path) -> list:
    return [f"tracking.tracking_uri=sqlite:///{root / 'mlflow.db'}", f"tracking.artifact_location={root / 'art'}",
            f"data.cache_dir={root / 'cache'}", "torch_threads=1"]


def run(args, env, cwd, timeout=600):
    proc = subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_the_plugin_touches_nothing_in_hyco_or_conf():
    for folder in (ROOT / "hyco", ROOT / "conf"):
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix in (".py", ".yaml"):
                text = path.read_text()
                assert not any(name in text for name in NAMES), path


@pytest.mark.slow
def test_the_plugin_trains_evaluates_compares_and_sweeps_from_its_own_directory(installed, tmp_path):
    out = run([str(ROOT / "experiments" / "run.py"), "experiment=decay_quick", "trainer=relay", "synthetic=convnet",
               "task=[generate,train,evaluate]", *tracking(tmp_path)], installed, PLUGIN)
    scores = dict(re.findall(r"^  (synthetic|physical)\s+([0-9.e-]+)", out, re.M))
    assert set(scores) == {"synthetic", "physical"}, out
    assert float(scores["physical"]) < 0.05  # D and r fitted from half the line
    # a knob of the plug-in arm is refused for another arm, naming it
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "run.py"), "experiment=decay_quick",
                           "trainer=pinn", "trainer.relay.physics_epochs=3"], env=installed, cwd=PLUGIN,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "trainer.relay.physics_epochs: a knob of the arm(s) relay" in proc.stderr

    table = run([str(ROOT / "experiments" / "compare.py"), "experiment=decay_quick", "--arms",
                 "physical_only,relay", "--output", str(tmp_path / "table.md"), *tracking(tmp_path)],
                installed, PLUGIN)
    assert re.search(r"^\| relay \| [0-9.]+ \|", table, re.M), table

    sweep = run([str(ROOT / "experiments" / "sweep.py"), "experiment=decay_quick", "sweep.arms=[relay,physical_only]",
                 "sweep.n_trials=2", "sweep.reeval_seeds=0", "sweep.study_name=plugin",
                 f"sweep.storage=sqlite:///{tmp_path / 'optuna.db'}", "+sweep.search_space.relay={trainer.relay."
                 "physics_epochs: {type: int, low: 1, high: 3}}", *tracking(tmp_path)], installed, PLUGIN)
    assert re.search(r"^relay\s+network\s", sweep, re.M) and "2 complete" in sweep, sweep


@pytest.mark.slow
def test_the_contract_covers_the_plugin_pde_and_arm(installed):
    """The arm contract, run where the plug-in is installed: its PDE under every arm, its arm on
    every PDE (nothing in the contract names them)."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(ROOT / "tests" / "arms" / "test_arm_contract.py"), "-k", "relay or decay_diffusion"],
                          env=installed, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:]
    passed = int(re.search(r"(\d+) passed", proc.stdout).group(1))
    assert passed >= 14, proc.stdout[-1000:]  # relay on 5 built-in PDEs and itself, 8 built-in arms on decay


def test_the_docs_example_is_the_tested_package():
    readme = (ROOT / "docs" / "plugins.md").read_text()  # the docs page is the example's one copy
    blocks = re.findall(r"^`(tests/plugin_example/[^`]+)`:\n\n```\w*\n(.*?)```", readme, re.M | re.S)
    files = sorted(p.relative_to(ROOT).as_posix() for p in PLUGIN.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in str(p))
    assert sorted(name for name, _ in blocks) == files
    for name, text in blocks:
        assert (ROOT / name).read_text() == text, name
