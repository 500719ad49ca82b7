# cellbatch: `make run` serves the demo, `make test` runs the suite; both set everything up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := app:create_app

.PHONY: run test setup init bench validation lint clean

# Install exactly the locked, hash-checked dependencies, then the project itself without deps.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

init: setup
	$(BIN)/flask init
	$(BIN)/flask seed-demo

run: init
	@echo "Serving on http://127.0.0.1:5000 (Ctrl-C to stop)"
	$(BIN)/flask run --host 127.0.0.1 --port 5000

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check app tests config.py

# Re-pin dependencies on purpose (needs pip-tools): make lock
lock:
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --extra dev --strip-extras -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) instance .pytest_cache
