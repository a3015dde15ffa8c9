"""The workflow reporting views (task_performance, process_cycle_times, template_usage,
member_workload) hold what the simulator's served data says, computed here independently of
the SQL, on DuckDB and PostgreSQL.

"Now" in the views is the query's CURRENT_TIMESTAMP: each check computes the expected rows at
the moment before and the moment after the query and accepts either (a deadline falling between
the two would otherwise make the test flaky).
"""

import statistics
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List

import dlt
import pytest

from pipelines.tallyfy_pipeline import main
from pipelines.views import STUB_COLUMNS, VIEWS, WORKFLOW_VIEWS, create_views
from tallyfy_source.simulator import Simulator, SyntheticOrg
from tests.conftest import TOKEN, Loader
from tests.workflow.test_workflow import _ts, _unwrap, both_walks

ORG_A = "7e57a0000000000000000000000000aa"
ORG_B = "7e57b0000000000000000000000000bb"
DIRECTORY = ["members", "groups", "tags"]
LOADED = DIRECTORY + ["templates", "processes", "tasks"]
DIRECTORY_VIEWS = ["tag_usage", "tag_statistics_check", "group_membership", "member_directory", "group_summary"]
WF_VIEWS = ["task_performance", "process_cycle_times", "template_usage", "member_workload"]
TAG_ACTIVITY = ["tag_activity"]  # after the workflow views; tests/pipelines/test_tag_activity.py
KEYS = {"task_performance": ("org_id", "task_id"), "process_cycle_times": ("org_id", "process_id"),
        "template_usage": ("org_id", "template_id"), "member_workload": ("org_id", "member_id")}
DAY = 86400.0


def make_orgs() -> List[SyntheticOrg]:
    """Two orgs sharing member ids (10001...): joins must stay within an org. Org B has more
    templates than launches, so some are never launched."""
    a = SyntheticOrg.generate(ORG_A, members=30, groups=5, tags=10, guests=6, templates=6, processes=30,
                              oneoff_tasks=15, seed=11)
    b = SyntheticOrg.generate(ORG_B, members=12, groups=3, tags=5, guests=3, templates=8, processes=5,
                              oneoff_tasks=4, seed=12)
    return [a, b]


def edge_cases(org: SyntheticOrg) -> Dict[str, str]:
    """Upstream records on each rule's boundary (edited in place before anything is served)."""
    tasks = [org.lookup("tasks", t["id"]) for t in org.values("tasks")]
    done = [t for t in tasks if t["status"] == "completed" and t["deadline"] and t["archived_at"] is None]
    live = [t for t in tasks if t["status"] != "completed" and t["archived_at"] is None and t["deadline"]]
    cases = {"on_deadline": done[0], "no_deadline": done[1], "skipped": live[0], "archived_open": live[1]}
    done[0]["deadline"] = done[0]["completed_at"]  # completed exactly at its deadline: on time
    done[1]["deadline"] = None
    live[0]["status"] = "auto-skipped"
    live[1]["archived_at"] = live[1]["updated_at"]
    org.tick()
    return {name: t["id"] for name, t in cases.items()}


# --- what the views must hold, from the simulator's served records ---------------------

def served(org: SyntheticOrg):
    templates = {t["id"]: t for t in both_walks(org, "checklists", [], "too")}
    runs = {r["id"]: r for r in both_walks(org, "runs", [], "too")}
    tasks = both_walks(org, "tasks", ["threads"], "too")
    members = org.served("members")
    return templates, runs, tasks, members


