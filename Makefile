# Two commands on a fresh machine: `make run` (the whole platform) and `make test`.
# Needs only what the machine has: python3 (3.11), Java 17 + Maven, Go.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STACK  := $(PY) deploy/local/stack.py

.PHONY: help install provision run start stop status reset test unit integration bench contracts lint-contracts clean

help:
	@echo "make run        start Kafka, FerretDB and every service; Ctrl-C stops them"
	@echo "make test       install, provision, run unit + integration tests (starts and stops its own servers)"
	@echo "make bench      throughput / latency numbers against the local stack"
	@echo "make stop       stop whatever 'make start' or an interrupted run left running"

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

install: $(VENV)/.installed

provision: install
	$(STACK) provision

run: provision
	$(STACK) run

start: provision
	$(STACK) start

stop:
	@$(if $(wildcard $(PY)),$(STACK),$(PYTHON) deploy/local/stack.py) stop

status:
	@$(STACK) status

reset: install
	$(STACK) reset

test: provision
	$(PY) -m contracts.generate --check
	$(PY) -m pytest -q -p no:cacheprovider

unit: install
	$(PY) -m pytest -q tests/unit

integration: provision
	$(PY) -m pytest -q tests/integration

bench: provision
	$(PY) -m bench

contracts: install
	$(PY) -m contracts.generate

clean: stop
	rm -rf $(VENV) .local
