# Two commands on a fresh machine that has only Python >= 3.11 and pip:
#   make demo   install everything, then run the quarterly plan on the bundled demo data
#   make test   the default test suite (slow recovery runs excluded)
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
VENV := .venv
UV := $(TOOLS)/bin/uv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
DEMO_OUT ?= reports/demo

.PHONY: install demo test test-all bench lint format typecheck demo-data clean

# uv is installed into a private bootstrap venv so nothing touches the system Python.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --extra dev --python $(PYTHON)
	@touch $@

install: $(VENV)/.synced

# The demo fits at the plan's own sampler settings (4 chains x 1,000 draws on the hand-written
# density: seconds per fit once the kernel is compiled) and passes the quality gate.
demo: install
	$(VENV)/bin/omnimmm run data/demo/plan.toml --out $(DEMO_OUT)
	@echo
	@echo "Report: $(abspath $(DEMO_OUT))/report.html"
	@echo "Also:   $(abspath $(DEMO_OUT))/recommendation.json and report.xlsx"

test: install
	$(PY) -m pytest -m "not slow" -q --durations=25

test-all: install
	$(PY) -m pytest -q

bench: install
	$(PY) -m pytest -m slow -q
	@echo "Peer comparisons: see benchmarks/README.md (they need 'uv sync --group bench')."

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: install
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

typecheck: install
	$(VENV)/bin/mypy

# Regenerate the bundled demo world (same seed, same bytes).
demo-data: install
	$(VENV)/bin/omnimmm simulate --out data/demo --seed 20240618 --weeks 156

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache .mypy_cache
