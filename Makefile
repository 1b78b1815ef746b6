# Two commands: `make run` sets up and starts the app; `make test` sets up and runs the whole test suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-latest lock setup system-deps lint bench loadtest reliability security package screenshots clean

run: setup
	$(VENV)/bin/gemini-codegen

test: setup
	bash packaging/run-tests.sh $(PY)

setup: system-deps $(STAMP)

system-deps:
	@bash packaging/system-deps.sh

# What is tested is what ships: every install (make setup, CI, make package, the release builds) takes the
# exact versions in requirements.lock (`make lock` renews it from pyproject.toml's ranges).
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.lock -e '.[dev]'
	touch $(STAMP)

# The lock for every platform and Python the app supports (uv's universal resolution), from pyproject.toml.
lock: $(STAMP)
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --upgrade \
	  -o requirements.lock

# The whole suite against the newest versions pyproject.toml allows, in a venv of its own: drift in a
# dependency shows up here, by name, before it reaches the lock.  Prints what differs from the lock first.
test-latest: system-deps
	rm -rf .venv-latest && $(PYTHON) -m venv .venv-latest
	.venv-latest/bin/pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	.venv-latest/bin/python packaging/lock_drift.py requirements.lock
	bash packaging/run-tests.sh .venv-latest/bin/python

lint: setup
	$(VENV)/bin/ruff check desktop audio ui devtools tests packaging
	$(VENV)/bin/mypy
	$(VENV)/bin/actionlint .github/workflows/*.yml

bench: setup
	$(VENV)/bin/gemini-codegen bench

loadtest: setup
	$(VENV)/bin/gemini-codegen loadtest --scenario normal

# the fault suite, writing docs/reliability.md from what it measured
reliability: setup
	GEMINI_CODEGEN_RELIABILITY_DOC=docs/reliability.md bash packaging/run-tests.sh $(PY) tests/faults

# the security suite, writing docs/security.md (the threat table) from what it measured
security: setup
	GEMINI_CODEGEN_SECURITY_DOC=docs/security.md bash packaging/run-tests.sh $(PY) tests/security

screenshots: setup
	GEMINI_CODEGEN_SCREENSHOTS=$(CURDIR)/docs/screenshots bash packaging/run-tests.sh $(PY) tests/e2e

package: setup
	bash packaging/build.sh $(PY)
	bash packaging/smoke-test.sh

clean:
	rm -rf $(VENV) .venv-latest build dist .pytest_cache