def task_facts(t: Dict[str, Any], now: datetime) -> Dict[str, Any]:
    done = t["status"] == "completed"
    is_open = t["status"] not in ("completed", "auto-skipped") and t["archived_at"] is None
    deadline, completed = _ts(t["deadline"]), _ts(t["completed_at"])
    start = _ts(t["started_at"]) or _ts(t["created_at"])
    threads = [c for c in _unwrap(t["threads"]) if c["archived_at"] is None]
    problems = [c for c in threads if c["label"] == "problem"]
    return {
        "is_completed": done, "is_open": is_open,
        "is_overdue": is_open and deadline is not None and deadline < now,
        "completed_on_time": completed <= deadline if done and deadline and completed else None,
        "days_to_complete": (completed - start).total_seconds() / DAY if done and completed else None,
        "comments_count": len(threads), "problems_count": len(problems),
        "open_problems_count": sum(c["state"] != "resolved" for c in problems),
    }


def expected_task_performance(orgs, now):
    out = {}
    for org in orgs:
        templates, runs, tasks, _ = served(org)
        for t in tasks:
            run = runs.get(t["run_id"])
            template_id = t["checklist_id"] or (run["checklist_id"] if run else None)
            title = templates[template_id]["title"] if template_id in templates else (
                run["checklist_title"] if run else None)
            owners = t["owners"]
            out[(org.org_id, t["id"])] = {
                "title": t["title"], "task_type": t["task_type"], "status": t["status"],
                "is_oneoff_task": t["is_oneoff_task"], "process_id": t["run_id"],
                "process_name": run["name"] if run else None, "template_id": template_id, "template_title": title,
                "step_id": t["step_id"], "position": t["position"],
                "assignees_count": len(owners["users"]) + len(owners["guests"]) + len(owners["groups"]),
                "member_assignees": len(owners["users"]), "guest_assignees": len(owners["guests"]),
                "group_assignees": len(owners["groups"]),
                "created_at": _ts(t["created_at"]), "started_at": _ts(t["started_at"]),
                "deadline": _ts(t["deadline"]), "completed_at": _ts(t["completed_at"]),
                "completer_id": t["completer_id"], "archived_at": _ts(t["archived_at"]),
                **task_facts(t, now),
            }
    return out


def expected_process_cycle_times(orgs, now):
    out = {}
    for org in orgs:
        templates, runs, tasks, _ = served(org)
        for p in runs.values():
            facts = [task_facts(t, now) for t in tasks if t["run_id"] == p["id"]]
            start, completed = _ts(p["started_at"]) or _ts(p["created_at"]), _ts(p["completed_at"])
            done = p["status"] == "complete"
            seconds = (completed - start).total_seconds() if done and completed else None
            overdue = sum(f["is_overdue"] for f in facts)
            late = sum(f["completed_on_time"] is False for f in facts)
            out[(org.org_id, p["id"])] = {
                "process_name": p["name"], "template_id": p["checklist_id"],
                "template_title": templates[p["checklist_id"]]["title"] if p["checklist_id"] in templates
                else p["checklist_title"],
                "status": p["status"], "is_completed": done, "is_archived": p["archived_at"] is not None,
                "started_at": start, "completed_at": completed, "due_date": _ts(p["due_date"]),
                "cycle_time_hours": seconds / 3600 if seconds is not None else None,
                "cycle_time_days": seconds / DAY if seconds is not None else None,
                "tasks_total": len(facts), "tasks_completed": sum(f["is_completed"] for f in facts),
                "tasks_open": sum(f["is_open"] for f in facts), "tasks_overdue": overdue,
                "tasks_completed_late": late, "tasks_late": overdue + late,
                "open_problems": sum(f["open_problems_count"] for f in facts),
            }
    return out


