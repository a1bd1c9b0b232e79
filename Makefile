# Two commands do all set-up:  `make repro` runs the pipeline, `make test` runs the tests.
# Both create .venv and install the pinned requirements on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# DVC runs each stage as `python -m stages.<name>`: the venv's python must come first.
export PATH := $(abspath $(BIN)):$(PATH)
export TF_CPP_MIN_LOG_LEVEL := 2
MODEL_METRICS := metrics/teacher.json metrics/baseline.json metrics/student.json

.PHONY: repro test metrics report compare clean-venv

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
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

report: $(BIN)/.installed
	$(BIN)/python -m scripts.report

# Every method of comparison.yaml chosen on val, then over replicates, through DVC's queue; then
# the reports. SOURCE=/abs/path.mat compares on another data file; JOBS runs that many at once.
JOBS ?= 2
compare: $(BIN)/.installed
	$(BIN)/python -m scripts.compare --jobs $(JOBS) $(if $(SOURCE),--source $(SOURCE))

clean-venv:
	rm -rf $(VENV)
