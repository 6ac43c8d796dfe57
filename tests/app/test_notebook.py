"""notebooks/hyco_analysis.ipynb runs top to bottom, headless, on a tiny sweep and tabulates every arm.

The sweep runs in-process (``run_sweep`` on a composed config, as ``experiments/sweep.py`` does),
all state in ``tmp_path``; the notebook is executed with nbclient in a ``python3`` kernel pointed
at that state through its ``HYCO_*`` environment variables.
"""

import shutil

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("nbconvert")

from hyco.core.paths import conf_dir, project_root  # noqa: E402

NOTEBOOK = project_root() / "notebooks" / "hyco_analysis.ipynb"
# a 1D problem on 16 cells, 4 epochs (more than the 3 warm-start rounds the search space may give cooperative),
# a one-level UNet with 4 filters: seconds per trial
TINY = ["experiment=burgers_1d_quick", "physics.resolution=[16]", "data.num_frames=6", "data.num_train=2",
        "data.num_val=1", "data.num_test=1", "trainer.epochs=4", "synthetic.unet.levels=1", "synthetic.unet.filters=4",
        "torch_threads=1"]
CASES = {
    # single objective with an arm that has no physical player (synthetic_only: no nu, no physical losses)
    "synthetic_error": ["synthetic_only", "physical_only", "cooperative", "mixed"],
    # multi-objective: the Pareto front section runs (synthetic_only is excluded by the objective)
    "both": ["physical_only", "mixed"],
}


# fresh-seed re-evaluations per arm after the sweep (sweep.reeval_seeds), shown in section 7
REEVAL = {objective: (2 if i == 0 else 0) for i, objective in enumerate(CASES)}


def run_tiny_sweep(tmp_path, mlflow_db_template, objective, arms):
    """Run the sweep in-process; returns the notebook's HYCO_* environment for it."""
    from hydra import compose, initialize_config_dir

    from hyco.config import validate
    from hyco.sweep.runner import run_sweep

    db = tmp_path / "mlruns" / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mlflow_db_template, db)  # migrated once per session
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    trial_overrides = [f"tracking.tracking_uri=sqlite:///{db}",
                       f"tracking.artifact_location={tmp_path / 'mlruns' / 'artifacts'}",
                       f"data.cache_dir={tmp_path / 'cache'}", *TINY]
    sweep = ["sweep.study_name=nb_test", f"sweep.storage={storage}", f"sweep.n_trials={len(arms)}",
             f"sweep.objective={objective}", f"sweep.arms=[{','.join(arms)}]", "sweep.trial_overrides=[]",
             f"sweep.reeval_seeds={REEVAL[objective]}"]
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*trial_overrides, *sweep])
    validate(cfg)
    outcome = run_sweep(cfg, trial_overrides)
    # every arm completed, so the notebook's table is checked against something real
    assert sorted(row["arm"] for row in outcome.summary.rows) == sorted(arms)
    return {"HYCO_STUDY": "nb_test", "HYCO_STORAGE": storage, "HYCO_TRACKING_URI": f"sqlite:///{db}"}


def output_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out["text"])
        for mime in ("text/plain", "text/markdown", "text/html"):
            parts.append(str(out.get("data", {}).get(mime, "")))
    return "\n".join(parts)


def cell_tagged(nb, tag):
    cells = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    return cells[0]


def test_committed_notebook_has_no_outputs_cell_ids_and_current_metric_names():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    raw = NOTEBOOK.read_text()  # ids on every cell, so opening it does not mark it modified
    assert nb.nbformat_minor >= 5 and all(c.get("id") for c in nb.cells) and raw.count('"id": ') == len(nb.cells)
    text = "\n".join(c.source for c in nb.cells)
    for old in ("synthetic_train_loss", "physical_val_loss", "param_<name>", "eval_<model>", "metric `phase`"):
        assert old not in text, old


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Some regimes for parameter")  # importances from a handful of trials
@pytest.mark.parametrize("objective", list(CASES))
def test_notebook_runs_on_a_tiny_sweep(tmp_path, mlflow_db_template, monkeypatch, objective):
    arms = CASES[objective]
    env = run_tiny_sweep(tmp_path, mlflow_db_template, objective, arms)
    for key, value in env.items():  # the kernel inherits this process's environment
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HYCO_EXPERIMENT", raising=False)  # derived from the study's parent run

    from hyco.app.report import execute_notebook

    nb = execute_notebook(env, timeout=120)  # raises CellExecutionError naming the failing cell

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    table = output_text(cell_tagged(nb, "arm-table"))
    for arm in arms:
        assert arm in table, f"arm {arm!r} missing from the per-arm table:\n{table}"
    for tag in ("loss-curves", "param-trajectories"):  # figures really rendered inline
        assert any("image/png" in o.get("data", {}) for o in cell_tagged(nb, tag).outputs), tag
    seeds = cell_tagged(nb, "seed-stats")
    if REEVAL[objective]:  # the fresh-seed table with intervals and the horizon figure with bands
        assert " ± " in output_text(seeds) and any("image/png" in o.get("data", {}) for o in seeds.outputs)
    else:
        assert "No fresh-seed re-evaluation" in output_text(seeds)
    pareto = cell_tagged(nb, "pareto")
    has_front = any("image/png" in o.get("data", {}) for o in pareto.outputs)
    assert has_front == (objective == "both")


@pytest.mark.slow
def test_make_report_of_a_comparison_logs_the_html_to_its_parent_run(tmp_path, mlflow_db_template, monkeypatch):
    """``make report --comparison <parent run id>``: the notebook on a two-arm comparison."""
    from hyco import tracking
    from hyco.app.report import run_report
    from hyco.compare import compare

    db = tmp_path / "mlflow.db"
    shutil.copyfile(mlflow_db_template, db)
    uri = f"sqlite:///{db}"
    overrides = [f"tracking.tracking_uri={uri}", f"tracking.artifact_location={tmp_path / 'artifacts'}",
                 f"data.cache_dir={tmp_path / 'cache'}", "evaluation.figures=false", "tracking.log_model=false",
                 *TINY[1:]]
    compare("burgers_1d_quick", ["synthetic_only", "physical_only"], overrides, tmp_path / "table.md")
    parent = next(r for r in tracking.search_runs("burgers_1d_quick", tracking=uri) if "hyco.compare" in r.tags)
    path, logged = run_report(tracking_uri=uri, comparison=parent.run_id, output=tmp_path / "report.html")
    html = path.read_text()
    assert logged == parent.run_id and "synthetic_only" in html and "physical_only" in html
    assert "Traceback" not in html and "Error" not in html.split("<body", 1)[1][:200]
    artifact = tracking.download_artifact(parent.run_id, "report/hyco_analysis.html", uri)
    assert artifact.is_file() and artifact.read_text() == html
