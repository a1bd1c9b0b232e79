# Two commands do all set-up:  `make repro` runs the pipeline, `make test` runs the fast tests
# (`make test-all`: every test).
# Both create .venv on first use and install exactly the lock: every package, transitive ones
# included, at a pinned version with its hashes.
PYTHON ?= python3
# GPU=1: TensorFlow with CUDA (requirements-gpu.txt) in its own environment, never beside the CPU build.
VENV := $(if $(GPU),.venv-gpu,.venv)
LOCK := $(if $(GPU),requirements-gpu.txt,requirements.txt)
BIN := $(VENV)/bin
# DVC runs each stage as `python -m stages.<name>`: the venv's python must come first.
export PATH := $(abspath $(BIN)):$(PATH)
export TF_CPP_MIN_LOG_LEVEL := 2
JOBS ?= 2
MODEL_METRICS := metrics/teacher.json metrics/baseline.json metrics/student.json
# `make lock` resolves as of this day (uv's --exclude-newer), so the same inputs give the same lock.
LOCK_DATE ?= $(shell date -u +%F)
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --fork-strategy fewest --python-version 3.11 --generate-hashes --exclude-newer $(LOCK_DATE)T00:00:00Z

# A bare `make` lists the targets; set-up happens on the first `make repro` or `make test`.
.DEFAULT_GOAL := help

.PHONY: help repro test test-all mutants predict metrics report compare sweep sweep-dashboard lock clean-venv

# uv itself comes from the lock too (hash-checked by pip), then installs the rest of it, compiled
# to bytecode now: where PYTHONDONTWRITEBYTECODE is set (CI here), importing TensorFlow from
# source took 20 s per stage instead of 7 s.
$(BIN)/.installed: $(LOCK)
	$(PYTHON) -m venv $(VENV)
	sed -n '/^uv==/,/# via/p' $(LOCK) > $(VENV)/uv-requirement.txt
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r $(VENV)/uv-requirement.txt
	$(BIN)/uv pip sync --quiet --python $(BIN)/python --require-hashes --compile-bytecode $(LOCK)
	touch $@

# Re-resolve both locks from the *.in files as of LOCK_DATE (default today); then `make test`.
lock: $(BIN)/.installed  ## re-resolve both locks from the *.in files as of LOCK_DATE
	$(UV_COMPILE) requirements.in -o requirements.txt
	$(UV_COMPILE) requirements-gpu.in -o requirements-gpu.txt

repro: $(BIN)/.installed  ## the pipeline (dvc repro) on params.yaml's data, then the metrics
	$(BIN)/dvc repro
	@$(MAKE) --no-print-directory metrics

# `make test`: the fast tier, in-process (every stage function, method, params rule and bad input).
# `make test-all`: everything, DVC, its queue, PostgreSQL and the WebDAV server included (CI runs it);
# tests/conftest.py marks a test `full` by the fixtures it uses. Both spread the test files over
# TEST_WORKERS processes (pytest-xdist); much of a full-tier test is waiting on DVC and its queue,
# which the other workers' tests fill. PYTEST_ARGS: more pytest options (CI: --durations=25).
TEST_WORKERS ?= 3
PYTEST = $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)
test: $(BIN)/.installed  ## the fast tests, in-process (every stage function, method, params rule, bad input)
	$(PYTEST) -m "not full"

test-all: $(BIN)/.installed  ## every test: the fast ones and those that start DVC, its queue or a server (CI)
	$(PYTEST)

# Mutation testing (mutmut, pyproject.toml) of the functions behind the published figures: about an
# hour on 2 cores, so not in CI; writes bench/results-mutation.md (survivors explained in
# bench/mutation_equivalent.yaml).
mutants: $(BIN)/.installed  ## mutation testing of the functions behind the figures: bench/results-mutation.md
	$(BIN)/python -m bench.mutation

# Per-model metrics, then the comparison (one table each: together they are too wide to read).
metrics: $(BIN)/.installed  ## each model's metrics and the summary
	$(BIN)/dvc metrics show $(MODEL_METRICS)
	@echo "metrics/summary.json:" && cat metrics/summary.json

