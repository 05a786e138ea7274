# eadesk: `make help` lists the targets. Every target creates .venv first when it is missing.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv run demo check test lint format bench

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

venv: $(STAMP) ## create .venv and install eadesk with its dev tools (again when pyproject.toml changes)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "Could not create $(VENV) with $(PYTHON). On Debian/Ubuntu: apt-get install python3-venv"; \
		exit 1; }
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

run: venv ## start eadesk (reads .env; see .env.example); with no Telegram set: the sandbox
	$(BIN)/python -m bot run

demo: venv ## the sandbox (no Telegram needed) with a demo morning: http://127.0.0.1:8080/
	$(BIN)/python -m bot sandbox --seed demo

check: venv ## tell what is missing in the setup: variables, token, group, Topics, rights
	$(BIN)/python -m bot check

test: venv ## run the tests (again on PostgreSQL when TEST_DATABASE_URL is set)
	$(BIN)/python -m pytest -q

lint: venv ## ruff (lint and format check) and mypy; all three run, any failure fails
	@status=0; \
	echo "ruff check ."; $(BIN)/ruff check . || status=1; \
	echo "ruff format --check ."; $(BIN)/ruff format --check . || status=1; \
	echo "mypy"; $(BIN)/mypy || status=1; \
	exit $$status

format: venv ## rewrite the code in the project's format and apply safe lint fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: venv ## print delivery figures against the emulator
	$(BIN)/python -m bench delivery
