"""`tallyfy-report`: one self-contained HTML file, checked in a real headless Chromium.

One demo-sized org (the demo's sizes, plus a tag and template titles that are HTML and script
payloads) is loaded once per worker; the report is written from it and opened in Chromium
(Debian's, installed by .ci/ensure-chromium.sh: never skipped). Checked there: no console
error, no dialog, no request but the file itself, every chart drew data, and org text shows as
typed and runs nothing.
"""

import html.parser
import shutil
import subprocess
import sys
from datetime import date, datetime, timezone
import duckdb
import pytest

from pipelines.report import main
from pipelines.report_data import on_time_trend, unique_labels
from pipelines.views import create_views
from tallyfy_source import destinations as atomic
from tallyfy_source.simulator import Simulator, SyntheticOrg
from tests.browser import Chromium
from tests.conftest import TOKEN, Loader, PostgresDatabase

ORG_ID = "7a11f5de" + "0" * 24
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "</script><script>alert(2)</script>"
LOADED = ["members", "groups", "tags", "templates", "processes", "tasks"]
CHARTS = ["chart-tags", "chart-tag-trend", "chart-on-time", "chart-overdue", "chart-templates", "chart-late-steps"]


def demo_org() -> SyntheticOrg:
    """The demo's org (pipelines/demo.py sizes) with payloads in a used tag and a launched template."""
    org = SyntheticOrg.generate(ORG_ID, members=300, groups=40, tags=200, guests=80, seed=7, templates=10,
                                processes=100, oneoff_tasks=30)
    org.add_tag(title=IMG, statistics=dict(active_template=5, archived_template=1, active_process=9,
                                           archived_process=2))
    launches = {}
    for run in org.values("runs"):
        launches[run["checklist_id"]] = launches.get(run["checklist_id"], 0) + 1
    most_launched = max(launches, key=launches.get)
    org.lookup("checklists", most_launched)["title"] = SCRIPT
    org.tick()
    return org


@pytest.fixture(scope="module")
def org():
    return demo_org()


@pytest.fixture(scope="module")
def report(tmp_path_factory, org):
    """(the report's path, the DuckDB file) from one load of the demo-sized org."""
    folder = tmp_path_factory.mktemp("report")
    with Simulator(orgs=[org], token=TOKEN) as server:
        loader = Loader(server, folder)
        pipeline, _ = loader.run(LOADED)
        assert "tag_usage" in create_views(pipeline)
    output = folder / "out" / "report.html"
    assert main(["--duckdb-file", loader.db_path, "-o", str(output)]) == 0
    return output, loader.db_path


@pytest.fixture(scope="module")
def page(report):
    with Chromium() as browser:
        yield browser.open(report[0].as_uri())


