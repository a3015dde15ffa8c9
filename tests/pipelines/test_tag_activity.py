"""`tag_activity` (issue 19): per tag and UTC month, what the loaded work says happened and the
last `tag_statistics_history` snapshot of the month, computed here from the simulator's served
records and tag links (not by SQL), on DuckDB and PostgreSQL.

Three loads on three days of two months (the source's clock moved by the test) make the
history: September's last snapshot, October's only one, and nothing for the other months.
"""

from collections import defaultdict
from datetime import date, datetime, timezone
from typing import Any, Dict, List

import pytest

from pipelines.views import STUB_COLUMNS, TAG_ACTIVITY, create_views
from tallyfy_source.read import orgs as org_reads
from tallyfy_source.simulator import Simulator
from tests.conftest import TOKEN, Loader
from tests.workflow.test_workflow import _ts, _unwrap
from tests.pipelines.test_workflow_views import LOADED, ORG_A, make_orgs, served

STATS = ("active_template", "archived_template", "active_process", "archived_process")
COUNTS = ("processes_launched", "processes_completed", "tasks_completed", "tasks_completed_with_deadline",
          "tasks_completed_on_time", "open_problems")
#: the days the three loads run on (UTC): two in September, one in October
LOAD_DAYS = [datetime(2026, 9, 10, 8, tzinfo=timezone.utc), datetime(2026, 9, 28, 23, 59, tzinfo=timezone.utc),
             datetime(2026, 10, 5, 0, 1, tzinfo=timezone.utc)]


class Clock(datetime):
    """The source's `datetime`, at the moment the test says (history rows take their day from it)."""

    at = LOAD_DAYS[0]

    @classmethod
    def now(cls, tz=None):
        return cls.at


def month(value) -> Any:
    when = _ts(value)
    return None if when is None else date(when.year, when.month, 1)


def links(org, kind: str, subjects) -> set:
    """(tag_id, subject id) for today's links of the subjects that are served."""
    return {(row["tag_id"], subject) for (k, subject), rows in org.tag_links.items()
            if k == kind and subject in subjects for row in rows}


def snapshot(org) -> Dict[str, tuple]:
    return {t["id"]: tuple(_unwrap(t["statistics"])[k] for k in STATS)
            for t in org.served("tags", ["statistics"], query={"all": "true"})}


