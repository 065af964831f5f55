# Two commands for a fresh machine with Python 3.11+, Java 17, Maven and Node.js (npm):
#   make run    start Kafka, SecantusDB, an SMTP sink, an OpenID provider and the services
#   make test   `make check`, then the tests that need Kafka and the database
#               (it starts its own infrastructure)
# and one for every change, with no Java and no infrastructure, in well under a minute:
#   make check  lint, format check of the formatted files, types, import contracts,
#               and every test that needs no infrastructure
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
# Compiled bytecode is kept between runs: without it every test run and every
# service the tests start compiles its libraries again (half of `make check`).
unexport PYTHONDONTWRITEBYTECODE

# Every Python file is kept in `ruff format` style.
FORMATTED := .

.PHONY: install sync run stop status check lint test-fast test chaos format asyncapi openapi check-tools python-tools

python-tools:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed"; exit 1; }
	@command -v uv >/dev/null || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

check-tools: python-tools
	@command -v java >/dev/null || { echo "Java 17 is needed (for Kafka)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is needed (to fetch the Kafka jars)"; exit 1; }
	@command -v npm >/dev/null || { echo "Node.js with npm is needed (to fetch the NHS.UK frontend's CSS and JavaScript)"; exit 1; }

sync: python-tools
	$(UV) sync --all-packages --frozen
	npm ci --prefix services/web --ignore-scripts --no-audit --no-fund --loglevel=error

install: check-tools sync

run: install
	$(UV) run --frozen python -m dsr_devstack up

stop:
	$(UV) run --frozen python -m dsr_devstack down

status:
	$(UV) run --frozen python -m dsr_devstack status

# The static checks and the fast tests side by side, one core each.
check: sync
	@$(MAKE) --no-print-directory -j2 --output-sync=target lint test-fast

lint:
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check $(FORMATTED)
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports

# Every test that needs neither Kafka nor the database (conftest.py marks the
# others `infra`), spread over every core.
test-fast:
	$(UV) run --frozen pytest -m "not infra" -n auto

# The checks and the fast tests first, then the rest of the suite: together, every
# test once. The short chaos run last, in a session of its own (its own broker and
# database): what it does to them cannot reach another test.
test: install check
	$(UV) run --frozen pytest -m "infra and not chaos" --durations=25
	$(UV) run --frozen pytest -m chaos

# The chaos run (not part of `make test`; its short version, tests/test_chaos.py,
# is): the whole register under EVENTS events while its parts are killed; SEED
# replays a run.
EVENTS ?= 10000
SEED ?=
chaos: install
	$(UV) run --frozen python -m dsr_testing.chaos --events $(EVENTS) $(if $(SEED),--seed $(SEED))

format: sync
	$(UV) run --frozen ruff format $(FORMATTED)

asyncapi: install
	$(UV) run --frozen python -m dsr_shared.contract.asyncapi docs/asyncapi

openapi: install
	$(UV) run --frozen python -m dsr_testing.openapi_docs
