# Two entry points a newcomer needs: `make demo` and `make test`. Both set up the venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test bench notebooks clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: setup
	$(VENV)/bin/tallyfy-load --demo

test: setup
	$(PY) -m pytest -n 2 -q

bench: setup
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) tallyfy_data.duckdb .pytest_cache
