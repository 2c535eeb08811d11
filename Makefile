# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PORT ?= 8000

# Tests run against the real services of this machine unless told otherwise.
TEST_DATABASE_URL ?= postgres://root@127.0.0.1:5432/pipelines
TEST_BROKER_URL ?= redis://127.0.0.1:6379/0

# The analytics.js browser build this server serves to websites (ingest/analytics_js.py), from npm, pinned
# by js/package-lock.json. npm writes node_modules/.package-lock.json on install: our up-to-date stamp.
AJS_STAMP := js/node_modules/.package-lock.json

.PHONY: run test test-faults test-install test-fuzz lint typecheck bench-ingest bench-fanout bench-retention bench-audiences clean analytics-js

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP) $@

$(AJS_STAMP): js/package.json js/package-lock.json
	npm ci --prefix js --no-audit --no-fund --loglevel=error
	touch $@

analytics-js: $(AJS_STAMP)

# Without npm the server still runs; websites then get a 404 telling the operator what to do.
run: $(STAMP)
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory analytics-js || echo "warning: 'make analytics-js' failed; the JavaScript source's library will not be served."; \
	else \
		echo "note: npm not found; /analytics.js/ answers 404 until you run 'make analytics-js' or set ANALYTICS_JS_URL."; \
	fi
	PORT=$(PORT) $(PY) -m pipelines.devserver

test: $(TEST_STAMP) analytics-js typecheck
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(PY) -m pipelines.checkservices
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(PY) -m pytest -q $(PYTEST_ARGS)

# Fault tests (tests/faults, ~70 s) are part of `make test`; this runs them alone. They start a private
# PostgreSQL and Redis of their own (see docs/reliability.md), never the services above.
test-faults: $(TEST_STAMP)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(PY) -m pytest -q -s tests/faults $(PYTEST_ARGS)

# A production install as an operator makes it (part of `make test`; this runs it alone): a clean venv with
# `pip install .` only, the Procfile's processes on PostgreSQL with Redis and then RabbitMQ, events to a webhook.
test-install: $(TEST_STAMP)
	$(PY) -m pytest -q tests/install $(PYTEST_ARGS)

# schemathesis on our own schema against a running server (tests/fuzz/test_live_schema.py, SQLite and
# PostgreSQL): `make test` runs it with a fixed seed; this runs it with a new random seed and more examples.
test-fuzz: $(TEST_STAMP)
	FUZZ_SEED=$${FUZZ_SEED:-random} FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-150} \
		DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(PY) -m pytest -q tests/fuzz $(PYTEST_ARGS)

lint: typecheck
	$(VENV)/bin/ruff check .

# mypy on the modules pyproject.toml's [tool.mypy] `files` lists (part of `make lint` and `make test`).
# Its Django plugin loads the settings, which refuse to start without a SECRET_KEY: any value does.
typecheck: $(TEST_STAMP)
	SECRET_KEY=$${SECRET_KEY:-typecheck-only} $(VENV)/bin/mypy

bench-ingest: $(TEST_STAMP)
	$(PY) bench/ingest.py

bench-fanout: $(TEST_STAMP)
	$(PY) bench/fanout.py

# Ingest throughput while the retention purge deletes 1M expired events, as a ratio of without it.
bench-retention: $(TEST_STAMP)
	$(PY) bench/retention.py

# Events/s through the profile store with 10 audiences kept current, and the sweep, next to ingest-only.
bench-audiences: $(TEST_STAMP)
	$(PY) bench/audiences.py

clean:
	rm -rf $(VENV) var/*.sqlite3* var/broker js/node_modules
