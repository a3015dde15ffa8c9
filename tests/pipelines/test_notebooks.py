"""The analyst notebooks run top to bottom, draw their charts, and are committed without outputs;
they keep the DuckDB file only while a query runs, name a load that holds it, and keep counts
that differ by orders of magnitude legible."""

import subprocess
import sys
from pathlib import Path

import duckdb
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from notebooks.make_notebooks import COUNT_AXIS, NOTEBOOKS, render
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
    org.set_tag_statistics(org.values("tags")[0]["id"], active_process=5000)  # orders of magnitude apart
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
        stats = [t["statistics"]["data"] for t in org.served("tags", ["statistics"], query={"all": "true"})]
        used = [v for s in stats for v in (s["active_template"] + s["active_process"],
                                           s["archived_template"] + s["archived_process"]) if v > 0]
        assert max(used) >= 5000 and min(used) < 10
        assert f"log scale: a tag is on {min(used):,} to {max(used):,} templates and processes" in printed(notebook)
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


def count_axis():
    """The notebooks' count_axis helper (notebooks/make_notebooks.py), with what it imports."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator, SymmetricalLogLocator

    namespace = dict(pd=pd, FuncFormatter=FuncFormatter, MaxNLocator=MaxNLocator, NullLocator=NullLocator,
                     SymmetricalLogLocator=SymmetricalLogLocator)
    exec(COUNT_AXIS, namespace)
    return plt, namespace["count_axis"]


@pytest.mark.parametrize("largest, ticks", [(5000, (0, 1, 10, 100, 1000, 10000)),
                                            (300, (0, 1, 2, 5, 10, 20, 50, 100, 200, 500))])
def test_counts_orders_of_magnitude_apart_get_plain_labels_that_do_not_overlap(largest, ticks):
    plt, helper = count_axis()
    for size in ((7, 6), (9, 4.5), (5, 4)):  # the notebooks' scatter, their default, half a row of two
        fig, ax = plt.subplots(figsize=size)
        values = [0, 1, 2, 3, 12, largest]
        ax.scatter(values, values)
        assert helper(ax, values, "x") and helper(ax, values, "y")
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            shown = [t for loc, t in zip(axis.get_majorticklocs(), axis.get_ticklabels())
                     if low <= loc <= high and t.get_visible() and t.get_text()]
            texts = [t.get_text() for t in shown]
            assert texts == [f"{v:,}" for v in ticks if low <= v <= high], texts  # no 10^0, no 3.15x10^0
            boxes = sorted((t.get_window_extent(renderer) for t in shown), key=lambda b: (b.x0, b.y0))
            for a, b in zip(boxes, boxes[1:]):
                assert not a.overlaps(b), (size, texts)
        plt.close(fig)
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [3, 40])
    assert not helper(ax, [0, 3, 40], "y")  # close counts: a linear axis, whole numbers
    fig.canvas.draw()
    assert ax.get_yscale() == "linear" and all(float(t.get_text()).is_integer() for t in ax.get_yticklabels())
    plt.close(fig)


def test_an_open_notebook_does_not_keep_the_file_from_the_next_load(loaded_duckdb):
    """Every cell has run and the kernel is still up: a writer (the next load) gets the file."""
    _, db_path = loaded_duckdb
    notebook = nbformat.read(NOTEBOOK_DIR / "tag_usage.ipynb", as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        with duckdb.connect(str(db_path)) as writer:  # read-write: refused while any reader holds the file
            writer.execute("CREATE TABLE tallyfy.written_while_open AS SELECT 1 AS x")
        rerun = nbformat.v4.new_code_cell("print(len(sql('SELECT * FROM {dataset}.tag_usage')), 'tags again')")
        notebook.cells.append(rerun)
        client.execute_cell(rerun, len(notebook.cells) - 1)
    assert "tags again" in "".join(o.get("text", "") for o in rerun.outputs)


def test_a_file_held_by_a_load_is_named_with_what_to_do(loaded_duckdb):
    _, db_path = loaded_duckdb
    script = (f"import duckdb, time; c = duckdb.connect({str(db_path)!r}); print('open', flush=True);"
              " time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", script, "tallyfy-load-stand-in"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(CellExecutionError) as failed:
            execute("tag_usage.ipynb")
    finally:
        holder.kill()
        holder.wait()
    error = failed.value
    assert error.ename == "DatabaseBusy", error.ename
    assert f"{db_path} is open for writing by pid {holder.pid} (" in error.evalue
    assert "tallyfy-load-stand-in" in error.evalue  # the holder's command line
    assert "wait until it ends (or stop it), then run this cell again" in error.evalue
    assert "Conflicting lock" not in error.evalue and "IO Error" not in error.evalue
