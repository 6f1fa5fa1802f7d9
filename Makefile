# Two commands a newcomer needs: `make study` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= default
DATASET ?=
# executor of every parallel step: empty = $SPARSETOPO_SCHEDULER or local; tcp://host:8786 = that Dask scheduler
SCHEDULER ?=
NOTEBOOKS := 01_nnstd 02_sparse_vs_dense 03_evolution 04_lottery_tickets 05_any_model 06_methods
# the torch (and torchvision) that setup installs first: the pair CI tests (pyproject.toml takes a range)
TORCH ?= torch==2.13.0 torchvision==0.28.0
# a fresh virtualenv with the library alone (no extras), for `make library-check`
LIBRARY_VENV ?= build/library-venv

.PHONY: setup study test lint docs library-check bench report clean-runs

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; run 'make PYTHON=python3 ...' with a Python >= 3.10"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[study,test,cluster,graph,docs]"
	touch $@

setup: $(VENV)/.installed

study: setup
	$(if $(SCHEDULER),SPARSETOPO_SCHEDULER=$(SCHEDULER)) $(PY) -m sparsetopo.study --profile $(PROFILE) $(if $(DATASET),--dataset $(DATASET)) $(NOTEBOOKS)

test: setup lint
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check sparsetopo tests benchmarks docs
	$(VENV)/bin/lint-imports

docs: setup
	$(PY) docs/api.py --out build/api

library-check:
	rm -rf $(LIBRARY_VENV) && $(PYTHON) -m venv $(LIBRARY_VENV)
	$(LIBRARY_VENV)/bin/python -m pip install --quiet $(firstword $(TORCH))
	$(LIBRARY_VENV)/bin/python -m pip install --quiet .
	$(LIBRARY_VENV)/bin/python tests/library_only/check.py
	@du -sh $(LIBRARY_VENV) | sed 's/\t/  /; s/$$/  (library-only virtualenv)/'

report: setup
	$(PY) -m sparsetopo.study.report

bench: setup
	$(PY) benchmarks/bench_nnstd.py
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_cluster.py
	$(PY) benchmarks/bench_metrics.py
	$(PY) benchmarks/bench_methods.py
	$(PY) benchmarks/bench_scale.py --widths 1000 4000 16000

clean-runs:
	rm -rf runs
