# Two commands do all set-up:  `make repro` runs the pipeline, `make test` runs the tests.
# Both create .venv and install the pinned requirements on first use.
PYTHON ?= python3
# GPU=1: TensorFlow with CUDA (requirements-gpu.txt) in its own environment, never beside the CPU build.
VENV := $(if $(GPU),.venv-gpu,.venv)
REQUIREMENTS := $(if $(GPU),requirements-gpu.txt,requirements.txt)
BIN := $(VENV)/bin
# DVC runs each stage as `python -m stages.<name>`: the venv's python must come first.
export PATH := $(abspath $(BIN)):$(PATH)
export TF_CPP_MIN_LOG_LEVEL := 2
JOBS ?= 2
MODEL_METRICS := metrics/teacher.json metrics/baseline.json metrics/student.json

.PHONY: repro test metrics report compare sweep clean-venv

$(BIN)/.installed: $(REQUIREMENTS) requirements-common.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r $(REQUIREMENTS)
	touch $@

repro: $(BIN)/.installed
	$(BIN)/dvc repro
	@$(MAKE) --no-print-directory metrics

test: $(BIN)/.installed
	$(BIN)/python -m pytest

# Per-model metrics, then the comparison (one table each: together they are too wide to read).
metrics: $(BIN)/.installed
	$(BIN)/dvc metrics show $(MODEL_METRICS)
	@echo "metrics/summary.json:" && cat metrics/summary.json

# Pulls every experiment pushed to origin first (NO_PULL=1: this clone's only).
report: $(BIN)/.installed
	$(BIN)/python -m scripts.report $(if $(NO_PULL),--no-pull)

# One host's share of a grid, e.g. make sweep GRID="distill.kd.temp=1,2,5,10 distill.kd.lambda=0.1,0.5" SHARD=1/2
SHARD ?= 1/1
sweep: $(BIN)/.installed
	$(BIN)/python -m scripts.sweep --grid "$(GRID)" --shard $(SHARD) --jobs $(JOBS)

# Every method of comparison.yaml chosen on val, then over replicates, through DVC's queue; then
# the reports. SOURCE=/abs/path.mat compares on another data file; JOBS runs that many at once.
compare: $(BIN)/.installed
	$(BIN)/python -m scripts.compare --jobs $(JOBS) $(if $(SOURCE),--source $(SOURCE))

clean-venv:
	rm -rf $(VENV)
