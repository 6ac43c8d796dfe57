"""``make report``: the analysis notebook executed headless for a study or a comparison, as HTML
logged to the parent run.

The notebook (``notebooks/hyco_analysis.ipynb``) reads its study, stores and comparison from
``HYCO_*`` environment variables; this module sets them for a kernel of its own (nbclient),
executes a copy of the notebook (the committed one keeps no outputs), exports it with nbconvert to
``mlruns/reports/<name>.html`` and logs that file to the sweep's (or comparison's) parent run as
``report/hyco_analysis.html``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence, Tuple

from hyco.core.paths import mlruns_dir, project_root

NOTEBOOK = project_root() / "notebooks" / "hyco_analysis.ipynb"
ARTIFACT_DIR = "report"


@contextmanager
def _environment(values: Dict[str, str]) -> Iterator[None]:
    """``values`` in this process's environment while inside (the kernel inherits it)."""
    previous = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def execute_notebook(env: Dict[str, str], timeout: float = 600):
    """The notebook executed with ``env`` (``HYCO_*``), in a temporary working folder."""
    import nbclient
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory() as work, _environment({**env, "MPLBACKEND": "Agg"}):
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": work}}).execute()
    return nb


def parent_run(study: str, storage: str, comparison: str) -> str:
    """The run the report belongs to: the comparison's parent, or the study's parent run."""
    if comparison:
        return comparison
    import optuna

    return str(optuna.load_study(study_name=study, storage=storage).user_attrs.get("mlflow_parent_run_id", ""))


def run_report(study: str = "", storage: str = "", tracking_uri: str = "", comparison: str = "",
               output: Optional[Path] = None) -> Tuple[Path, str]:
    """Execute, export and log the report; returns the HTML file and the parent run id."""
    from nbconvert import HTMLExporter

    from hyco import tracking

    tracking_uri = tracking.resolve_backend(tracking_uri or None).uri
    storage = storage or f"sqlite:///{mlruns_dir() / 'optuna.db'}"
    study = study or ("" if comparison else "hyco_default")
    env = {"HYCO_TRACKING_URI": tracking_uri, "HYCO_STORAGE": storage, "HYCO_COMPARISON": comparison,
           **({"HYCO_STUDY": study} if study else {})}
    nb = execute_notebook(env)
    html, _ = HTMLExporter().from_notebook_node(nb)
    target = output or mlruns_dir() / "reports" / f"{comparison or study}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    parent = parent_run(study, storage, comparison)
    if parent:
        folder = Path(tempfile.mkdtemp())
        (folder / "hyco_analysis.html").write_text(html, encoding="utf-8")
        tracking.run_logger(parent, tracking_uri).log_artifact(folder / "hyco_analysis.html", ARTIFACT_DIR)
    return target, parent


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", default="", help="sweep.study_name (default: hyco_default)")
    parser.add_argument("--storage", default="", help="sweep.storage (default: mlruns/optuna.db)")
    parser.add_argument("--tracking-uri", default="", help="tracking.tracking_uri (default: mlruns/mlflow.db)")
    parser.add_argument("--comparison", default="", help="a comparison's parent run id (compare.py) instead")
    parser.add_argument("--output", default=None, help="HTML file (default: mlruns/reports/<name>.html)")
    args = parser.parse_args(argv)
    path, parent = run_report(args.study, args.storage, args.tracking_uri, args.comparison,
                              Path(args.output) if args.output else None)
    print(f"report: {path}")
    if parent:
        print(f"logged to run {parent} as {ARTIFACT_DIR}/hyco_analysis.html")
    return 0
