# Two commands a newcomer needs: `make study` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= default
DATASET ?=
# executor of every parallel step: empty = $SPARSETOPO_SCHEDULER or local; tcp://host:8786 = that Dask scheduler
SCHEDULER ?=
NOTEBOOKS := 01_nnstd 02_sparse_vs_dense 03_evolution 04_lottery_tickets 05_any_model

.PHONY: setup study test bench report clean-runs

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; run 'make PYTHON=python3 ...' with a Python >= 3.10"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e ".[study,test,cluster,graph]"
	touch $@

setup: $(VENV)/.installed

study: setup
	$(if $(SCHEDULER),SPARSETOPO_SCHEDULER=$(SCHEDULER)) $(PY) -m sparsetopo.study --profile $(PROFILE) $(if $(DATASET),--dataset $(DATASET)) $(NOTEBOOKS)

test: setup
	$(PY) -m ruff check sparsetopo tests benchmarks
	$(PY) -m pytest -q

report: setup
	$(PY) -m sparsetopo.study.report

bench: setup
	$(PY) benchmarks/bench_nnstd.py
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_cluster.py
	$(PY) benchmarks/bench_metrics.py

clean-runs:
	rm -rf runs
