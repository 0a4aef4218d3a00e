# One command to run, one command to test. Both create .venv on first use and are fast after.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kb-installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install serve build lint test fmt bench clean

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "需要 Python 3.11 或更新版本")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test,zensical]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/kb serve --host $(HOST) --port $(PORT)

build: $(STAMP)
	$(BIN)/kb build

lint: $(STAMP)
	$(BIN)/kb lint

test: $(STAMP)
	$(BIN)/kb lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf site var .pytest_cache