# This clone's experiments, offline (PULL=1: every experiment pushed to origin first).
report: $(BIN)/.installed  ## reports/ and the README's and docs' tables, from the experiments and records
	$(BIN)/python -m scripts.report $(if $(PULL),--pull)

# One worker of a sweep (an Optuna study; docs/sweeps.md): run it on as many hosts as you like.
# STORAGE: the study's database (SQLite here by default; postgresql://user@host:port/db for a team,
# its password in ~/.pgpass or PGPASSWORD, never in the URL). The URL reaches the worker through
# the environment: neither the echoed recipe (nor `make -n`) nor the process list shows it.
SPACE ?= sweeps/kd.yaml
STORAGE ?= sqlite:///sweeps.db
sweep sweep-dashboard: export SWEEP_STORAGE = $(STORAGE)
sweep: $(BIN)/.installed  ## one worker of an Optuna sweep (SPACE, STORAGE, STUDY)
	$(BIN)/python -m scripts.sweep --space $(SPACE) $(if $(STUDY),--study $(STUDY))

# The studies in STORAGE, live, on http://127.0.0.1:$(PORT) (optuna-dashboard).
PORT ?= 8080
sweep-dashboard: $(BIN)/.installed  ## optuna-dashboard on STORAGE at PORT
	$(BIN)/python -m scripts.sweep_dashboard --port $(PORT)

# Every method of comparison.yaml chosen on val, then over replicates, through DVC's queue; then
# the reports. SOURCE=/abs/path.mat compares on another data file; JOBS runs that many at once.
# NO_RUN=1 queues nothing: it writes the records of the runs finished so far (commit one to resume elsewhere).
compare: $(BIN)/.installed  ## every method chosen on val, then replicated (CONFIG, SOURCE, JOBS, NO_RUN)
	$(BIN)/python -m scripts.compare --jobs $(JOBS) $(if $(SOURCE),--source $(SOURCE)) $(if $(CONFIG),--config $(CONFIG)) $(if $(NO_RUN),--no-run)

# The exported student on your own images (PNG or JPEG, one character each).
MODEL ?= models/export/student-int8
predict: $(BIN)/.installed  ## which character is in each of IMAGES, by the exported MODEL
	$(BIN)/python -m scripts.predict --model $(MODEL) $(IMAGES)

clean-venv:  ## delete the environment
	rm -rf $(VENV)

# `make help`: the targets (a `## ` note after their line) and the variables (`## NAME: ` lines).
## GPU: 1 builds and uses .venv-gpu, TensorFlow with CUDA (repro, test, test-all)
## PYTHON: the interpreter that creates the environment (python3)
## TEST_WORKERS: pytest-xdist processes for test and test-all (3)
## PYTEST_ARGS: more pytest options, e.g. --durations=25 (CI) or -k a_name
## LOCK_DATE: the day lock resolves as of (today)
## PULL: 1 makes report pull every experiment pushed to origin first (default: this clone's, offline)
## CONFIG: the comparison's config (comparison.yaml)
## SOURCE: data.source for every compared run: a .mat path, emnist or emnist-byclass-letters
## JOBS: runs at a time in compare (2)
## NO_RUN: 1 makes compare queue nothing and write the record of the runs finished so far
## SPACE, STORAGE, STUDY: sweep's search-space file, its database URL, the study's name
## PORT: sweep-dashboard's port (8080)
## MODEL, IMAGES: predict's exported file (models/export/student-int8: the folder of the int8 file and its card) and image files
help:  ## this list
	@echo "Targets:"
	@sed -n 's/^\([a-z-]*\):.*## \(.*\)/  \1\t\2/p' $(MAKEFILE_LIST) | expand -t 20
	@echo "Variables (make TARGET NAME=value):"
	@sed -n 's/^## \([A-Z_, ]*\): \(.*\)/  \1\t\2/p' $(MAKEFILE_LIST) | expand -t 24
