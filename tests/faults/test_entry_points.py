"""Every entry point's failures, tried in-process: one line naming the culprit, the class's exit
status (docs/reliability.md), no traceback unless -v or a bug, and nothing created before a
refusal. Unreachable stores are refused in seconds, before a study or a run exists."""

from __future__ import annotations

import errno
import time

import pytest
from fault_helpers import closed_port, entry_point, error_lines, one_line, tree

from hyco.app.cli import run_main
from hyco.core.exits import classify, report
from hyco.errors import (
    EXIT_CONFIG,
    EXIT_DATA,
    EXIT_INTERNAL,
    EXIT_NOT_FOUND,
    EXIT_STORE,
    CacheError,
    Interrupted,
    NotFoundError,
    StoreError,
    exit_code,
)

TINY = ["experiment=burgers_1d_quick", "physics.resolution=[16]", "data.num_frames=6", "data.num_train=2",
        "data.num_val=1", "data.num_test=1", "trainer.rollout_steps=2", "trainer.epochs=2", "synthetic.unet.levels=1",
        "synthetic.unet.filters=4", "torch_threads=1", "device=cpu", "tracking.log_memory=false",
        "evaluation.figures=false", "tracking.log_model=false"]


@pytest.fixture
def state(tmp_path, monkeypatch):
    """Everything a command may write, under ``tmp_path/state`` (the check that nothing was created)."""
    root = tmp_path / "state"
    root.mkdir()
    monkeypatch.setenv("HYCO_MLRUNS", str(root / "mlruns"))
    monkeypatch.setenv("HYCO_LOG_LEVEL", "INFO")
    return root


def sweep_args(state, *extra):
    return [*TINY, f"data.cache_dir={state / 'cache'}", "sweep.arms=[synthetic_only]", "sweep.n_trials=1",
            "sweep.trial_overrides=[]", "sweep.reeval_seeds=0", f"sweep.storage=sqlite:///{state / 'optuna.db'}",
            f"tracking.tracking_uri=sqlite:///{state / 'mlflow.db'}", f"tracking.artifact_location={state / 'art'}",
            *extra]


# ----------------------------------------------------------------------------- the error path
def test_exit_codes_are_one_mapping_from_error_class():
    assert exit_code(CacheError("x")) == EXIT_DATA == 4
    assert exit_code(StoreError("x")) == EXIT_STORE == 5
    assert exit_code(NotFoundError("x")) == EXIT_NOT_FOUND == 3
    assert exit_code(Interrupted(15)) == 143 and exit_code(KeyboardInterrupt()) == 130
    assert exit_code(RuntimeError("bug")) == EXIT_INTERNAL == 1
    full = OSError(errno.ENOSPC, "No space left on device", "/data/cache/x.npz")
    assert classify(full) == (EXIT_STORE, classify(full)[1]) and "/data/cache/x.npz" in classify(full)[1]
    try:  # a platform error anywhere in the chain wins over what wrapped it
        try:
            raise CacheError("cache /c/k is corrupt")
        except CacheError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert classify(outer) == (EXIT_DATA, "data error: cache /c/k is corrupt")


def test_a_bug_keeps_its_traceback_and_exits_1(capsys):
    def broken():
        raise ZeroDivisionError("integer modulo by zero")

    try:
        broken()
    except ZeroDivisionError as err:
        assert report(err) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("internal error: ZeroDivisionError")


# ----------------------------------------------------------------------------- run.py
def test_run_hydra_composition_error_exits_2_in_one_line(state, capsys):
    assert run_main([*TINY, "experiment=nonexistent"]) == EXIT_CONFIG
    line = one_line(capsys.readouterr().err)
    assert line.startswith("configuration error:") and "experiment/nonexistent" in line
    assert run_main([*TINY, "--cfg", "yaml"]) == EXIT_CONFIG
    assert "--cfg" in one_line(capsys.readouterr().err)
    assert tree(state) == []


def test_run_failure_past_validation_is_one_line_naming_the_file(state, capsys):
    from hyco.compose import compose_config
    from hyco.data.generate import generate_dataset

    args = [*TINY, f"data.cache_dir={state / 'cache'}"]
    entry = generate_dataset(compose_config(args), progress=False).path
    damaged = entry / "train_00001.npz"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    assert run_main([*args, "task=[generate,train]"]) == EXIT_DATA
    line = one_line(capsys.readouterr().err)
    assert line.startswith("data error:") and str(damaged) in line and "data.regenerate=true" in line
    # with -v the same failure shows its traceback too
    assert run_main([*args, "task=[generate]", "-v"]) == EXIT_DATA
    assert "Traceback" in capsys.readouterr().err


