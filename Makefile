# The two commands: `make run` and `make test`. Both work on a fresh machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell python3 -c "import hashlib,sys;print(hashlib.sha256(open('pyproject.toml','rb').read()).hexdigest()[:12])")
PORT   ?= 8000
PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
# pytest-xdist workers per pass of the suite (0: all in one process, as when debugging).
# Two fill the 2-core machine; more make timing-sensitive tests miss their deadlines.
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS) --durations=30

.PHONY: install chromium pgbouncer run test test-sqlite test-postgres lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

# The console's browser tests drive Debian's Chromium; install it once if it is missing.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi; \
	  echo "Installing Chromium for the browser tests (apt-get install chromium)"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
	  || { $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }; \
	fi

# tests/scaling/test_pgbouncer.py runs runplane behind Debian's PgBouncer (skipped without it).
pgbouncer:
	@if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then \
	  if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi; \
	  echo "Installing PgBouncer for the pooler tests (apt-get install pgbouncer)"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y pgbouncer \
	  || { $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y pgbouncer; }; \
	fi

run: install
	@$(BIN)/runplane db upgrade >/dev/null
	@key=$$($(BIN)/runplane keys create --name "make run" | tail -n 1); \
	printf '\n  runplane is starting at http://127.0.0.1:$(PORT)\n'; \
	printf '  Console: http://127.0.0.1:$(PORT)/console (sign in with the key below)\n'; \
	printf '  API key (shown once):  %s\n\n' "$$key"; \
	printf '  In another terminal:\n    export RUNPLANE_URL=http://127.0.0.1:$(PORT) RUNPLANE_API_KEY=%s\n' "$$key"; \
	printf '    .venv/bin/runplane run research --input %s --watch\n\n' "'{\"question\": \"How do durable workflows recover after a crash?\"}'"
	@$(BIN)/runplane serve --port $(PORT)

lint: install
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy

test-sqlite: install chromium
	RUNPLANE_TEST_DB=sqlite $(PYTEST)

test-postgres: install pgbouncer
	RUNPLANE_TEST_DB=postgres RUNPLANE_TEST_PG_URL=$(PG_URL) $(PYTEST)

test: lint test-sqlite test-postgres

bench: install
	$(PY) bench/runs.py

clean:
	rm -rf $(VENV) .runplane .pytest_cache .mypy_cache .ruff_cache
