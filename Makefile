# One command to run, one command to test. Both create .venv on first use and are fast after.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kb-installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install serve preview build lint test fmt bench clean

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "需要 Python 3.11 或更新版本")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test,zensical]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/kb serve --host $(HOST) --port $(PORT)

# For editors: like serve, but every saved change to docs/, snippets/, overrides/ or mkdocs.yml is
# rebuilt and the open page reloads itself (kb serve --reload).
preview: $(STAMP)
	$(BIN)/kb serve --reload --host $(HOST) --port $(PORT)

build: $(STAMP)
	$(BIN)/kb build

lint: $(STAMP)
	$(BIN)/kb lint

# Rewrites scripts and templates in the canonical key order (comments and Chinese kept).
fmt: $(STAMP)
	$(BIN)/kb fmt

# Two workers (the site is built once and shared between them: tests/conftest.py built_once);
# one file's tests stay on one worker, so a module's shared server and build are made once;
# files go out longest first (tests/conftest.py LONG_MODULES), not by their number of tests.
# For one file or a quick run: make test PYTEST_ARGS="-n 0 tests/search/test_search.py".
PYTEST_ARGS ?= -n 2 --dist loadfile --no-loadscope-reorder
# The tests' temporary folders (copied sites, SQLite files, indexes) in memory where the machine has
# a roomy /dev/shm: the service commits with fsync (synchronous=FULL), and on this machine's disk
# those waits left a third of the run with idle cores. Processes are still killed and restarted for
# real. A container's small default /dev/shm (64 MB in Docker) would fill up: /tmp there.
TEST_TMPDIR ?= $(shell free=$$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $$4}'); \
	if [ -w /dev/shm ] && [ "$${free:-0}" -gt 2000000 ]; then echo /dev/shm; else echo /tmp; fi)
# Bytecode is written even where the machine sets PYTHONDONTWRITEBYTECODE (this one does): the
# suite starts some hundred Python processes (kb serve, the kb command, the pytest workers, the
# builds), and without .pyc files each compiled kb_service from source again, and each worker
# rewrote every test module's asserts again (~0.1 s per process start, ~2 s per worker).
test: $(STAMP)
	$(BIN)/ruff check --select F,E9 kb_service tests bench
	$(BIN)/kb lint
	env -u PYTHONDONTWRITEBYTECODE TMPDIR=$(TEST_TMPDIR) $(BIN)/python -m pytest $(PYTEST_ARGS)

# Timings printed for bench/README.md: search latency, feedback durability, preview save-to-visible.
bench: $(STAMP)
	$(BIN)/python bench/search.py
	$(BIN)/python bench/feedback.py
	$(BIN)/python bench/preview.py

clean:
	rm -rf site var .pytest_cache