def expected_template_usage(orgs, now):
    out = {}
    for org in orgs:
        templates, runs, _, _ = served(org)
        for tm in templates.values():
            launched = [r for r in runs.values() if r["checklist_id"] == tm["id"]]
            starts = [_ts(r["started_at"]) or _ts(r["created_at"]) for r in launched]
            state = ["archived" if r["archived_at"] else "completed" if r["status"] == "complete" else "active"
                     for r in launched]
            cycles = [(_ts(r["completed_at"]) - s).total_seconds() / DAY for r, s in zip(launched, starts)
                      if r["status"] == "complete" and r["completed_at"]]
            recent = sum(s.timestamp() >= now.timestamp() - 30 * DAY for s in starts)
            out[(org.org_id, tm["id"])] = {
                "title": tm["title"], "type": tm["type"], "status": tm["status"],
                "is_archived": tm["is_archived"], "created_at": _ts(tm["created_at"]),
                "launches": len(launched), "active_processes": state.count("active"),
                "completed_processes": state.count("completed"), "archived_processes": state.count("archived"),
                "launches_last_30_days": recent, "last_launched_at": max(starts, default=None),
                "completed_with_cycle_time": len(cycles),
                "avg_cycle_time_days": statistics.mean(cycles) if cycles else None,
                "median_cycle_time_days": statistics.median(cycles) if cycles else None,
                "unused_last_30_days": recent == 0,
            }
    return out


def expected_member_workload(orgs, now):
    out = {}
    for org in orgs:
        _, _, tasks, members = served(org)
        facts = [(t, task_facts(t, now)) for t in tasks]
        for m in members:
            mine = [f for t, f in facts if m["id"] in t["owners"]["users"]]
            completed = [f for t, f in facts if f["is_completed"] and t["completer_id"] == m["id"]]
            judged = [f["completed_on_time"] for f in completed if f["completed_on_time"] is not None]
            out[(org.org_id, m["id"])] = {
                "full_name": m["full_name"], "email": m["email"], "role": m["role"].lower(), "status": m["status"],
                "open_tasks": sum(f["is_open"] for f in mine), "overdue_tasks": sum(f["is_overdue"] for f in mine),
                "tasks_completed": len(completed), "completed_with_deadline": len(judged),
                "completed_on_time": sum(judged), "on_time_rate": sum(judged) / len(judged) if judged else None,
            }
    return out


EXPECTED: Dict[str, Callable[[Any, datetime], Dict[tuple, Dict[str, Any]]]] = {
    "task_performance": expected_task_performance, "process_cycle_times": expected_process_cycle_times,
    "template_usage": expected_template_usage, "member_workload": expected_member_workload,
}


# --- comparing ---------------------------------------------------------------------------

def _rounded(rows: Dict[tuple, Dict[str, Any]]) -> Dict[tuple, Dict[str, Any]]:
    """Floats to 6 decimals: the database and Python round a division's last bits differently."""
    return {k: {c: round(v, 6) if isinstance(v, float) else v for c, v in row.items()} for k, row in rows.items()}


def view_rows(loader, view: str) -> Dict[tuple, Dict[str, Any]]:
    key = KEYS[view]
    rows = loader.table(view)
    keyed = {tuple(r[k] for k in key): {c: v for c, v in r.items() if c not in key} for r in rows}
    assert len(keyed) == len(rows), f"duplicate keys in {view}"
    return _rounded(keyed)


def assert_view_equals(loader, view: str, orgs) -> Dict[tuple, Dict[str, Any]]:
    before = datetime.now(timezone.utc)
    got = view_rows(loader, view)
    after = datetime.now(timezone.utc)
    want = _rounded(EXPECTED[view](orgs, before))
    if got != want:  # a deadline or a 30-day boundary passed during the query
        want = _rounded(EXPECTED[view](orgs, after))
    assert set(got) == set(want), (view, sorted(set(got) ^ set(want))[:5])
    for key, row in want.items():
        assert set(got[key]) == set(row), (view, sorted(set(got[key]) ^ set(row)))
        for column, value in row.items():
            assert got[key][column] == value, (view, key, column, got[key][column], value)
    return got


def assert_workflow_views(loader, orgs) -> Dict[str, Dict[tuple, Dict[str, Any]]]:
    return {view: assert_view_equals(loader, view, orgs) for view in WF_VIEWS}


# --- tests ---------------------------------------------------------------------------------

@pytest.fixture
def orgs():
    return make_orgs()


