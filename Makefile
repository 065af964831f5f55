# Two commands for a fresh machine with Python 3.11+, Java 17, Maven and Node.js (npm):
#   make run    start Kafka, SecantusDB, an SMTP sink and the four services
#   make test   run the whole suite (it starts its own infrastructure)
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")

.PHONY: install run stop status test asyncapi openapi check-tools

check-tools:
	@command -v java >/dev/null || { echo "Java 17 is needed (for Kafka)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is needed (to fetch the Kafka jars)"; exit 1; }
	@command -v npm >/dev/null || { echo "Node.js with npm is needed (to fetch the NHS.UK frontend's CSS and JavaScript)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed"; exit 1; }
	@command -v uv >/dev/null || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

install: check-tools
	$(UV) sync --all-packages --frozen
	npm ci --prefix services/web --ignore-scripts --no-audit --no-fund --loglevel=error

run: install
	$(UV) run --frozen python -m dsr_devstack up

stop:
	$(UV) run --frozen python -m dsr_devstack down

status:
	$(UV) run --frozen python -m dsr_devstack status

test: install
	$(UV) run --frozen pytest

asyncapi: install
	$(UV) run --frozen python -m dsr_shared.contract docs/asyncapi

openapi: install
	$(UV) run --frozen python tests/openapi_docs.py
