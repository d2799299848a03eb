# Public entry points: make demo, make test, make bench, make lint.
SHELL := /bin/bash
UV ?= $(shell command -v uv || echo "python3 -m uv")
RUN := $(UV) run --frozen --all-extras
export XDG_RUNTIME_DIR ?= /tmp/runtime-$(shell id -u)

.PHONY: install demo test test-web test-python lint bench clean

install:  ## Python environment from uv.lock (and the web app once it exists)
	@command -v uv >/dev/null || python3 -m pip install --quiet 'uv>=0.5'
	$(UV) sync --frozen --all-extras
	@if [ -f web/package-lock.json ]; then cd web && npm ci --no-audit --no-fund && npm run build; fi

demo: install  ## The whole platform on this machine, on an embedded database
	$(RUN) pecus demo

lint:
	$(RUN) ruff check src tests bench
	$(RUN) ruff format --check src tests bench
	$(RUN) mypy
	$(RUN) lint-imports
	cd web && npm run lint

test-python:
	$(RUN) pytest -n auto --dist loadgroup

test-web:
	cd web && npm test

test: install lint test-web test-python  ## Every test

bench: install  ## Every benchmark, JSON lines on stdout
	$(RUN) python bench/run.py all --json

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache dist build web/dist web/node_modules