def test_each_workflow_view_equals_the_simulator_data(orgs, tmp_path, destination):
    cases = edge_cases(orgs[0])
    with Simulator(orgs=orgs, token=TOKEN) as server:
        loader = Loader(server, tmp_path, destination)
        pipeline, _ = loader.run(resources=LOADED)
        assert create_views(pipeline) == DIRECTORY_VIEWS + WF_VIEWS + TAG_ACTIVITY
        got = assert_workflow_views(loader, orgs)
    tasks = got["task_performance"]
    # the data covers what each rule decides
    for flag in ("is_overdue", "is_completed", "completed_on_time"):
        assert {r[flag] for r in tasks.values()} >= {True, False}, flag
    assert any(r["problems_count"] for r in tasks.values()) and any(r["comments_count"] for r in tasks.values())
    assert any(r["tasks_late"] for r in got["process_cycle_times"].values())
    usage = got["template_usage"].values()
    assert any(r["launches"] == 0 for r in usage) and any(r["median_cycle_time_days"] is not None for r in usage)
    workload = got["member_workload"].values()
    assert any(r["overdue_tasks"] for r in workload) and any(r["on_time_rate"] is not None for r in workload)
    # the rules on their boundaries
    row = {name: tasks[(ORG_A, task_id)] for name, task_id in cases.items()}
    assert row["on_deadline"]["completed_on_time"] is True
    assert row["no_deadline"]["completed_on_time"] is None and row["no_deadline"]["is_completed"]
    assert not row["skipped"]["is_open"] and not row["skipped"]["is_overdue"] and not row["skipped"]["is_completed"]
    assert not row["archived_open"]["is_open"] and not row["archived_open"]["is_overdue"]
    # a one-off task has no process or template
    oneoff = next(r for r in tasks.values() if r["is_oneoff_task"])
    assert oneoff["process_id"] is None and oneoff["template_title"] is None


def test_a_process_deleted_upstream_and_flagged_is_left_out(orgs, tmp_path, destination):
    org = orgs[0]
    with Simulator(orgs=orgs, token=TOKEN) as server:
        loader = Loader(server, tmp_path, destination)
        loader.run(resources=LOADED, deleted_records="flag")
        # the process with the most comments, so its tasks' comments are flagged too
        run = max((r for r in org.values("runs") if r["archived_at"] is None),
                  key=lambda r: sum(len(org.threads.get(t["id"], ())) for t in org._tasks_of(r["id"])))
        task_ids = [t["id"] for t in org._tasks_of(run["id"])]
        org.delete_process(run["id"])
        pipeline, _ = loader.run(resources=LOADED, deleted_records="flag", sweep_interval_hours=0)
        assert loader.rows(f"SELECT missing_since IS NOT NULL FROM tallyfy.processes WHERE id = '{run['id']}'") == [
            (True,)]
        flagged = loader.rows(f"SELECT count(*) FROM tallyfy.tasks WHERE run_id = '{run['id']}'"
                              " AND missing_since IS NOT NULL")
        assert flagged == [(len(task_ids),)]
        create_views(pipeline)
        got = assert_workflow_views(loader, orgs)
    assert (ORG_A, run["id"]) not in got["process_cycle_times"]
    assert not {(ORG_A, t) for t in task_ids} & set(got["task_performance"])
    assert run["id"] not in {r["process_id"] for r in got["task_performance"].values()}


