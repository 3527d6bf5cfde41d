# Two commands on a fresh machine: `make run` (the whole platform) and `make test`.
# Needs only what the machine has: python3 (3.11), Java 17 + Maven, Go.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STACK  := $(PY) deploy/local/stack.py

.PHONY: help install provision run start stop status reset test unit integration bench recovery fuzz contracts lint-contracts clean

help:
	@echo "make run        start Kafka, FerretDB and every service; Ctrl-C stops them"
	@echo "make test       install, provision, run unit + integration tests (starts and stops its own servers)"
	@echo "make bench      throughput / latency numbers and the targets, against a stack of its own"
	@echo "make recovery   seconds from a restarted Kafka broker being ready to claims flowing again"
	@echo "make stop       stop the stack, a 'make run' in another shell included"
	@echo "make fuzz       schemathesis over /openapi.json of a running stack (make run), as provider and operator"

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

# Kafka killed -9 under a steady claim flow and started again, twice (broker only; broker
# and adjudication worker): prints the seconds from broker-ready to flow-resumed.
recovery: provision
	$(PY) -m pytest -q -s -p no:cacheprovider tests/integration/test_kafka_restart.py

# Against the stack that `make run` (or `make start`) serves; FUZZ_ARGS adds options
# such as --max-examples 100 or --seed 1.
fuzz: install
	$(PY) -m tests.support.fuzz --logs $${STACK_HOME:-.local}/logs $(FUZZ_ARGS)

contracts: install
	$(PY) -m contracts.generate

clean: stop
	rm -rf $(VENV) .local
