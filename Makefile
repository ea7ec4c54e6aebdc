# Two entry points, each builds the virtual environment on first use:
#   make main TARGET=ca COMPUTE=1e21  -> the main job (a recommendation from the shipped posteriors)
#   make test             -> the default (fast) test tier
PYTHON ?= python3.12
VENV   := .venv
STAMP  := $(VENV)/.installed-stamp
TARGET ?= ca
COMPUTE ?= 1e21
export JAX_COMPILATION_CACHE_DIR := $(CURDIR)/.cache/jax
export BAYES_ATLAS_DATA_MIRROR ?= $(abspath $(CURDIR)/../shared/external)

.PHONY: main lint test test-slow venv clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; bayes_atlas needs CPython 3.12 (pyenv build on these machines)"; exit 1; }
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

main: $(STAMP)
	$(VENV)/bin/bayes-atlas recommend --target $(TARGET) --compute $(COMPUTE)

lint: $(STAMP)
	$(VENV)/bin/ruff check bayes_atlas tests benchmarks
	$(VENV)/bin/ruff format --check bayes_atlas tests benchmarks

# Two pytest processes, one test file each at a time (tests/conftest.py puts each file in an
# xdist group, the files sharing session fits in one, and hands out the longest first;
# --no-loadscope-reorder keeps that order instead of xdist's by number of tests).
PYTEST_WORKERS ?= 2

test: lint
	$(VENV)/bin/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder

test-slow: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m slow

clean:
	rm -rf $(VENV) .cache .pytest_cache .hypothesis