def test_views_of_missing_workflow_tables_are_skipped_or_answer_empty(orgs, tmp_path, destination):
    with Simulator(orgs=orgs, token=TOKEN) as server:
        loader = Loader(server, tmp_path, destination)
        pipeline, _ = loader.run(resources=DIRECTORY)
        assert create_views(pipeline) == DIRECTORY_VIEWS + TAG_ACTIVITY  # no workflow table: no workflow view
        pipeline, _ = loader.run(resources=["templates"])
        assert create_views(pipeline) == DIRECTORY_VIEWS + ["template_usage"] + TAG_ACTIVITY  # processes stand in empty
        usage = view_rows(loader, "template_usage")
        assert len(usage) == sum(len(o.values("checklists")) for o in orgs)
        assert all(r["launches"] == 0 and r["unused_last_30_days"] and r["last_launched_at"] is None
                   and r["median_cycle_time_days"] is None for r in usage.values())
        pipeline, _ = loader.run(resources=["processes"])
        assert create_views(pipeline) == DIRECTORY_VIEWS + ["process_cycle_times", "template_usage"] + TAG_ACTIVITY
        cycles = view_rows(loader, "process_cycle_times")  # tasks stand in empty
        assert cycles and all(r["tasks_total"] == 0 and r["open_problems"] == 0 for r in cycles.values())
        assert_view_equals(loader, "template_usage", orgs)
        pipeline, _ = loader.run(resources=["tasks"])
        assert create_views(pipeline) == DIRECTORY_VIEWS + WF_VIEWS + TAG_ACTIVITY
        assert_workflow_views(loader, orgs)


def test_an_org_with_no_workflow_gets_no_view_or_empty_rows(orgs, tmp_path, destination):
    empty_id = "e3e3e3e3" + "0" * 24
    empty = SyntheticOrg.generate(empty_id, members=5, groups=2, tags=3, guests=1, seed=13)
    with Simulator(orgs=[empty], token=TOKEN) as server:
        loader = Loader(server, tmp_path, destination, pipeline_name="empty_only")
        pipeline, _ = loader.run(resources=LOADED)
        assert create_views(pipeline) == DIRECTORY_VIEWS + TAG_ACTIVITY  # no workflow row: no workflow table, no view
    with Simulator(orgs=[empty, orgs[1]], token=TOKEN) as server:  # next to an org with work
        loader = Loader(server, tmp_path, destination, pipeline_name="with_work", dataset_name="with_work")
        pipeline, _ = loader.run(resources=LOADED)
        assert create_views(pipeline) == DIRECTORY_VIEWS + WF_VIEWS + TAG_ACTIVITY
        got = assert_workflow_views(loader, [empty, orgs[1]])
    for view, rows in got.items():
        mine = {k: r for k, r in rows.items() if k[0] == empty_id}
        if view == "member_workload":  # every member, with nothing to do
            assert len(mine) == 5 and all(r["open_tasks"] == r["tasks_completed"] == 0
                                          and r["on_time_rate"] is None for r in mine.values())
        else:
            assert mine == {}, view


def test_the_workflow_views_are_part_of_every_load():
    assert [v.name for v in VIEWS] == DIRECTORY_VIEWS + WF_VIEWS + TAG_ACTIVITY
    assert [v.name for v in WORKFLOW_VIEWS] == WF_VIEWS
    for view in WORKFLOW_VIEWS:
        for table in view.optional:  # a missing optional table stands in empty: its stub exists
            assert table in STUB_COLUMNS, (view.name, table)


def test_tallyfy_load_lists_and_creates_the_workflow_views(orgs, tmp_path, capsys):
    """Through the command (DuckDB), as an analyst gets them: the views line names all eight."""
    db_path = tmp_path / "command.duckdb"
    with Simulator(orgs=orgs, token=TOKEN) as server:
        argv = [arg for org_id in server.org_ids for arg in ("--org", org_id)] + [
            "--base-url", server.base_url, "--access-token", TOKEN, "--requests-per-minute", "100000",
            "--resources", ",".join(LOADED), "--duckdb-file", str(db_path),
            "--pipelines-dir", str(tmp_path / "command_pipelines")]
        assert main(argv) == 0, capsys.readouterr().err
        assert f"views: {', '.join(DIRECTORY_VIEWS + WF_VIEWS + TAG_ACTIVITY)}" in capsys.readouterr().out.splitlines()
        loader = Loader(server, tmp_path, dlt.destinations.duckdb(credentials=str(db_path)))
        assert_workflow_views(loader, orgs)


