"""The analyst notebooks run top to bottom, draw their charts, and are committed without outputs."""

from pathlib import Path

import duckdb
import nbformat
import pytest
from nbclient import NotebookClient

from notebooks.make_notebooks import NOTEBOOKS, render
from pipelines.views import VIEWS, create_views
from tallyfy_source.simulator import Simulator, SyntheticOrg
from tests.conftest import TOKEN, Loader

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
CELL_TIMEOUT = 120
#: charts each notebook draws (one image per chart cell)
CHARTS = {"tag_usage.ipynb": 5, "groups_and_members.ipynb": 5, "process_and_task_performance.ipynb": 6}
#: what the fixture loads: the directory and the workflow tables the workflow views read
LOADED = ["members", "groups", "tags", "guests", "templates", "processes", "tasks"]


def execute(name: str) -> nbformat.NotebookNode:
    """Runs a notebook in a fresh python3 kernel from the notebooks folder; raises on any cell error."""
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()
    return notebook


def images(notebook: nbformat.NotebookNode) -> int:
    return sum("image/png" in output.get("data", {})
               for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs)


def printed(notebook: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "")
                   for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs)


@pytest.fixture
def loaded_duckdb(tmp_path, monkeypatch):
    """A DuckDB file with a small org (with workflow) and the views, named by TALLYFY_DUCKDB."""
    org = SyntheticOrg.generate("5a11da7a" + "0" * 24, members=50, groups=8, tags=40, guests=10, seed=3,
                                templates=6, processes=40, oneoff_tasks=10)
    with Simulator(orgs=[org], token=TOKEN) as server:
        pipeline, _ = Loader(server, tmp_path).run(resources=LOADED)
        assert create_views(pipeline) == [v.name for v in VIEWS]
    db_path = tmp_path / "tallyfy_data.duckdb"
    monkeypatch.setenv("TALLYFY_DUCKDB", str(db_path))
    return org, db_path


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs_top_to_bottom_on_a_loaded_database(name, loaded_duckdb):
    org, db_path = loaded_duckdb
    notebook = execute(name)
    assert images(notebook) == CHARTS[name]
    assert f"reading {db_path}" in printed(notebook)
    if name == "tag_usage.ipynb":
        assert f"{len(org.tags)} tags in 1 org(s)" in printed(notebook)
    elif name == "process_and_task_performance.ipynb":
        counts = (len(org.values("tasks")), len(org.values("runs")), len(org.values("checklists")), len(org.members))
        assert "{} tasks, {} processes, {} templates and {} members in 1 org(s)".format(*counts) in printed(notebook)
    else:
        assert f"{len(org.members)} members and {len(org.groups)} groups in 1 org(s)" in printed(notebook)


def test_notebook_loads_the_demo_org_when_the_database_does_not_exist(tmp_path, monkeypatch):
    db_path = tmp_path / "fresh" / "tallyfy_data.duckdb"
    monkeypatch.setenv("TALLYFY_DUCKDB", str(db_path))
    notebook = execute("tag_usage.ipynb")
    assert "does not exist: loading the demo org" in printed(notebook)
    assert images(notebook) == CHARTS["tag_usage.ipynb"]
    with duckdb.connect(str(db_path), read_only=True) as con:
        classes = dict(con.execute("SELECT usage_class, count(*) FROM tallyfy.tag_usage GROUP BY 1").fetchall())
    assert sum(classes.values()) == 200  # the demo org's tags
    assert classes.get("active", 0) > 0, f"demo tags carry no usage: {classes}"


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_committed_notebook_has_no_outputs_and_matches_its_generator(name):
    text = (NOTEBOOK_DIR / name).read_text(encoding="utf-8")
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "outputs must be stripped in git"
    assert text == render(name), "run `.venv/bin/python notebooks/make_notebooks.py` and commit the result"
