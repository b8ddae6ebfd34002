# The two commands of vosync: `make run` (the whole system on embedded defaults) and `make test`.
# Both bootstrap what they need: a .venv, uv inside it, and the locked dependencies.

PYTHON ?= python3
VENV   := .venv
UV     := $(VENV)/bin/uv
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(CURDIR)/$(VENV)/bin/python

SYNCED := $(VENV)/.synced

.PHONY: run test lint format bench soak clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(SYNCED): $(UV) uv.lock pyproject.toml shared/pyproject.toml deploy/pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen --all-packages
	@touch $@

run: $(SYNCED)
	$(VENV)/bin/vosync up $(ARGS)

test: $(SYNCED)
	$(VENV)/bin/python -m tests.browser.ensure_chromium
	$(VENV)/bin/python -m tests.ensure_prometheus
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(SYNCED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/src services/*/src deploy/src tests benchmarks

format: $(SYNCED)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(SYNCED)
	$(VENV)/bin/python -m benchmarks.run_all

soak: $(SYNCED)
	$(VENV)/bin/python -m tests.faults.soak

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
