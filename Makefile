# Two commands do all set-up: `make sweep` (the main job) and `make test`.
# Both create .venv if it is missing and install the project into it.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU wheel of torch; a GPU user sets TORCH_SPEC (see README) before the first `make`.
TORCH_SPEC ?= torch==2.13.0
STAMP  := $(VENV)/.hyco-installed

export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true

.PHONY: setup sweep test lint generate ui report docs clean-cache

setup: $(STAMP)

$(STAMP): pyproject.toml
	@echo "installing the project into $(VENV) (pip's output: $(VENV)/install.log)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# pip's and setuptools' chatter (the editable-install notice box) goes to the log, shown on failure
	@$(PY) -m pip install --quiet --upgrade pip > $(VENV)/install.log 2>&1 || { tail -40 $(VENV)/install.log; exit 1; }
	@# torch first, pinned, so that resolving the package does not pull a CUDA build
	@$(PY) -m pip install --quiet $(TORCH_SPEC) >> $(VENV)/install.log 2>&1 || { tail -40 $(VENV)/install.log; exit 1; }
	@$(PY) -m pip install --quiet -e ".[dev]" >> $(VENV)/install.log 2>&1 || { tail -40 $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

sweep: $(STAMP)
	$(PY) experiments/sweep.py $(ARGS)

# the MLflow UI and optuna-dashboard on loopback for mlruns/ (Ctrl-C stops both)
ui: $(STAMP)
	$(PY) experiments/ui.py $(ARGS)

generate: $(STAMP)
	$(PY) experiments/run.py task=[generate] $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# the documentation site, built strictly: a broken link or a page left out of the nav fails
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# the analysis notebook, executed headless for a study (default: make sweep's) or a comparison
report: $(STAMP)
	$(PY) experiments/report.py $(ARGS)

clean-cache:
	rm -rf data/cache