def expected_tag_statistics_check(orgs) -> Dict[tuple, Dict[str, Any]]:
    """From the simulator's own tag links (not its statistics), and its tags' served counts."""
    out = {}
    for org in orgs:
        templates, runs, _, _ = served(org)
        loaded = {}
        for kind, records, name in (("checklists", templates, "template"), ("runs", runs, "process")):
            for (link_kind, subject), links in org.tag_links.items():
                if link_kind != kind or subject not in records:
                    continue
                state = "archived" if records[subject]["is_archived"] else "active"
                for link in links:
                    counts = loaded.setdefault(link["tag_id"], {})
                    counts[f"{state}_{name}"] = counts.get(f"{state}_{name}", 0) + 1
        for tag in org.served("tags", ["statistics"], query={"all": "true"}):
            api = _unwrap(tag["statistics"])
            row = {"title": tag["title"]}
            for k, plural in (("active_template", "active_templates"), ("archived_template", "archived_templates"),
                              ("active_process", "active_processes"), ("archived_process", "archived_processes")):
                row[f"api_{plural}"] = api[k]
                row[f"loaded_{plural}"] = loaded.get(tag["id"], {}).get(k, 0)
                row[f"difference_{plural}"] = api[k] - row[f"loaded_{plural}"]
            row["agrees"] = all(v == 0 for c, v in row.items() if c.startswith("difference_"))
            out[(org.org_id, tag["id"])] = row
    return out


def test_tag_statistics_check_shows_the_apis_counts_beside_the_loaded_links(orgs, tmp_path, destination):
    """The API's counts agree with the loaded links, tag by tag; a count the server gets wrong
    shows as a difference on that tag alone (issue 19)."""
    tag = next(t for t in orgs[0].values("tags") if orgs[0].tag_statistics[t["id"]]["active_process"])
    orgs[0].set_tag_statistics(tag["id"], active_process=orgs[0].tag_statistics[tag["id"]]["active_process"] + 3)
    with Simulator(orgs=orgs, token=TOKEN) as server:
        loader = Loader(server, tmp_path, destination)
        pipeline, _ = loader.run(resources=LOADED)
        create_views(pipeline)
        rows = loader.table("tag_statistics_check")
    got = {(r["org_id"], r["tag_id"]): {k: v for k, v in r.items() if k not in ("org_id", "tag_id")} for r in rows}
    assert got == expected_tag_statistics_check(orgs)
    wrong = [k for k, r in got.items() if not r["agrees"]]
    assert wrong == [(ORG_A, tag["id"])] and got[wrong[0]]["difference_active_processes"] == 3
    assert sum(r["loaded_active_processes"] for r in got.values()) > 0


def test_tag_usage_counts_running_processes_beside_tallyfys_active_ones(orgs, tmp_path, destination):
    """Tallyfy's "active" means not archived, so a completed process still counts as active;
    `running_processes` counts the tagged processes neither completed nor archived, from the
    loaded processes and their tag links (issue 19)."""
    with Simulator(orgs=orgs, token=TOKEN) as server:
        loader = Loader(server, tmp_path, destination)
        pipeline, _ = loader.run(resources=LOADED)
        create_views(pipeline)
        got = {(r["org_id"], r["tag_id"]): r for r in loader.table("tag_usage")}
    want = {}
    for org in orgs:
        _, runs, _, _ = served(org)
        running = {}
        for run in runs.values():
            if not run["is_archived"] and run["status"] != "complete":
                for tag in {t["tag_id"] for t in org.tag_links.get(("runs", run["id"]), ())}:
                    running[tag] = running.get(tag, 0) + 1
        for tag in org.served("tags"):
            want[(org.org_id, tag["id"])] = running.get(tag["id"], 0)
    assert {key: row["running_processes"] for key, row in got.items()} == want
    assert any(want.values()) and any(not v for v in want.values())
    # a completed, not archived, tagged process: active for Tallyfy, not running
    assert any(row["active_processes"] > row["running_processes"] for row in got.values())
