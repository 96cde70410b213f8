# CourseMall: `make run` starts the demo shop, `make test` runs every test. Both set up everything.
# `make serve` starts a production shop from the environment's settings (COURSEMALL_DEMO is off by
# default): closed until the owner opens the one-time setup link it prints.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
BUN := .tools/node_modules/bun/bin/bun.exe
BUN_VERSION := 1.4.5
export REFLEX_BUN_PATH := $(abspath $(BUN))
export REFLEX_TELEMETRY_ENABLED := false
export PYTHONUNBUFFERED := 1

.PHONY: setup run serve test db fonts browser services bench clean

setup: $(VENV)/.installed $(BUN) fonts

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# Reflex cannot download bun here; the npm registry has it.
$(BUN):
	npm install --no-audit --no-fund --silent --prefix .tools bun@$(BUN_VERSION)

# Chinese text on generated covers and certificates needs a CJK font.
fonts:
	@bash scripts/ensure_system_packages.sh fonts

browser:
	@bash scripts/ensure_system_packages.sh chromium

services:
	@bash scripts/ensure_services.sh

db: setup
	$(PY) -m coursemall migrate
	$(PY) -m coursemall seed

# The demo is switched on explicitly (for these targets and their prerequisites, e.g. db's seed).
run test bench: export COURSEMALL_DEMO := 1

run: db
	$(PY) -m coursemall banner
	$(VENV)/bin/reflex run --env prod --single-port

# Production: migrate, seed (no demo content), print the setup link / state, then serve.
serve: db
	$(PY) -m coursemall banner
	$(VENV)/bin/reflex run --env prod --single-port

test: db browser services
	$(PY) -m pytest

bench: db services
	$(PY) -m bench.run_all

clean:
	rm -rf .web .states data
