# Two commands set everything up on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache
export MPLBACKEND := Agg

.PHONY: run test test-fast lint bench golden install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# constraints.txt pins every dependency to the versions the goldens and benchmarks were made with, so a
# fresh clone (CI) installs the same numpy/pandas/numba as the machine that blessed them.
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install -q -e '.[test]' -c constraints.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/basisbt run

test: $(STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check basisbt engine data reports strategies tests benchmarks
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/bench.py

golden: $(STAMP)
	$(VENV)/bin/basisbt regress --update

clean:
	rm -rf $(VENV) .numba_cache runs build *.egg-info
