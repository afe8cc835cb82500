# The two commands of the README. Both work on a fresh clone with only python3 (3.11+) installed.
# Every install comes from a lock file with hashes (requirements.lock, requirements-app.lock; made by
# `make lock` from pyproject.toml and requirements/*.in), so a fresh
# clone gets exactly the versions CI tested; the project itself is then installed without its dependencies.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-test lint bench translations lock conformance

$(BIN)/python:
	$(PY) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-app.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/pip check --disable-pip-version-check >/dev/null
	@if [ -f tests/clients/package-lock.json ]; then cd tests/clients && npm ci --silent --no-audit --no-fund; fi

# Install, create or upgrade the SQLite database with the admin and the demo forms, then serve.
run: install
	$(BIN)/ruta init --host $(HOST) --port $(PORT)
	$(BIN)/ruta serve --host $(HOST) --port $(PORT)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Install the test extras and run the whole suite (lint, types, tests) on the project's own fixtures: a clone
# alone passes it. Honours TEST_DATABASE_URL.
# Coverage of app/, forms/ and sync/ is measured on every run (on each database CI runs) and may not drop
# below the floor. PYTEST_ARGS passes more options, e.g. PYTEST_ARGS="-n 2" (pytest-xdist; each worker gets
# its own PostgreSQL database).
COVERAGE_FLOOR ?= 85
PYTEST_ARGS ?=
test: install-test lint
	$(BIN)/pytest -q -m "not conformance" --cov --cov-report= --cov-fail-under=$(COVERAGE_FLOOR) $(PYTEST_ARGS)

# The conformance suite: the same code against the real public corpus (forms, submissions, a real Collect
# encrypted submission) that sits at ../shared/corpus beside the project, or at CORPUS=...
CORPUS ?= ../shared/corpus
conformance: install-test
	RUTA_CORPUS="$(abspath $(CORPUS))" $(BIN)/pytest -q -m conformance

bench: install-test
	$(BIN)/python -m tests.benchmarks

# Admin interface translations: extract messages, merge them into es/pt, compile the .mo files (committed,
# so a fresh clone serves them). Translate new entries in app/translations/*/LC_MESSAGES/messages.po, then
# run this again.
translations:
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l -o app/translations/messages.pot --no-location --sort-output --project=Ruta .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --width 100
	$(BIN)/pybabel compile -d app/translations --use-fuzzy

# Re-resolve the lock files after a change to pyproject.toml or requirements/*.in (uv resolves; pip installs).
UV_VERSION := 0.13.10
lock: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml requirements/build.in requirements/babel.in --extra test --extra redis \
		--generate-hashes --python-version 3.11 --python-platform linux --no-header --annotation-style line \
		-o requirements.lock
	$(BIN)/uv pip compile pyproject.toml requirements/build.in requirements/babel.in -c requirements.lock \
		--generate-hashes --python-version 3.11 --python-platform linux --no-header --annotation-style line \
		-o requirements-app.lock
