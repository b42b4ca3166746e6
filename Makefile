# One entry point for each habit. See README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test check bench lock clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev-installed: $(BIN)/python pyproject.toml requirements-dev.lock
	$(BIN)/pip install --quiet -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed ## install and start Wattline with embedded defaults and the demo fleet
	$(BIN)/wattline up --demo

# The stages every reading passes through are held to 90 % branch coverage.
CORE_COVERAGE := src/wattline/model/*,src/wattline/protocols/*,src/wattline/ingest/*

test: $(VENV)/.dev-installed ## install test dependencies and run the whole suite, with coverage
	scripts/install-test-deps.sh
	# Bytecode for src/ once: with PYTHONDONTWRITEBYTECODE set, every `wattline` a test
	# starts would compile ~360 modules again (0.3 s of CPU each; docs/benchmarks.md).
	$(BIN)/python -m compileall -q src
	# Two workers: the serial suite kept one of the two cores idle (docs/adr/0038).
	$(BIN)/python -m pytest -n 2 --cov --cov-report=term --durations=25
	$(BIN)/coverage report --include='$(CORE_COVERAGE)' --fail-under=90

check: $(VENV)/.dev-installed ## lint, format check, types
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: $(VENV)/.dev-installed ## reproducible performance runs (results in docs/benchmarks.md)
	$(BIN)/python benchmarks/run.py

screenshots: $(VENV)/.dev-installed ## the dashboard's pages at desktop and phone width, into docs/screenshots/
	scripts/install-test-deps.sh
	WATTLINE_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/e2e/dashboard/test_pages.py

lock: ## re-resolve the pinned dependency files from pyproject.toml
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile --quiet pyproject.toml -o requirements.lock
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev -o requirements-dev.lock

clean:
	rm -rf $(VENV) wattline-data .pytest_cache .mypy_cache .ruff_cache