def test_run_with_an_unreachable_tracking_server_fails_in_seconds_before_any_data(state, capsys):
    url = f"http://127.0.0.1:{closed_port()}"
    start = time.monotonic()
    code = run_main([*TINY, f"data.cache_dir={state / 'cache'}", f"tracking.tracking_uri={url}",
                     "task=[generate,train]"])
    assert code == EXIT_STORE and time.monotonic() - start < 30
    line = one_line(capsys.readouterr().err)
    assert line.startswith("storage error: tracking store (tracking.tracking_uri)") and url in line
    assert tree(state) == []


# ----------------------------------------------------------------------------- compare.py
def test_compare_config_errors_are_one_line(state, capsys):
    compare = entry_point("compare")
    assert compare.main(["--experiment", "burgers_1d_quick", "--arms", "synthetic_only", "trainer.lrr=1"]) == 2
    assert one_line(capsys.readouterr().err).startswith("configuration error: trainer.lrr:")
    assert compare.main(["--experiment", "burgers_1d_quick", "--arms", "warmstart", "trainer.epochs=2"]) == 2
    assert "trainer.hyco.warmstart_epochs" in one_line(capsys.readouterr().err)
    assert compare.main(["--experiment", "burgers_1d_quick", "--seeds", "0"]) == 2
    assert "--seeds" in one_line(capsys.readouterr().err)
    assert tree(state) == []


# ----------------------------------------------------------------------------- sweep.py
def test_sweep_summary_of_a_study_that_does_not_exist_refuses_and_creates_nothing(state, capsys):
    sweep = entry_point("sweep")
    assert sweep.main(sweep_args(state, "sweep.summary_only=true", "sweep.study_name=no_such_stdy")) == EXIT_NOT_FOUND
    line = one_line(capsys.readouterr().err)
    assert line.startswith("not found: sweep.summary_only: study 'no_such_stdy' does not exist") and "nothing" in line
    assert [p for p in tree(state) if not p.startswith("cache")] == []


@pytest.mark.parametrize("bad, key", [
    ("+sweep.search_space.synthetic_only={trainer.lr: {type: float, low: 0.0, high: 0.1, log: false}}",
     "sweep.search_space.synthetic_only.trainer.lr: the low bound 0.0"),
    ("+sweep.search_space.synthetic_only={trainer.lr: {type: float, low: .nan, high: 0.1}}",
     "sweep.search_space.synthetic_only.trainer.lr: low and high must be finite"),
    ("+sweep.search_space.common={trainer.physical_sims_per_fit: {type: int, low: 0, high: 2}}",
     "sweep.search_space.common.trainer.physical_sims_per_fit: the low bound 0"),
])
def test_sweep_search_space_bound_refused_before_the_study_exists(state, capsys, bad, key):
    sweep = entry_point("sweep")
    arms = "sweep.arms=[physical_only]" if "physical" in bad else "sweep.arms=[synthetic_only]"
    assert sweep.main(sweep_args(state, arms, bad)) == EXIT_CONFIG
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"configuration error: {key}"), line
    assert tree(state) == []


def test_sweep_warm_start_bound_past_the_epochs_is_refused(state, capsys):
    sweep = entry_point("sweep")  # the preset's space warms cooperative up for 0..3 rounds: 3 epochs are too few
    assert sweep.main(sweep_args(state, "sweep.arms=[cooperative]", "trainer.epochs=3")) == EXIT_CONFIG
    line = one_line(capsys.readouterr().err)
    assert line.startswith("configuration error: sweep.search_space.cooperative.trainer.hyco.warmstart_epochs: "
                           "the high bound 3"), line
    assert tree(state) == []


@pytest.mark.parametrize("where", ["tracking", "storage"])
def test_sweep_with_an_unreachable_store_fails_in_seconds_and_creates_nothing(state, capsys, where):
    port = closed_port()
    url = (f"http://127.0.0.1:{port}" if where == "tracking"
           else f"postgresql://hyco:secret@127.0.0.1:{port}/hyco_optuna")
    override = f"tracking.tracking_uri={url}" if where == "tracking" else f"sweep.storage={url}"
    sweep = entry_point("sweep")
    start = time.monotonic()
    assert sweep.main(sweep_args(state, override)) == EXIT_STORE
    assert time.monotonic() - start < 30
    line = one_line(capsys.readouterr().err)
    what = "tracking store (tracking.tracking_uri)" if where == "tracking" else "study storage (sweep.storage)"
    assert line.startswith(f"storage error: {what}") and f"127.0.0.1:{port}" in line and "secret" not in line
    assert tree(state) == []


def test_interrupted_is_reported_as_one_line_with_its_signal(capsys):
    assert report(Interrupted(15, "run abc ended KILLED; rerun the same command to resume it")) == 143
    assert error_lines(capsys.readouterr().err) == [
        "interrupted (SIGTERM): run abc ended KILLED; rerun the same command to resume it"]
