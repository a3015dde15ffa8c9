# Two entry points a newcomer needs: `make demo` and `make test`. Both set up the venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo report test fuzz bench bench-workflow mutate notebooks clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

# load the simulator's org, write the report from it, say where to look next
demo: setup
	$(VENV)/bin/tallyfy-load --demo
	$(VENV)/bin/tallyfy-report --demo

# ./tallyfy_report.html from ./tallyfy_demo.duckdb (what make demo loads), or from $$TALLYFY_DUCKDB
report: setup
	$(VENV)/bin/tallyfy-report $(if $(TALLYFY_DUCKDB),,--demo)

# the PostgreSQL tests get a throwaway server of their own (installed with apt-get if missing);
# the report's browser tests get Debian's chromium (installed with apt-get if missing)
test: setup
	$(VENV)/bin/lint-imports --no-cache
	.ci/ensure-chromium.sh
	.ci/with-postgres.sh $(PY) -m pytest -n 2 -q

# the two hypothesis state machines (tests/directory/test_live_org_properties.py, the directory;
# tests/workflow/test_workflow_properties.py, the workflow) with FUZZ_EXAMPLES examples each instead of
# the few `make test` runs, one per core (about 30 minutes at 200)
FUZZ_EXAMPLES ?= 200
fuzz: setup
	TALLYFY_PROPERTY_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -n 2 --dist loadfile -q tests/directory/test_live_org_properties.py tests/workflow/test_workflow_properties.py

bench: setup
	$(PY) -m benchmarks.run

# workflow data of a 50,000-task org and a 4x smaller one (about 6 minutes; its own section of
# benchmarks/results.md, which `make bench` keeps)
bench-workflow: setup
	$(PY) -m benchmarks.run --workflow

# mutation testing of the read decisions (reading.py, paging.py, deletes.py, feed.py, kickoff.py,
# workflow_incremental.py) against the fast
# tests, config in pyproject.toml [tool.mutmut]; a fresh ./mutants each time, so the counts are
# those of the current code and tests. `$(PY) -m mutmut show <name>` shows one mutant.
mutate: setup
	rm -rf mutants
	$(PY) -m mutmut run
	$(PY) -m mutmut results

# JupyterLab on notebooks/ (each notebook loads the demo org first when ./tallyfy_data.duckdb is
# missing; TALLYFY_DUCKDB=path opens another file)
notebooks: $(VENV)/.notebooks
	$(VENV)/bin/jupyter lab notebooks/

$(VENV)/.notebooks: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[notebooks]"
	touch $@

clean:
	rm -rf $(VENV) tallyfy_data.duckdb tallyfy_report.html .pytest_cache mutants
