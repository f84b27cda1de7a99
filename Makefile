# NSED — the front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
POOL ?= infra/agents/sim.toml
export NSED_HOME ?= .nsed

.DEFAULT_GOAL := help

.PHONY: help up down status test test-unit test-integration test-e2e check lint typecheck format clean

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "} {printf "  make %-17s %s\n", $$1, $$2}'

$(BIN)/nsed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.dev: $(BIN)/nsed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

up: $(BIN)/nsed ## Start NATS, the five services and the agent pool (POOL=...); run a demo
	$(BIN)/nsed stack up --pool $(POOL)

down: ## Stop everything `make up` started
	@if [ -x $(BIN)/nsed ]; then $(BIN)/nsed stack down; else echo "NSED is not running."; fi

status: $(BIN)/nsed ## Show the processes, services and live agents
	$(BIN)/nsed stack status

test: $(VENV)/.dev ## Run the whole suite: unit, integration (real nats-server), e2e
	$(BIN)/pytest -q

test-unit: $(VENV)/.dev ## Unit tests only (no network)
	$(BIN)/pytest -q tests/unit

test-integration: $(VENV)/.dev ## Integration tests (real nats-server on free ports)
	$(BIN)/pytest -q tests/integration

test-e2e: $(VENV)/.dev ## End-to-end tests (the whole stack as processes)
	$(BIN)/pytest -q tests/e2e

lint: $(VENV)/.dev ## ruff lint + format check
	$(BIN)/ruff check services schemas tests
	$(BIN)/ruff format --check services schemas tests

typecheck: $(VENV)/.dev ## mypy (strict on services/ and schemas/)
	$(BIN)/mypy

check: lint typecheck test ## lint + types + tests (what CI should run)

format: $(VENV)/.dev ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix services schemas tests
	$(BIN)/ruff format services schemas tests

clean: down ## Stop the stack and remove .nsed/ (the local NATS data)
	rm -rf $(NSED_HOME)
