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
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned, so that resolving the package does not pull a CUDA build
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

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

clean-cache:
	rm -rf data/cache
