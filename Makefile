# msinfuse — the single entry point for people and CI.
#
#   make demo     build the demo clinic (SQLite) and serve it at http://127.0.0.1:8000/
#   make test     run the whole test suite
#   make check    ruff (format + lint), mypy (strict on src/), import-linter, lock check
#   make docs     regenerate the generated documentation from the data
#   make screenshots  README screenshots of the web app from the demo (needs Chromium)
#   make bench-worklists | bench-api | bench-scheduling   benchmarks (docs/benchmarks.md)
#
# Works on a fresh machine that has only Python 3.11+ and make: uv is bootstrapped
# from PyPI into .tools/ when it is not on PATH, and the virtual environment is
# created from the committed lock.

PYTHON ?= python3
DEMO_HOST ?= 127.0.0.1
DEMO_PORT ?= 8000
UV_VERSION := 0.13.9
SYSTEM_UV := $(shell command -v uv 2>/dev/null)
ifeq ($(SYSTEM_UV),)
UV := .tools/bin/uv
else
UV := $(SYSTEM_UV)
endif
export UV_PYTHON_DOWNLOADS := never
VENV := .venv
RUN := $(UV) run --frozen --no-sync
STAMP := $(VENV)/.synced
PY_DIRS := $(wildcard src tests benchmarks migrations)

.PHONY: demo test check fix docs install clean help

help:
	@sed -n '2,13p' Makefile

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	COLUMNS=$${COLUMNS:-160} $(RUN) msinfuse drugs list
	COLUMNS=$${COLUMNS:-160} $(RUN) msinfuse serve --demo --host $(DEMO_HOST) --port $(DEMO_PORT)

test: $(STAMP)
	$(RUN) pytest $(PYTEST_ARGS)

check: $(STAMP)
	$(UV) lock --check
	$(RUN) ruff format --check $(PY_DIRS)
	$(RUN) ruff check $(PY_DIRS)
	$(RUN) mypy
	$(RUN) lint-imports

fix: $(STAMP)
	$(RUN) ruff format $(PY_DIRS)
	$(RUN) ruff check --fix $(PY_DIRS)

docs: $(STAMP)
	$(RUN) python -m msinfuse.docsgen

.PHONY: bench-worklists
bench-worklists: $(STAMP)
	$(RUN) python -m benchmarks.worklists $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench-api
bench-api: $(STAMP)
	$(RUN) python -m benchmarks.api_load $(BENCH_ARGS)

.PHONY: bench-scheduling
bench-scheduling: $(STAMP)
	$(RUN) python -m benchmarks.scheduling $(BENCH_ARGS)

.PHONY: screenshots
screenshots: $(STAMP)
	$(RUN) python -m msinfuse.web.screenshots --out docs/img
