# «Введение в MLOps»: one entry point for students, instructors and CI.
#   make lab    - create .venv from the lock (if needed), copy new labs to my_labs/ and open
#                 JupyterLab at the course map
#   make test   - create/update .venv and run the whole test suite (CI runs exactly this)
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
UV_VERSION := $(shell sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements.lock)
SEED ?=
MLFLOW_HOME ?=
PYTEST_WORKERS ?= auto

# The course runs offline: no telemetry, no update checks.
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export DVC_NO_ANALYTICS := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help venv my-labs lab test test-seeds check course notebooks pipeline ct lock bench mlflow-ui clean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml tools/jupyterlab_overrides.json tools/jupyter_server_config.json \
		tools/jupyter_server_config.py tools/rise.css
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode --require-hashes -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps --no-build-isolation -e .
	# The course runs offline: JupyterLab must not fetch news or check for updates, and
	# RISE slides use a reveal.js theme whose fonts are bundled ("simple" loads Google's).
	install -D -m 644 tools/jupyterlab_overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	# Saving a notebook records only the minor Python version: opening one leaves git clean.
	install -D -m 644 tools/jupyter_server_config.json $(VENV)/etc/jupyter/jupyter_server_config.json
	# RISE slides: the server answers RISE's rise.css / <notebook>.css with the course's slide
	# stylesheet (fits the screen, one typeface, no "Click to add a cell." bar) instead of 404.
	install -D -m 644 tools/jupyter_server_config.py $(VENV)/etc/jupyter/jupyter_server_config.py
	install -D -m 644 tools/rise.css $(VENV)/etc/jupyter/mlops_course_rise.css
	touch $(STAMP)

venv: $(STAMP)  ## create or update .venv from requirements.lock

# The student's own copy of the labs: copied once, never overwritten, not in git, so that
# `git pull` can update labs/ at any time without touching the answers.
my-labs:  ## copy labs/ that are not there yet to my_labs/ (your answers; never overwritten)
	@mkdir -p my_labs
	@for lab in labs/*.ipynb; do \
		test -e "my_labs/$${lab#labs/}" || { cp "$$lab" my_labs/ && echo "новая лабораторная: my_labs/$${lab#labs/}"; }; \
	done

lab: venv my-labs  ## copy new labs to my_labs/ and open JupyterLab (127.0.0.1) at the course map
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$(CURDIR)" \
		$(if $(filter 0,$(shell id -u)),--allow-root) notebooks/00_course_map.ipynb

test: venv  ## the test suite: unit, service, pipeline, browser, nbval (strict) over every notebook, labs
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope \
		--nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg \
		--nbval-cell-timeout 120 --ignore=tests/notebooks/test_other_seed.py \
		tests notebooks solutions

# Every notebook once more with seed 7 (nothing hard-coded). A second pass over the whole
# course doubles its run time, so it is its own command; CI (.ci/run) runs both.
test-seeds: venv  ## every notebook and solution again with seed 7: some output must change
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope tests/notebooks/test_other_seed.py

check: venv  ## static checks, no kernel: ruff, notebooks in sync, no tracked artefacts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tools/course.py check
	$(BIN)/python tools/sync_environment.py --check

course: venv  ## execute every notebook and solution into the work dir; timing table (SEED=7 to vary)
	$(BIN)/python tools/course.py run $(if $(SEED),--seed $(SEED))

notebooks: venv  ## regenerate notebooks/, solutions/, labs/ from course/
	$(BIN)/python tools/course.py build

pipeline: venv  ## run the course's DVC pipeline (dvc repro); outputs in data/, cache in .work/
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

# The steps of .github/workflows/continuous-training.yml, run locally (notebook 10).
ct: venv  ## continuous training locally: pipeline tests, dvc repro, gate, register, promote
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/pipeline/test_pipeline_contract.py
	$(MAKE) --no-print-directory pipeline
	$(BIN)/python -m mlops_course.automation.cd gate
	$(BIN)/python -m mlops_course.automation.cd register
	$(BIN)/python -m mlops_course.automation.cd promote

mlflow-ui: venv  ## MLflow UI on 127.0.0.1:5000 (MLFLOW_HOME=.work/lifecycle: notebook 03's registry)
	$(BIN)/python -m mlops_course.versioning.mlflow_ui --port 5000 $(if $(MLFLOW_HOME),--home "$(MLFLOW_HOME)")

lock: venv  ## re-resolve requirements.in into requirements.lock, environment.yml and the serving lock
	$(BIN)/uv pip compile --quiet --python-version 3.11 --generate-hashes \
		requirements.in -o requirements.lock
	$(BIN)/uv pip compile --quiet --python-version 3.11 --generate-hashes \
		-c requirements.lock deploy/requirements.in -o deploy/requirements.lock
	$(BIN)/python tools/sync_environment.py

bench: venv  ## benchmarks (timings live here, never in tests); cold_install.py needs the network
	@for script in $(filter-out benchmarks/cold_install.py,$(wildcard benchmarks/*.py)); do \
		echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:  ## remove the work directory and build outputs (keeps .venv)
	rm -rf .work build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
