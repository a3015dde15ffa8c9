"""The report's "tag usage over time" (issue 19) once loads have run on several days: one line per
tag from `tag_statistics_history`, values counted here from what the simulator served at each
load, checked in the data and drawn in headless Chromium (org text shown as typed)."""

from datetime import date, datetime, timezone

import pytest

from pipelines.report import main
from pipelines.report_data import duckdb_views, read_report, unique_labels
from pipelines.report_tags import tag_trend
from pipelines.views import create_views
from tallyfy_source.read import orgs
from tallyfy_source.simulator import Simulator
from tests.browser import Chromium
from tests.conftest import TOKEN, Loader
from tests.pipelines.test_report import IMG, LOADED, demo_org

DAYS = [datetime(2026, 10, 2, 9, tzinfo=timezone.utc), datetime(2026, 10, 20, 9, tzinfo=timezone.utc),
        datetime(2026, 11, 3, 9, tzinfo=timezone.utc)]
STATS = ("active_template", "archived_template", "active_process", "archived_process")


class Clock(datetime):
    at = DAYS[0]

    @classmethod
    def now(cls, tz=None):
        return cls.at


def served_usage(org):
    return {t["id"]: (t["title"], sum(t["statistics"]["data"][k] for k in STATS))
            for t in org.served("tags", ["statistics"], query={"all": "true"})}


@pytest.fixture(scope="module")
def history_report(tmp_path_factory):
    """Three loads on three days, the payload tag's counts growing; (report path, db path, usage per day)."""
    org = demo_org()
    payload = next(t["id"] for t in org.values("tags") if t["title"] == IMG)
    folder = tmp_path_factory.mktemp("history_report")
    patch = pytest.MonkeyPatch()
    patch.setattr(orgs, "datetime", Clock)
    usage = []
    try:
        with Simulator(orgs=[org], token=TOKEN) as server:
            loader = Loader(server, folder)
            for i, day in enumerate(DAYS):
                org.set_tag_statistics(payload, active_process=9 + 10 * i)
                Clock.at = day
                pipeline, _ = loader.run(LOADED)
                usage.append(served_usage(org))
            create_views(pipeline)
    finally:
        patch.undo()
    output = folder / "report.html"
    assert main(["--duckdb-file", loader.db_path, "-o", str(output)]) == 0
    return output, loader.db_path, usage


def test_usage_per_tag_and_load_day_equals_what_was_served(history_report):
    _, db_path, usage = history_report
    with duckdb_views(db_path, "tallyfy") as query:
        trend = read_report(query).tag_trend
    assert (trend.source, trend.days) == ("history", 3)
    last = usage[-1]
    top = sorted((t for t in last if last[t][1] > 0), key=lambda t: (-last[t][1], last[t][0], t))[:8]
    want = [(label, [(day.date(), per_day[t][1]) for day, per_day in zip(DAYS, usage)])
            for label, t in zip(unique_labels([last[t][0] for t in top]), top)]
    assert [(line.label, line.points) for line in trend.lines] == want
    # the payload tag: 5 + 1 + 2 templates and archived processes, 9, 19, 29 active processes
    assert trend.lines[0].label == IMG and [v for _, v in trend.lines[0].points] == [17, 27, 37]


def test_the_history_chart_draws_one_line_per_tag_and_shows_titles_as_typed(history_report):
    with Chromium() as browser:
        page = browser.open(history_report[0].as_uri())
        lines = page.wait_for("""(() => {
            const gd = document.getElementById('chart-tag-trend');
            const n = gd && gd.querySelectorAll('g.trace path.js-line').length;
            return n > 0 && n;
        })()""")
        assert lines == 8
        legend = page.evaluate("Array.from(document.querySelectorAll('#chart-tag-trend .legendtext'))"
                               ".map(t => t.textContent)")
        assert IMG in legend
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        assert page.console_errors == [] and page.dialogs == []


def test_trend_from_rows():
    """Two days of history win over launches; one day falls back on launches per month, with
    months without a launch as 0; the top tags by the last day's usage, ties by title."""
    def h(tag, title, day, *counts):
        return {"org_id": "o", "tag_id": tag, "title": title, "snapshot_date": day,
                **dict(zip(STATS, counts))}

    d1, d2 = date(2026, 5, 1), date(2026, 5, 2)
    history = [h("a", "A", d1, 1, 0, 2, 0), h("a", "A", d2, 1, 0, 3, 1), h("b", "B", d2, 0, 0, 5, 0),
               h("c", "C", d1, 0, 0, 0, 0), h("c", "C", d2, 0, 0, 0, 0)]
    trend = tag_trend(history, [], unique_labels)
    assert trend.source == "history" and trend.days == 2
    assert [(l.label, l.points) for l in trend.lines] == [("A", [(d1, 3), (d2, 5)]), ("B", [(d2, 5)])]
    activity = [{"org_id": "o", "tag_id": "a", "title": "A", "month_start": date(2026, 1, 1), "processes_launched": 2},
                {"org_id": "o", "tag_id": "a", "title": "A", "month_start": date(2026, 3, 1), "processes_launched": 1},
                {"org_id": "o", "tag_id": "b", "title": "A", "month_start": date(2025, 12, 1), "processes_launched": 1},
                {"org_id": "o", "tag_id": "c", "title": "C", "month_start": date(2026, 2, 1), "processes_launched": 0}]
    trend = tag_trend(history[:1], activity, unique_labels)
    months = [date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    assert (trend.source, trend.days) == ("launches", 1)
    assert [(l.label, l.points) for l in trend.lines] == [("A", list(zip(months, [0, 2, 0, 1]))),
                                                         ("A (2)", list(zip(months, [1, 0, 0, 0])))]
    assert tag_trend(None, None, unique_labels) is None
    assert tag_trend([], [], unique_labels).lines == []
