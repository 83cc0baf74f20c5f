# Two commands set everything up on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache
export MPLBACKEND := Agg

.PHONY: run test test-fast lint bench bench-peers golden install clean

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

# mypy reads the package as installed: .mypy-tree/basisbt/ links basisbt/* and the folders package-dir maps into it
lint: $(STAMP)
	$(VENV)/bin/ruff check basisbt engine data reports strategies tests benchmarks docs/generate.py
	@rm -rf .mypy-tree && mkdir -p .mypy-tree/basisbt && \
	  for f in basisbt/* engine data reports strategies; do ln -s "$(CURDIR)/$$f" .mypy-tree/basisbt/; done
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/bench.py

# Peer benchmark (vectorbt) in its OWN venv, so installing it can never disturb .venv; not part of test/CI.
# docs/bench.md "Peers". The pip log stays in .venv-peers/pip.log; a failed install prints one line.
PEERS       := .venv-peers
PEERS_STAMP := $(PEERS)/.installed
PEERS_REQ   ?= benchmarks/peers-requirements.txt
$(PEERS_STAMP): $(PEERS_REQ)
	@test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	@echo "bench-peers: installing vectorbt into $(PEERS) (a few minutes the first time)"
	@$(PEERS)/bin/python -m pip install -q --upgrade pip > $(PEERS)/pip.log 2>&1 && \
	  $(PEERS)/bin/python -m pip install -r $(PEERS_REQ) >> $(PEERS)/pip.log 2>&1 || \
	  { echo "bench-peers: cannot install vectorbt into $(PEERS): $$(grep 'ERROR' $(PEERS)/pip.log | tail -n1 | cut -c1-240) (log: $(PEERS)/pip.log)"; exit 1; }
	@touch $(PEERS_STAMP)

bench-peers: $(STAMP) $(PEERS_STAMP)
	$(PY) benchmarks/peers.py --peer-python $(PEERS)/bin/python

golden: $(STAMP)
	$(VENV)/bin/basisbt regress --update

clean:
	rm -rf $(VENV) $(PEERS) .numba_cache .mypy-tree runs build *.egg-info
