# cleanexit — every target does its own set-up on a fresh machine (Python 3.11, git, apt).
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= ./.cleanexit

.PHONY: run test check bench web venv system-deps clean

$(STAMP): pyproject.toml
	@echo "==> creating virtualenv in $(VENV) and installing cleanexit[dev]"
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# System services the real-component tests need: redis-server, PostgreSQL, Chromium, Node.
system-deps:
	@bash scripts/system-deps.sh

run: $(STAMP)
	@echo "==> cleanexit serve --demo on http://$(HOST):$(PORT)/ (data in $(DATA_DIR))"
	@$(BIN)/cleanexit serve --demo --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

test: $(STAMP) system-deps
	@bash scripts/web-deps.sh
	@echo "==> pytest (real uvicorn, real SQLite, real redis-server, real PostgreSQL, real Chromium)"
	@$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

check: $(STAMP)
	@$(BIN)/ruff check src tests benchmarks
	@$(BIN)/ruff format --check src tests benchmarks
	@$(BIN)/mypy

bench: $(STAMP) system-deps
	@$(BIN)/python -m benchmarks

web: $(STAMP)
	@bash scripts/web-deps.sh
	@cd clients/web && npm run build

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