class Attributes(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found += [(tag, name, value or "") for name, value in attrs]


def test_the_report_is_one_file_that_loads_nothing(report):
    output, _ = report
    assert [p.name for p in output.parent.iterdir()] == ["report.html"]
    text = output.read_text(encoding="utf-8")
    parser = Attributes()
    parser.feed(text)
    sources = [(tag, name, value) for tag, name, value in parser.found if name in ("src", "href", "srcset")]
    assert not [s for s in sources if s[2].lower().startswith(("http:", "https:", "//"))], sources
    assert not [s for s in sources if s[0] in ("script", "link", "img", "iframe")], sources
    assert "Plotly" in text and output.stat().st_size < 10_000_000
    assert IMG not in text and SCRIPT not in text  # org text is escaped in the file, wherever it is


def test_every_chart_draws_data_with_no_console_error(page):
    charts = page.wait_for(f"""(() => {{
        const charts = Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => ({{
            id: el.id, traces: el.querySelectorAll('g.trace').length,
            points: el.querySelectorAll('g.trace .point, g.trace path.js-line').length}}));
        return charts.length === {len(CHARTS)} && charts.every(c => c.points > 0) && charts;
    }})()""")
    assert charts, page.evaluate("document.body.innerText.slice(0, 2000)")
    assert [c["id"] for c in charts] == CHARTS
    for chart in charts:
        assert chart["traces"] > 0 and chart["points"] > 0, chart
    cards = page.evaluate("Array.from(document.querySelectorAll('.card')).map(c => c.innerText)")
    assert len(cards) == 8 and any("overdue tasks" in c for c in cards), cards
    buttons = page.evaluate("Array.from(document.querySelectorAll('.modebar-btn')).map(b => b.dataset.title)")
    assert "Zoom" in buttons and not [b for b in buttons if "Share" in b or "Cloud" in b]  # no upload
    assert page.console_errors == []
    assert page.dialogs == []
    assert page.requests and all(url.startswith(("file:", "data:", "blob:")) for url in page.requests), page.requests


def test_org_text_shows_as_typed_and_runs_nothing(page):
    page.wait_for("document.querySelectorAll('#chart-late-steps g.trace').length > 0")
    svg_texts = page.evaluate("Array.from(document.querySelectorAll('svg text')).map(t => t.textContent)")
    assert IMG in svg_texts  # the tag's axis label, literally
    assert any(SCRIPT in text for text in svg_texts)  # the template's axis label
    # the hover label of the payload tag's bar
    hover = page.evaluate(f"""(() => {{
        const gd = document.getElementById('chart-tags');
        const i = gd.data[0].y.findIndex(label => label.includes('&lt;img'));
        Plotly.Fx.hover(gd, [{{curveNumber: 0, pointNumber: i}}]);
        return gd.querySelector('.hoverlayer').textContent;
    }})()""")
    assert IMG in hover
    assert page.evaluate("document.body.innerText").count(SCRIPT) >= 1  # the late steps table
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    # plotly.js and one per chart: no script made from org text
    assert page.evaluate("document.querySelectorAll('script').length") == 1 + len(CHARTS)
    assert page.dialogs == [] and page.console_errors == []


def test_no_file_or_no_load_is_one_line_and_exit_2(tmp_path, capsys):
    missing = tmp_path / "missing.duckdb"
    assert main(["--duckdb-file", str(missing), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "make demo" in err and "tallyfy-load" in err and str(missing) in err
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    assert main(["--duckdb-file", str(empty), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "never loaded" in err and "make demo" in err
    assert not (tmp_path / "r.html").exists()


def test_another_dataset_name_is_read(report, tmp_path, capsys):
    _, db_path = report
    assert main(["--duckdb-file", db_path, "--dataset", "elsewhere", "-o", str(tmp_path / "r.html")]) == 2
    assert "'elsewhere'" in capsys.readouterr().err


def test_a_postgres_dataset_is_read_through_dlt(tmp_path, monkeypatch, capsys):
    """Any SQL destination: the views are read through dlt's sql_client (no local dlt state needed)."""
    org = SyntheticOrg.generate(ORG_ID, members=30, groups=5, tags=20, guests=5, seed=3, templates=4,
                                processes=20, oneoff_tasks=5)
    database = PostgresDatabase()
    try:
        with Simulator(orgs=[org], token=TOKEN) as server:
            pipeline, _ = Loader(server, tmp_path, atomic.postgres(credentials=database.dsn)).run(LOADED)
            create_views(pipeline)
        monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", database.dsn)
        output = tmp_path / "pg.html"
        argv = ["--destination", "postgres", "--pipelines-dir", str(tmp_path / "elsewhere"), "-o", str(output)]
        assert main(argv) == 0, capsys.readouterr().err
    finally:
        database.drop()
    text = output.read_text(encoding="utf-8")
    for chart in CHARTS:
        assert f'id="{chart}"' in text
    assert "postgres, dataset tallyfy" in text and "active members" in text


def test_headline_numbers_match_the_org(page, org):
    """Counted here from the simulator's records, not by the views' SQL."""
    cards = dict(reversed(c.split("\n")) for c in page.evaluate(
        "Array.from(document.querySelectorAll('.card')).map(c => c.innerText)"))
    assert cards["groups"] == str(len(org.values("groups")))
    assert cards["active members"] == str(sum(m["status"] == "active" for m in org.values("members")))
    live = [t for t in org.values("checklists") if not t.get("archived_at")]
    assert cards["templates"] == str(len(live))


def test_demo_flag_reads_the_demo_file_and_says_where_to_look(report, tmp_path, capsys):
    _, db_path = report
    shutil.copy(db_path, tmp_path / "tallyfy_demo.duckdb")  # the autouse fixture made tmp_path the cwd
    assert main(["--demo"]) == 0
    out = capsys.readouterr().out
    assert f"report: {tmp_path / 'tallyfy_report.html'}" in out
    assert "make notebooks" in out and "tallyfy.tag_usage" in out and "where to look next" in out
    query = out.split("one view:")[1].strip()
    assert query.startswith(".venv/bin/python -c") and str(tmp_path / "tallyfy_demo.duckdb") in query


def test_a_file_held_by_a_load_is_one_line(tmp_path, capsys):
    path = tmp_path / "busy.duckdb"
    script = f"import duckdb, sys, time; c = duckdb.connect({str(path)!r}); print('open', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        assert main(["--duckdb-file", str(path), "-o", str(tmp_path / "r.html")]) == 1
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"pid {holder.pid}" in err and "when it ends" in err


def test_on_time_trend_is_weekly_then_monthly():
    now = datetime(2026, 6, 30, tzinfo=timezone.utc)

    def task(day: str, on_time: bool):
        return {"completed_at": datetime.fromisoformat(day + "T10:00:00+00:00"), "completed_on_time": on_time}

    rows = [task("2026-06-01", True), task("2026-06-03", False), task("2026-06-08", True),
            {"completed_at": None, "completed_on_time": None}]
    points, period = on_time_trend(rows, now)
    assert period == "week"
    assert [(p.start, p.on_time, p.with_deadline) for p in points] == [(date(2026, 6, 1), 1, 2), (date(2026, 6, 8), 1, 1)]
    points, period = on_time_trend(rows + [task("2025-11-20", False)], now)
    assert period == "month"
    assert [(p.start, p.on_time, p.with_deadline) for p in points] == [(date(2025, 11, 1), 0, 1), (date(2026, 6, 1), 2, 3)]
    assert on_time_trend([], now) == ([], "week")


def test_labels_are_shortened_and_kept_apart():
    assert unique_labels(["Audit", "Audit", None, "x" * 60], width=10) == ["Audit", "Audit (2)", "(untitled)", "xxxxxxxxx…"]


def test_tag_usage_over_time_falls_back_on_launches_per_month_before_a_second_load_day(report, org):
    """One load: one history day, so the chart is the launches per month of today's tagged
    processes, counted here from the simulator's runs and tag links."""
    from pipelines.report_data import duckdb_views, read_report
    from tests.workflow.test_workflow import _ts, both_walks

    with duckdb_views(report[1], "tallyfy") as query:
        trend = read_report(query).tag_trend
    assert (trend.source, trend.days) == ("launches", 1)
    titles = {t["id"]: t["title"] for t in org.served("tags", query={"all": "true"})}
    launches = {}
    for run in both_walks(org, "runs", [], "too"):
        started = _ts(run["started_at"] or run["created_at"])
        for link in org.tag_links.get(("runs", run["id"]), ()):
            per_month = launches.setdefault(link["tag_id"], {})
            month = date(started.year, started.month, 1)
            per_month[month] = per_month.get(month, 0) + 1
    top = sorted(launches, key=lambda t: (-sum(launches[t].values()), titles[t], t))[:8]
    first, last = min(m for t in top for m in launches[t]), max(m for t in top for m in launches[t])
    months = [date(y, m, 1) for y in range(first.year, last.year + 1) for m in range(1, 13)
              if first <= date(y, m, 1) <= last]
    assert [(line.label, line.points) for line in trend.lines] == [
        (label, [(m, launches[t].get(m, 0)) for m in months]) for label, t in zip(unique_labels([titles[t] for t in top]), top)]
    assert len(trend.lines) == 8 and sum(v for line in trend.lines for _, v in line.points) > 8
