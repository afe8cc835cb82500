# The two commands of the README. Both work on a fresh clone with only python3 (3.11+) installed.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-test lint bench translations

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@if [ -f tests/clients/package-lock.json ]; then cd tests/clients && npm ci --silent --no-audit --no-fund; fi

# Install, create or upgrade the SQLite database with the admin and the demo forms, then serve.
run: install
	$(BIN)/ruta init --host $(HOST) --port $(PORT)
	$(BIN)/ruta serve --host $(HOST) --port $(PORT)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Install the test extras and run the whole suite (lint, types, tests). Honours TEST_DATABASE_URL.
test: install-test lint
	$(BIN)/pytest -q

bench: install-test
	$(BIN)/python -m tests.benchmarks

# Admin interface translations: extract messages, merge them into es/pt, compile the .mo files (committed,
# so a fresh clone serves them). Translate new entries in app/translations/*/LC_MESSAGES/messages.po, then
# run this again.
translations:
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l -o app/translations/messages.pot --no-location --sort-output --project=Ruta .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --width 100
	$(BIN)/pybabel compile -d app/translations --use-fuzzy
