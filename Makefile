# Two commands on a fresh machine: `make run` (set up, open the TUI) and `make test` (set up, run every check).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test setup setup-dev screenshots bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade --quiet pip

setup: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[sample]'

setup-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[sample,dev]'

run: setup
	$(BIN)/lrtui $(ARGS)

test: setup-dev
	$(BIN)/ruff check lrtui tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q $(PYTEST_ARGS)

screenshots: setup-dev
	$(BIN)/python bench/screenshots.py

bench: setup-dev
	$(BIN)/python bench/epoch_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