def expected_tag_activity(orgs, history: List[Dict[str, Dict[str, tuple]]]) -> Dict[tuple, Dict[str, Any]]:
    """history: per load (LOAD_DAYS), {org_id: {tag_id: the four counts served then}}."""
    out = {}
    for org in orgs:
        templates, runs, task_list, _ = served(org)
        tasks = {t["id"]: t for t in task_list}
        tags = {t["id"]: t["title"] for t in org.served("tags", ["statistics"], query={"all": "true"})}
        template_links, run_links = links(org, "checklists", templates), links(org, "runs", runs)
        task_links = links(org, "tasks", tasks) | {(tag, t["id"]) for tag, run in run_links
                                                   for t in task_list if t["run_id"] == run}
        counts: Dict[tuple, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for tag, template in template_links:
            counts[(tag, month(templates[template]["created_at"]))]["templates_created"] += 1
        for tag, run_id in run_links:
            run = runs[run_id]
            counts[(tag, month(run["started_at"] or run["created_at"]))]["processes_launched"] += 1
            if run["status"] == "complete" and run["completed_at"]:
                counts[(tag, month(run["completed_at"]))]["processes_completed"] += 1
        for tag, task_id in task_links:
            task = tasks[task_id]
            if task["status"] == "completed" and task["completed_at"]:
                row = counts[(tag, month(task["completed_at"]))]
                row["tasks_completed"] += 1
                if task["deadline"]:
                    row["tasks_completed_with_deadline"] += 1
                    row["tasks_completed_on_time"] += _ts(task["completed_at"]) <= _ts(task["deadline"])
            for c in _unwrap(task["threads"]):
                if c["label"] == "problem" and c["state"] != "resolved" and c["archived_at"] is None:
                    counts[(tag, month(c["created_at"]))]["open_problems"] += 1
        last_of_month = {}
        for day, per_org in zip(LOAD_DAYS, history):  # in time order: the month's last load wins
            for tag, stats in per_org[org.org_id].items():
                last_of_month[(tag, date(day.year, day.month, 1))] = (day.date(), stats)
        for tag, title in tags.items():
            months = sorted({m for (t, m) in counts if t == tag} | {m for (t, m) in last_of_month if t == tag})
            templates_tagged = processes_tagged = 0
            for m in months:
                c = counts.get((tag, m), {})
                templates_tagged += c.get("templates_created", 0)
                processes_tagged += c.get("processes_launched", 0)
                day, stats = last_of_month.get((tag, m), (None, (None,) * 4))
                with_deadline = c.get("tasks_completed_with_deadline", 0)
                out[(org.org_id, tag, m)] = {
                    "title": title, "templates_tagged": templates_tagged, "processes_tagged": processes_tagged,
                    **{k: c.get(k, 0) for k in COUNTS},
                    "on_time_share": round(c["tasks_completed_on_time"] / with_deadline, 6) if with_deadline else None,
                    "history_snapshot_date": day,
                    **{f"history_{k}{'es' if k.endswith('process') else 's'}": v for k, v in zip(STATS, stats)},
                    # process_tags_history starts with the first load (dlt's load time: today), so
                    # the months of this test, in the past, all ended before it began
                    "history_processes_carrying": None,
                }
    return out


def view_rows(loader) -> Dict[tuple, Dict[str, Any]]:
    rows = loader.table("tag_activity")
    keyed = {(r["org_id"], r["tag_id"], r["month_start"]): {k: v for k, v in r.items()
                                                            if k not in ("org_id", "tag_id", "month_start")}
             for r in rows}
    assert len(keyed) == len(rows), "duplicate (org, tag, month) rows"
    for row in keyed.values():
        if row["on_time_share"] is not None:
            row["on_time_share"] = round(row["on_time_share"], 6)
    return keyed


def load_three_days(loader, orgs, monkeypatch, resources) -> List[Dict[str, Dict[str, tuple]]]:
    """Three loads on LOAD_DAYS, one tag's counts changed before each; what each load served."""
    monkeypatch.setattr(org_reads, "datetime", Clock)
    tag = next(t["id"] for t in orgs[0].values("tags"))
    history = []
    for i, day in enumerate(LOAD_DAYS):
        orgs[0].set_tag_statistics(tag, active_process=100 + i, archived_template=7 * i)
        Clock.at = day
        pipeline, _ = loader.run(resources=resources)
        history.append({org.org_id: snapshot(org) for org in orgs})
    assert create_views(pipeline)[-1] == "tag_activity"
    return history


def arrange(org) -> Dict[str, str]:
    """Cases the generated org may lack: an open problem on a tagged process's task, that
    process's completed task tagged again with the process's own tag (counted once), and an open
    task of it tagged with another tag."""
    run_id, tag = next((subject, rows[0]["tag_id"]) for (kind, subject), rows in org.tag_links.items()
                       if kind == "runs" and not org.get("runs", subject)["archived_at"]
                       and any(t["status"] == "completed" for t in org._tasks_of(subject))
                       and any(t["status"] != "completed" for t in org._tasks_of(subject)))
    tasks = org._tasks_of(run_id)
    done = next(t for t in tasks if t["status"] == "completed")
    still_open = next(t for t in tasks if t["status"] != "completed")
    other = next(t["id"] for t in org.values("tags") if t["id"] != tag)
    org.comment_on_task(still_open["id"], label="problem")
    org.retag("tasks", done["id"], tag)
    org.retag("tasks", still_open["id"], other)
    return {"run": run_id, "tag": tag, "done": done["id"], "other": other}


@pytest.fixture
def orgs():
    orgs = make_orgs()
    arrange(orgs[0])
    return orgs


def test_tag_activity_per_month_equals_the_simulator_data(orgs, tmp_path, destination, monkeypatch):
    with Simulator(orgs=orgs, token=TOKEN) as server:
        loader = Loader(server, tmp_path, destination)
        history = load_three_days(loader, orgs, monkeypatch, LOADED)
        got = view_rows(loader)
    want = expected_tag_activity(orgs, history)
    assert set(got) == set(want), sorted(set(got) ^ set(want))[:5]
    for key, row in want.items():
        assert got[key] == row, (key, {c: (got[key][c], v) for c, v in row.items() if got[key][c] != v})
    # the data covers what each column counts
    rows = list(got.values())
    for column in COUNTS + ("templates_tagged",):
        assert sum(r[column] for r in rows) > 0, column
    assert {r["on_time_share"] for r in rows} - {None, 0.0, 1.0}, "no month with some tasks late and some on time"
    assert sum(r["history_snapshot_date"] is not None for r in rows) == 2 * sum(len(o.values("tags")) for o in orgs)
    # a tag whose counts changed between the loads: September's last snapshot, October's only one
    tag = orgs[0].values("tags")[0]["id"]
    september, october = got[(ORG_A, tag, date(2026, 9, 1))], got[(ORG_A, tag, date(2026, 10, 1))]
    assert (september["history_snapshot_date"], september["history_active_processes"],
            september["history_archived_templates"]) == (date(2026, 9, 28), 101, 7)
    assert (october["history_snapshot_date"], october["history_active_processes"],
            october["history_archived_templates"]) == (date(2026, 10, 5), 102, 14)
    # a month with work and no load has no history
    assert any(r["processes_launched"] and r["history_snapshot_date"] is None for r in rows)


def test_tags_alone_give_the_history_months_only(orgs, tmp_path, destination, monkeypatch):
    """`--resources tags`: no workflow table, so every count is 0 and the months are the loads'."""
    with Simulator(orgs=orgs, token=TOKEN) as server:
        loader = Loader(server, tmp_path, destination)
        history = load_three_days(loader, orgs, monkeypatch, ["tags"])
        got = view_rows(loader)
    months = {(org.org_id, tag, m) for org in orgs for tag in snapshot(org) for m in (date(2026, 9, 1), date(2026, 10, 1))}
    assert set(got) == months
    assert all(r["templates_tagged"] == r["processes_tagged"] == 0 and all(r[c] == 0 for c in COUNTS)
               and r["on_time_share"] is None for r in got.values())
    for (org_id, tag, m), row in got.items():
        index = 1 if m.month == 9 else 2
        stats = history[index][org_id][tag]
        assert (row["history_snapshot_date"], row["history_active_templates"], row["history_archived_templates"],
                row["history_active_processes"], row["history_archived_processes"]) == (LOAD_DAYS[index].date(), *stats)


def test_tag_activity_reads_only_tables_that_stand_in_empty_when_missing():
    assert TAG_ACTIVITY.required == ("tags",)
    for table in TAG_ACTIVITY.optional:
        assert table in STUB_COLUMNS, table
    assert "CAVEAT: tags are today's links" in TAG_ACTIVITY.sql


def test_the_processes_carrying_a_tag_this_month_come_from_the_process_tags_history(orgs, tmp_path, destination):
    """Loads at today's time (no clock moved): this month's row counts the processes that carry
    the tag now, as `process_tags_history` holds them after a retag; months that ended before the
    first load have no such history (NULL)."""
    org = orgs[0]
    with Simulator(orgs=orgs, token=TOKEN) as server:
        loader = Loader(server, tmp_path, destination)
        loader.run(resources=LOADED)
        runs = [r for r in org.values("runs") if ("runs", r["id"]) in org.tag_links]
        tag = org.tag_links[("runs", runs[0]["id"])][0]["tag_id"]
        untagged = next(r["id"] for r in org.values("runs") if not any(
            row["tag_id"] == tag for row in org.tag_links.get(("runs", r["id"]), ())))
        org.retag("runs", runs[0]["id"], tag, add=False)
        org.retag("runs", untagged, tag)
        pipeline, _ = loader.run(resources=LOADED)
        assert "tag_activity" in create_views(pipeline)
        got = view_rows(loader)
    now = datetime.now(timezone.utc)
    this_month = date(now.year, now.month, 1)
    for o in orgs:
        carrying = defaultdict(set)
        for (kind, subject), rows in o.tag_links.items():
            if kind == "runs" and o.get("runs", subject) is not None:
                for row in rows:
                    carrying[row["tag_id"]].add(subject)
        for t in snapshot(o):
            assert got[(o.org_id, t, this_month)]["history_processes_carrying"] == len(carrying[t]), t
    mine = got[(org.org_id, tag, this_month)]["history_processes_carrying"]
    assert mine == len({s for (k, s), rows in org.tag_links.items() if k == "runs"
                        and any(r["tag_id"] == tag for r in rows)}) and mine > 0
    past = [row for (o, t, m), row in got.items() if m < this_month]
    assert past and all(row["history_processes_carrying"] is None for row in past)
