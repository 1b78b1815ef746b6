# Two commands: `make run` sets up and starts the app; `make test` sets up and runs the whole test suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test setup system-deps lint bench loadtest reliability package screenshots clean

run: setup
	$(VENV)/bin/gemini-codegen

test: setup
	bash packaging/run-tests.sh $(PY)

setup: system-deps $(STAMP)

system-deps:
	@bash packaging/system-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff check desktop audio ui devtools tests packaging
	$(VENV)/bin/mypy

bench: setup
	$(VENV)/bin/gemini-codegen bench

loadtest: setup
	$(VENV)/bin/gemini-codegen loadtest --scenario normal

# the fault suite, writing docs/reliability.md from what it measured
reliability: setup
	GEMINI_CODEGEN_RELIABILITY_DOC=docs/reliability.md bash packaging/run-tests.sh $(PY) tests/faults

screenshots: setup
	GEMINI_CODEGEN_SCREENSHOTS=$(CURDIR)/docs/screenshots bash packaging/run-tests.sh $(PY) tests/e2e

package: setup
	bash packaging/build.sh $(PY)
	bash packaging/smoke-test.sh

clean:
	rm -rf $(VENV) build dist .pytest_cache
