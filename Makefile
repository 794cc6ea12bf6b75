# The two commands: `make run` and `make test`. Both work on a fresh machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
# The install is from uv.lock (every dependency, pinned with hashes); it is redone when the
# lock or pyproject.toml changes.
STAMP  := $(VENV)/.installed-$(shell python3 -c "import hashlib;print(hashlib.sha256(open('pyproject.toml','rb').read()+open('uv.lock','rb').read()).hexdigest()[:12])")
PORT   ?= 8000
PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
# pytest-xdist workers per pass of the suite (0: all in one process, as when debugging).
# Two fill the 2-core machine; more make timing-sensitive tests miss their deadlines.
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS) --durations=30
# uv installs into $(VENV) with the machine's Python (never a downloaded one), from PyPI, and
# compiles the packages' bytecode as pip did: where PYTHONDONTWRITEBYTECODE is set, every
# process (each test server) would otherwise compile them again, doubling its import time.
UV     := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 $(BIN)/uv
# The uv release uv.lock pins (uv is a dev dependency too, so the sync keeps it).
UV_LOCKED = $(shell python3 -c "import tomllib;print(next(p['version'] for p in tomllib.load(open('uv.lock','rb'))['package'] if p['name']=='uv'))" 2>/dev/null)

.PHONY: install lock audit chromium pgbouncer run test test-sqlite test-postgres lint bench clean

# uv, if the venv has none yet: pip installs the release uv.lock pins.
$(BIN)/uv:
	python3 -m venv $(VENV)
	$(PY) -m pip install -q 'uv$(if $(UV_LOCKED),==$(UV_LOCKED))'

# --locked: the install stops, saying so, if uv.lock no longer matches pyproject.toml.
$(STAMP): pyproject.toml uv.lock | $(BIN)/uv
	$(UV) sync --locked --extra dev
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

# Refreshes uv.lock after a change to pyproject.toml's dependencies (`make lock
# LOCK_ARGS=--upgrade` moves every pin to the newest release allowed); commit the lock.
lock: | $(BIN)/uv
	$(UV) lock $(LOCK_ARGS)

# Checks every locked dependency (the dev extra too) against an advisory database: PyPI's
# JSON API (AUDIT_ARGS='-s osv' for OSV's). Needs that service: --strict fails the audit
# when any package could not be looked up, as an audit that could not ask is no pass.
audit: install
	@$(UV) export --frozen --extra dev --no-emit-project --format requirements-txt -q \
	  > $(VENV)/audit-requirements.txt
	@$(BIN)/pip-audit --strict --disable-pip --require-hashes --progress-spinner off \
	  -r $(VENV)/audit-requirements.txt $(AUDIT_ARGS) \
	  || { rc=$$?; echo "make audit: FAILED (pip-audit exit $$rc): a known vulnerability is listed above, or the advisory service could not be asked about every locked package (pip-audit names it above)" >&2; exit $$rc; }

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
