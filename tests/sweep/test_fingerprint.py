"""A study is one problem: another experiment, override or search space is refused before any
trial, naming the differences, and leaves the study untouched (SQLite here; the check itself is
the same on PostgreSQL, where it runs under the study lock)."""

from __future__ import annotations

import pytest
from sweep_helpers import compose_sweep, load_study, mlflow_runs, run_sweep_cli, tail

from hyco.errors import ConfigError
from hyco.sweep.fingerprint import check_fingerprint, differences, fingerprint


def _items(*overrides: str):
    from hyco.sweep.fingerprint import study_problem
    from hyco.sweep.space import arms_for

    overrides = ("sweep.trial_overrides=[]", *overrides)  # the default's are for the 2D problem
    cfg = compose_sweep(list(overrides))
    trial_overrides = [o for o in overrides if not o.startswith("sweep.")]
    return study_problem(cfg, trial_overrides, arms_for(cfg.sweep.objective, list(cfg.sweep.arms)))


def test_fingerprint_ignores_where_and_how_fast_but_not_what():
    base = _items("experiment=burgers_1d_quick")
    assert fingerprint(base) == fingerprint(_items("experiment=burgers_1d_quick", "device=cpu", "torch_threads=3",
                                                   "data.cache_dir=/elsewhere", "sweep.workers=4",
                                                   "tracking.tracking_uri=http://127.0.0.1:1"))
    # a host started with -v (log_level=DEBUG) joins the study of one started without it
    assert fingerprint(base) == fingerprint(_items("experiment=burgers_1d_quick", "log_level=DEBUG"))
    other = _items("experiment=burgers_1d_quick", "trainer.epochs=3")
    assert fingerprint(other) != fingerprint(base)
    assert differences(base, other) == [f"trial.trainer.epochs: {base['trial.trainer.epochs']} -> 3"]


def test_check_fingerprint_records_a_new_study_and_refuses_another_problem():
    items = {"trial.a": "1", "objective": '"x"'}
    assert check_fingerprint("s", {}, items) is True
    attrs = {"fingerprint": fingerprint(items), "fingerprint_items": items}
    assert check_fingerprint("s", attrs, dict(items)) is False
    with pytest.raises(ConfigError, match=r"(?s)trial\.a: 1 -> 2.*sweep\.study_name=s_2"):
        check_fingerprint("s", attrs, {**items, "trial.a": "2"})


@pytest.mark.slow
def test_a_mixed_study_is_refused_before_any_trial_and_left_untouched(sweep_paths):
    name = "one_problem"
    first = sweep_paths.overrides(f"sweep.study_name={name}", "sweep.n_trials=1", "sweep.arms=[physical_only]")
    proc = run_sweep_cli(first, cwd=sweep_paths.root)
    assert proc.returncode == 0, tail(proc)
    study = load_study(sweep_paths, name)
    before = ([(t.number, t.state, t.params) for t in study.get_trials()], dict(study.user_attrs))
    runs_before = sorted((r.run_id, r.status) for r in mlflow_runs(sweep_paths))

    refused = {
        "another experiment": ([o for o in first if not o.startswith("experiment=")]
                               + ["experiment=inviscid_burgers_1d_quick"],
                               "trial.physics"),
        "another override": (first + ["data.num_frames=7"], "trial.data.num_frames: 6 -> 7"),
        "another search space": (first + ["~sweep.search_space.physical_only"], "search_space.physical_only"),
    }
    for what, (overrides, named) in refused.items():
        proc = run_sweep_cli(overrides, cwd=sweep_paths.root)
        assert proc.returncode == 2, f"{what}: {tail(proc)}"
        assert named in proc.stderr and f"sweep.study_name={name}_2" in proc.stderr, f"{what}: {proc.stderr}"
        assert "Trial" not in proc.stdout + proc.stderr  # refused before any trial
        study = load_study(sweep_paths, name)
        assert ([(t.number, t.state, t.params) for t in study.get_trials()], dict(study.user_attrs)) == before
        assert sorted((r.run_id, r.status) for r in mlflow_runs(sweep_paths, "inviscid_burgers_1d_quick")) == []
        assert sorted((r.run_id, r.status) for r in mlflow_runs(sweep_paths)) == runs_before
