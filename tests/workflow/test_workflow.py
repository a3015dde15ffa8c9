"""Workflow data, first slice of issue 12: templates, processes, tasks, comments and the activity
feed land exactly as the simulator serves them, after every kind of change, under both readings
of a truthy `archived`, on DuckDB and PostgreSQL.

Expected rows come from the simulator's oracle (`org.served(...)`, `served_item`) and are shaped
here, independently of the connector's code.
"""

import json
import math
from datetime import datetime, timedelta, timezone

import pytest

from tallyfy_source.shape.columns import COLUMNS

from pipelines.tallyfy_pipeline import main
from tallyfy_source.simulator import Simulator, SyntheticOrg, change_between
from tallyfy_source.simulator.faults import Fault, FaultPlan
from tests.conftest import TOKEN, Loader

ORG = "f00dfeed0000f00dfeed0000f00dfeed"
ORG_B = "beefcafe1111beefcafe1111beefcafe"
SIZE = dict(members=40, groups=6, tags=25, guests=8, templates=6, processes=30, oneoff_tasks=20)
WORKFLOW = ["templates", "processes", "tasks", "activity"]
START = "2025-01-01"  # before every generated event: the whole feed
TS_FIELDS = {"created_at", "updated_at", "last_updated", "archived_at", "completed_at", "started_at", "deadline",
             "due_date", "prerun_completed_at", "max_task_deadline"}


def _ts(value):
    if not isinstance(value, str):
        return value
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    parsed = datetime.fromisoformat(text.replace(" ", "T"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _unwrap(value):
    return value["data"] if isinstance(value, dict) and set(value) == {"data"} else value


def scalars(rec, org_id):
    """Root columns: scalar fields as served (times parsed), `last_updated` as `updated_at`,
    dicts of scalars flattened; lists and list-holding includes are child tables."""
    row = {"org_id": org_id}
    for key, value in rec.items():
        if key in ("prerun", "owners"):  # kick-off answers and assignees are child tables
            continue
        name = "updated_at" if key == "last_updated" else key
        if isinstance(value, dict) and set(value) != {"data"}:
            for sub, inner in value.items():
                row[f"{name}__{sub}"] = inner
        elif not isinstance(value, (list, dict)):
            row[name] = _ts(value) if key in TS_FIELDS else value
    return row


def both_walks(org, resource, include, reading):
    """Every record: the not-archived list and the archived-only list, whatever `reading`."""
    plain = org.served(resource, include, query={}, archived_reading=reading)
    archived = org.served(resource, include, query={"archived": "only"}, archived_reading=reading)
    for r in plain + archived:  # the documented template list carries no archived_at: nothing to compare
        if "archived_at" not in r:
            assert bool(org.get(resource, r["id"])["archived_at"]) == (r in archived)
        for f in ("owner_id", "created_by"):  # list-templates: owner ids as strings
            if isinstance(r.get(f), str) and r[f].isdigit():
                r[f] = int(r[f])
        if "owners" in r:  # list-org-tasks: owners.users as objects {id, full_name}
            r["owners"]["users"] = [u["id"] if isinstance(u, dict) else u for u in r["owners"]["users"]]
    assert all(r.get("archived_at") is None for r in plain)
    assert all(r["archived_at"] for r in archived if "archived_at" in r)
    # the walk that found a record says whether it is archived (`is_archived`)
    return [dict(r, is_archived=False) for r in plain] + [dict(r, is_archived=True) for r in archived]


def answer(value):
    """(value_text, value_json) as the README describes them."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, (str, int, float)):
        return str(value), None
    if isinstance(value, dict):
        return (str(value["text"]) if "text" in value else None), value
    texts = [str(v.get("text", v.get("name"))) for v in value if isinstance(v, dict)
             and (v.get("text") is not None or v.get("name") is not None)]
    return (", ".join(texts) or None), value


def kickoff_labels(org, template_id):
    """{field id: label} of the template as its single read serves it now ({} once deleted)."""
    template = org.served_item("checklists", template_id)
    return {f["id"]: f["label"] for f in template["prerun"]} if template else {}


def expected(org, reading="too"):
    """{table: sorted list of row tuples or dicts} the connector must load."""
    oid = org.org_id
    out = {"templates": {}, "processes": {}, "tasks": {}, "comments": {}}
    steps, ttags, answers, ptags, assignees, tasktags, fields = [], [], [], [], [], [], []
    for t in both_walks(org, "checklists", ["steps", "tags"], reading):
        out["templates"][t["id"]] = scalars(t, oid)
        for s in _unwrap(t["steps"]):
            steps.append((t["id"], s["id"], s["title"], s["position"], s["alias"], s["summary"], s["step_type"],
                          s["deadline"]["value"], s["deadline"]["unit"], json.dumps(s["owners"], sort_keys=True),
                          json.dumps(_unwrap(s["captures"]), sort_keys=True), _ts(s["created_at"])))
        ttags += [(t["id"], tag.get("tag_id", tag["id"])) for tag in _unwrap(t["tags"])]
    for p in both_walks(org, "runs", ["tags"], reading):
        row = scalars(p, oid)
        row["template_id"] = p["checklist_id"]
        out["processes"][p["id"]] = row
        labels = kickoff_labels(org, p["checklist_id"])
        for field_id, value in p["prerun"].items():
            text, raw = answer(value)
            answers.append((p["id"], field_id, labels.get(field_id), text, json.dumps(raw, sort_keys=True)))
        ptags += [(p["id"], tag["tag_id"]) for tag in _unwrap(p["tags"])]
    for t in both_walks(org, "tasks", ["tags", "threads", "form_fields"], reading):
        out["tasks"][t["id"]] = scalars(t, oid)
        owners = t["owners"]
        assignees += [(t["id"], "member", u, None, None) for u in owners["users"]]
        assignees += [(t["id"], "guest", None, g, None) for g in owners["guests"]]
        assignees += [(t["id"], "group", None, None, g) for g in owners["groups"]]
        tasktags += [(t["id"], tag["tag_id"]) for tag in _unwrap(t["tags"])]
        for f in _unwrap(t["form_fields"]):
            text, raw = answer(f["value"])
            fields.append((t["id"], f["id"], f["label"], f["field_type"], text, json.dumps(raw, sort_keys=True)))
        for c in _unwrap(t["threads"]):
            row = scalars(c, oid)
            row["process_id"] = t["run_id"]
            out["comments"][c["id"]] = row
    out.update({"templates__steps": sorted(steps), "templates__tags": sorted(ttags),
                "processes__kickoff_answers": sorted(answers, key=repr), "processes__tags": sorted(ptags),
                "tasks__assignees": sorted(assignees, key=repr), "tasks__tags": sorted(tasktags),
                "tasks__form_fields": sorted(fields, key=repr)})
    return out


def _json(text):
    return json.dumps(json.loads(text), sort_keys=True) if text is not None else "null"


def loaded_children(loader, org_id):
    existing = {t for (t,) in loader.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'tallyfy'")}

    def rows(child, columns):
        parent = child.split("__")[0]
        if child not in existing:  # dlt makes a child table with its first row
            return []
        return loader.rows(f"SELECT p.id, {columns} FROM tallyfy.{child} c JOIN tallyfy.{parent} p"
                           f" ON c._dlt_parent_id = p._dlt_id WHERE p.org_id = '{org_id}'")
    steps = [r[:9] + (_json(r[9]), _json(r[10]), r[11]) for r in rows(
        "templates__steps", "c.id, c.title, c.position, c.alias, c.summary, c.step_type, c.deadline__value,"
        " c.deadline__unit, c.owners_json, c.captures_json, c.created_at")]
    answers = [r[:4] + (_json(r[4]),) for r in rows(
        "processes__kickoff_answers", "c.field_id, c.label, c.value_text, c.value_json")]
    fields = [r[:5] + (_json(r[5]),) for r in rows(
        "tasks__form_fields", "c.field_id, c.label, c.field_type, c.value_text, c.value_json")]
    return {"templates__steps": sorted(steps), "templates__tags": sorted(rows("templates__tags", "c.tag_id")),
            "processes__kickoff_answers": sorted(answers, key=repr),
            "processes__tags": sorted(rows("processes__tags", "c.tag_id")),
            "tasks__assignees": sorted(rows("tasks__assignees", "c.kind, c.member_id, c.guest_email, c.group_id"),
                                       key=repr),
            "tasks__tags": sorted(rows("tasks__tags", "c.tag_id")),
            "tasks__form_fields": sorted(fields, key=repr)}


#: (table, what the simulator calls it, its list walk's includes)
ROOTS = (("templates", "checklists"), ("processes", "runs"), ("tasks", "tasks"))


def read_alone(org, table, key, row):
    """`row` as the connector loads a record it first read by itself (a single read, no list):
    fields the list serves and the single read does not are NULL until the next sweep
    (`tallyfy_source/unserved.py`)."""
    resource = dict(ROOTS)[table]
    listed = next((r for query in ({}, {"archived": "only"}) for r in org.served(resource, query=query)
                   if r["id"] == key), {})
    single = org.served_item(resource, key) or {}
    return {c: (None if c in set(listed) - set(single) else v) for c, v in row.items()}


def assert_workflow_equals_simulator(loader, org, reading="too", first_read_alone=None):
    """The workflow tables equal the simulator's lists; `first_read_alone` {table: keys}: records
    the connector first loaded from a single read (see `read_alone`)."""
    want = expected(org, reading)
    for table, keys in (first_read_alone or {}).items():
        for key in keys:
            want[table][key] = read_alone(org, table, key, want[table][key])
    for table in ("templates", "processes", "tasks", "comments"):
        got = {r["id"]: r for r in loader.table(table) if r["org_id"] == org.org_id}
        assert set(got) == set(want[table]), (table, sorted(set(want[table]) ^ set(got))[:5])
        for key, row in want[table].items():
            for column, value in row.items():
                assert got[key].get(column) == value, (table, key, column, got[key].get(column), value)
    children = loaded_children(loader, org.org_id)
    for table, rows in children.items():
        assert rows == want[table], table
    # no orphans: every child row belongs to a loaded root row
    for child in [c for c, rows in children.items() if rows]:
        parent = child.split("__")[0]
        assert loader.rows(f"SELECT count(*) FROM tallyfy.{child} c LEFT JOIN tallyfy.{parent} p"
                           " ON c._dlt_parent_id = p._dlt_id WHERE p._dlt_id IS NULL") == [(0,)], child


def expected_activity_row(event, org, shape="documented"):
    """The `activity` row of a stored (bare) event, by the README's rule, for the form served:
    the documented form names the actor's type by its class (`User`) and carries the actor's
    email and name; the bare form has neither."""
    row = scalars(event, org.org_id)
    if shape == "documented":
        member = org.member(event["actor_id"]) if event["actor_id"] is not None else None
        row.update(actor_type="User" if event["actor_id"] is not None else None, undoable=False,
                   actor_email=member["email"] if member else None, actor_name=member["full_name"] if member else None,
                   source="Member" if event["actor_id"] is not None else None)
    return row


def assert_activity_equals_simulator(loader, org, start=START, shape="documented"):
    stored = org.served("activity", query={"created_after": start}, feed_shape="bare")  # the stored form
    want = {e["id"]: e for e in stored}
    got = {r["id"]: r for r in loader.table("activity") if r["org_id"] == org.org_id}
    assert set(got) == set(want)
    for key, event in want.items():
        for column, value in expected_activity_row(event, org, shape).items():
            assert got[key][column] == value, (key, column, got[key][column], value)


def templates_with_answers(org, reading="too"):
    """Templates whose labels a full read asks for: those of processes with kick-off answers."""
    return {p["checklist_id"] for p in both_walks(org, "runs", [], reading) if p["prerun"]}


def pages(n):
    return max(1, math.ceil(n / 100))


def cursor_requests(org):
    """What a sweep asks for the newest event before it reads: the feed's first page, and its
    last page when it has more than one (a server ignoring `sort` serves the newest there)."""
    return 1 if pages(len(org.served("activity", query={}))) == 1 else 2


def walk_requests(org, resource, reading="too"):
    return (pages(len(org.served(resource, query={}, archived_reading=reading)))
            + pages(len(org.served(resource, query={"archived": "only"}, archived_reading=reading))))


@pytest.fixture
def sim():
    org = SyntheticOrg.generate(ORG, seed=3, **SIZE)
    with Simulator(orgs=[org], token=TOKEN) as server:
        yield server


# ------------------------------------------------------------------ full load
@pytest.mark.parametrize("reading", ["too", "only"])
def test_full_load_equals_the_simulator_for_every_table_at_pages_per_walk(sim, loader, reading):
    sim.archived_reading = reading
    org = sim.org
    assert any(t["archived_at"] for t in org.values("tasks")) and any(r["archived_at"] for r in org.values("runs"))
    loader.run(resources=WORKFLOW, activity_start_date=START)
    assert_workflow_equals_simulator(loader, org, reading)
    assert_activity_equals_simulator(loader, org)
    for resource in ("checklists", "runs", "tasks"):
        assert sim.request_count(resource=resource, kind="list") == walk_requests(org, resource, reading), resource
    # the feed's pages, plus its first and last pages once more for the newest event id: the cursor
    assert sim.request_count(resource="activity") == pages(len(org.served("activity", query={}))) + cursor_requests(org)
    # single reads: each template with kick-off answers once, for its labels; nothing to confirm
    labelled = templates_with_answers(org, reading)
    assert sim.request_count(kind="item") == sim.request_count(resource="checklists", kind="item") == len(labelled) > 0
    assert {r["path"].rsplit("/", 1)[-1] for r in sim.requests if r["kind"] == "item"} == labelled
    assert {r["query"].get("archived") for r in sim.requests if r["resource"] != "activity"} == {None, "only"}
    # a rerun with no change and a sweep due loads the same tables, again at pages per walk,
    # deleting nothing
    sim.reset_counts()
    loader.run(resources=WORKFLOW, sweep_interval_hours=0)
    assert_workflow_equals_simulator(loader, org, reading)
    assert sim.request_count(kind="item") == len(labelled)  # a sweep reads the labels again


def test_declared_types_and_timestamps(sim, duckdb_loader):
    duckdb_loader.run(resources=WORKFLOW, activity_start_date=START)
    types = dict(duckdb_loader.rows(
        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'tallyfy'"))
    for column in ("templates.updated_at", "templates.archived_at", "processes.due_date", "tasks.deadline",
                   "tasks.completed_at", "comments.created_at", "activity.created_at", "templates__steps.created_at"):
        assert types[column].startswith("TIMESTAMP"), column
    assert types["tasks.completer_id"] == "BIGINT" and types["tasks.id"] == "VARCHAR"
    assert types["processes.progress__percent"] == "BIGINT" and types["activity.id"] == "BIGINT"
    assert types["tasks__assignees.member_id"] == "BIGINT"
    assert not [c for c in types if "__v_" in c], "variant columns appeared"
    assert not [t for t in {c.split(".")[0] for c in types} if t.startswith(("comments__", "activity__"))]
    # the comments table has its own columns only, none of the tasks' (issue 16, defect 8)
    comments = {c.split(".", 1)[1] for c in types if c.startswith("comments.")}
    assert comments == set(COLUMNS["comments"]) | {"_tallyfy_deleted", "missing_since", "_dlt_load_id", "_dlt_id"}
    assert types["tasks.is_archived"] == types["processes.is_archived"] == types["templates.is_archived"] == "BOOLEAN"
    assert types["activity.actor_id"] == "BIGINT" and types["activity.undoable"] == "BOOLEAN"


# ------------------------------------------------------------------ changes
def make_changes(org):
    """One of each kind of upstream change; returns what a test may check by name."""
    tasks = [t for t in org.values("tasks") if t["archived_at"] is None]
    open_tasks = [t for t in tasks if t["status"] != "completed" and t["run_id"]]
    done = [t for t in tasks if t["status"] == "completed"]
    live_runs = [r for r in org.values("runs") if r["archived_at"] is None]
    org.complete_task(open_tasks[0]["id"])
    org.reopen_task(done[0]["id"])
    member = org.values("members")[0]["id"]
    org.reassign_task(open_tasks[1]["id"], users=[member], guests=[org.values("guests")[0]["email"]],
                      groups=[org.values("groups")[0]["id"]])
    org.comment_on_task(open_tasks[2]["id"], "A new remark", label="advice")
    tag = next(t for t in org.values("tags") if not t["auto_generated"])["id"]
    for kind, rec in (("runs", live_runs[0]), ("tasks", open_tasks[3])):
        if any(row["tag_id"] == tag for row in org.tag_links.get((kind, rec["id"]), ())):
            org.retag(kind, rec["id"], tag, add=False)
        else:
            org.retag(kind, rec["id"], tag)
    org.archive_process(live_runs[1]["id"])
    deleted = live_runs[2]
    deleted_tasks = [t["id"] for t in org._tasks_of(deleted["id"])]
    org.delete_process(deleted["id"])
    templates = org.values("checklists")
    org.edit_template(templates[0]["id"], title="Renamed template")
    org.retag("checklists", templates[0]["id"], tag, add=not any(
        row["tag_id"] == tag for row in org.tag_links.get(("checklists", templates[0]["id"]), ())))
    org.delete_template(templates[1]["id"])
    new = org.add_oneoff_task("Call the auditor")
    return {"deleted_run": deleted["id"], "deleted_tasks": deleted_tasks, "deleted_template": templates[1]["id"],
            "new_task": new["id"]}


@pytest.mark.parametrize("reading", ["too", "only"])
def test_every_kind_of_change_is_exact_after_the_next_run(sim, loader, reading):
    sim.archived_reading = reading
    org = sim.org
    loader.run(resources=WORKFLOW, activity_start_date=START)
    changed = make_changes(org)
    sim.reset_counts()
    loader.run(resources=WORKFLOW, sweep_interval_hours=0)  # the sweep (full read) path
    assert_workflow_equals_simulator(loader, org, reading)
    assert_activity_equals_simulator(loader, org)
    assert loader.rows(f"SELECT count(*) FROM tallyfy.processes WHERE id = '{changed['deleted_run']}'") == [(0,)]
    assert loader.rows(f"SELECT count(*) FROM tallyfy.templates WHERE id = '{changed['deleted_template']}'") == [(0,)]
    ids = ", ".join(f"'{t}'" for t in changed["deleted_tasks"])
    assert loader.rows(f"SELECT count(*) FROM tallyfy.comments WHERE task_id IN ({ids})") == [(0,)]
    # requests: the walks' pages, one single-record confirmation per deleted record, and the
    # labels of each template with kick-off answers (a deleted one answers 404 too)
    confirmations = 1 + 1 + len(changed["deleted_tasks"])
    labelled = templates_with_answers(org, reading)
    gone_labelled = {changed["deleted_template"]} & labelled
    assert sim.request_count(kind="item") == confirmations + len(labelled)
    assert sim.request_count(kind="item", status=404) == confirmations + len(gone_labelled)
    for resource in ("checklists", "runs", "tasks"):
        assert sim.request_count(resource=resource, kind="list") == walk_requests(org, resource, reading)


def test_flag_mode_keeps_deleted_records_with_their_child_rows(sim, duckdb_loader):
    org = sim.org
    loader = duckdb_loader
    run = next(r for r in org.values("runs") if r["prerun"] and r["archived_at"] is None)
    loader.run(resources=["processes"], deleted_records="flag")
    before = loader.rows(f"SELECT count(*) FROM tallyfy.processes__kickoff_answers c JOIN tallyfy.processes p"
                         f" ON c._dlt_parent_id = p._dlt_id WHERE p.id = '{run['id']}'")
    org.delete_process(run["id"])
    loader.run(resources=["processes"], deleted_records="flag")
    assert loader.rows(f"SELECT missing_since IS NOT NULL FROM tallyfy.processes WHERE id = '{run['id']}'") == [(True,)]
    after = loader.rows(f"SELECT count(*) FROM tallyfy.processes__kickoff_answers c JOIN tallyfy.processes p"
                        f" ON c._dlt_parent_id = p._dlt_id WHERE p.id = '{run['id']}'")
    assert after == before and before[0][0] > 0


def test_a_sweep_in_flag_mode_flags_a_deleted_processs_tasks_and_comments_whole(sim, loader):
    org = sim.org
    run = next(r for r in org.values("runs") if any(org.threads.get(t["id"]) for t in org._tasks_of(r["id"])))
    tasks = [t["id"] for t in org._tasks_of(run["id"])]
    comments = {c["id"]: c["content"] for t in tasks for c in org.threads.get(t, ())}
    loader.run(resources=WORKFLOW, activity_start_date=START, deleted_records="flag")
    org.delete_process(run["id"])
    loader.run(resources=WORKFLOW, deleted_records="flag", sweep_interval_hours=0)  # the sweep path
    ids = ", ".join(f"'{t}'" for t in tasks)
    assert loader.rows(f"SELECT count(*) FROM tallyfy.tasks WHERE id IN ({ids}) AND missing_since IS NOT NULL"
                       " AND title IS NOT NULL") == [(len(tasks),)]
    flagged = loader.rows(f"SELECT id, content FROM tallyfy.comments WHERE task_id IN ({ids})"
                          " AND missing_since IS NOT NULL")
    assert dict(flagged) == comments and comments
    live = loader.rows("SELECT count(*) FROM tallyfy.tasks WHERE missing_since IS NULL")
    assert live == [(org.count("tasks"),)]


def test_a_change_between_two_pages_never_deletes_a_live_record(sim, duckdb_loader):
    """Archiving a process while its tasks' walk reads moves them from the first walk (not
    archived) to the second: pages shift, a record is missing from both walks; the
    single-record check finds it, nothing live is deleted, the next run is exact."""
    org = sim.org
    loader = duckdb_loader
    loader.run(resources=["tasks"], per_page=10)
    first_page = org.served("tasks", query={})[:10]  # page 1 of the not-archived walk (deadline order)
    run = org.get("runs", next(t["run_id"] for t in first_page if t["run_id"]))
    sim.faults = FaultPlan([change_between("tasks", 2, lambda: org.archive_process(run["id"]))])
    # one page at a time: with pages in flight concurrently, which rows slide depends on timing
    loader.run(resources=["tasks"], per_page=10, sweep_interval_hours=0, concurrency=1)
    assert sim.faults.fired
    assert sum(r.missing for r in loader.reports) == 0
    assert sum(r.found_on_recheck for r in loader.reports) > 0  # rows slid onto read pages: asked for
    live = {t["id"] for t in org.values("tasks")}
    assert live <= {r[0] for r in loader.rows("SELECT id FROM tallyfy.tasks")}
    loader.run(resources=["tasks"], per_page=10, sweep_interval_hours=0)
    got = {r["id"]: r for r in loader.table("tasks")}
    assert set(got) == live
    assert all(got[t["id"]]["archived_at"] == _ts(t["archived_at"]) for t in org._tasks_of(run["id"]))


def activity_state(loader):
    return loader.pipeline().state["sources"]["tallyfy"]["resources"]["activity"]["orgs"][ORG]


def day_before(day):
    return (datetime.fromisoformat(day) - timedelta(days=1)).date().isoformat()


def test_activity_reads_new_events_newest_first_and_keeps_its_start(sim, duckdb_loader):
    org = sim.org
    loader = duckdb_loader
    loader.run(resources=["activity"])  # default start: 90 days before today
    state = activity_state(loader)
    today = datetime.now(timezone.utc).date()
    assert state["start"] == (today.fromordinal(today.toordinal() - 90)).isoformat()
    assert state["newest_id"] == max(e["id"] for e in org.served("activity", query={}))
    assert_activity_equals_simulator(loader, org, state["start"])
    org.comment_on_task(org.values("tasks")[0]["id"], "Seen in the feed")
    sim.reset_counts()
    loader.run(resources=["activity"])
    # between sweeps: one page, newest first, from the day before the newest event loaded
    assert [(r["query"].get("created_after"), r["query"].get("sort")) for r in sim.requests] == [
        (max(state["start"], day_before(state["newest_day"])), "-created_at")]
    assert_activity_equals_simulator(loader, org, state["start"])
    newest_day = max(e["created_at"] for e in org.served("activity", query={}))[:10]
    assert activity_state(loader)["newest_day"] == max(newest_day, state["start"])


def test_an_event_that_shows_up_late_is_loaded_by_the_next_sweep(sim, duckdb_loader):
    """The feed shows an event after newer ones (late): between sweeps the newest-first read
    stops at the newest id loaded and misses it; the next sweep reads from the day before the
    previous sweep's newest event, and loads it."""
    org, loader = sim.org, duckdb_loader
    loader.run(resources=["activity"], activity_start_date=START, per_page=5)
    task = org.values("tasks")[0]["id"]
    org.tick(86400)
    org.hold_next_events(1)
    org.comment_on_task(task, "Shows up late")
    org.tick(2 * 86400)
    for n in range(6):  # more than a page of newer events
        org.comment_on_task(task, f"Newer {n}")
    loader.run(resources=["activity"], per_page=5)
    [late] = org.release_held_events()  # it shows up now, behind newer events
    late_day = next(e["created_at"][:10] for e in org.served("activity", query={}) if e["id"] == late)
    assert activity_state(loader)["newest_day"] > day_before(late_day)  # not in the between-sweeps window
    sim.reset_counts()
    loader.run(resources=["activity"], per_page=5)
    assert sim.request_count(resource="activity") == 1
    assert loader.rows(f"SELECT count(*) FROM tallyfy.activity WHERE id = {late}") == [(0,)]
    loader.run(resources=["activity"], per_page=5, sweep=True)
    assert loader.rows(f"SELECT count(*) FROM tallyfy.activity WHERE id = {late}") == [(1,)]
    assert_activity_equals_simulator(loader, org)


# ------------------------------------------------------------------ failures, input, secrets
def test_one_orgs_failing_workflow_endpoint_is_one_line_and_the_other_org_loads(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "0.01")
    orgs = [SyntheticOrg.generate(ORG, seed=3, **SIZE), SyntheticOrg.generate(ORG_B, seed=4, **SIZE)]
    with Simulator(orgs=orgs, token=TOKEN) as server:
        server.faults = FaultPlan([Fault("status", status=502, org_id=ORG_B, resource="runs", times=None)])
        code = main(["--org", ORG, "--org", ORG_B, "--base-url", server.base_url, "--access-token", TOKEN,
                     "--resources", "templates,processes,tasks,comments", "--pipelines-dir", str(tmp_path / "pipelines"),
                     "--duckdb-file", str(tmp_path / "tallyfy_data.duckdb")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1
        assert len(err) == 1 and f"org {ORG_B} failed" in err[0] and "HTTP 502" in err[0], err
        loader = Loader(server, tmp_path, pipeline_name="tallyfy")
        counts = dict(loader.rows("SELECT org_id, count(*) FROM tallyfy.processes GROUP BY 1"))
        assert counts == {ORG: len(orgs[0].values("runs"))}
        tasks = dict(loader.rows("SELECT org_id, count(*) FROM tallyfy.tasks GROUP BY 1"))
        assert tasks == {o.org_id: len(o.values("tasks")) for o in orgs}


def test_an_unknown_resource_name_is_refused_before_any_request(sim, tmp_path, capsys):
    code = main(["--org", ORG, "--base-url", sim.base_url, "--access-token", TOKEN,
                 "--resources", "tasks,workflows", "--pipelines-dir", str(tmp_path / "p")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "unknown resource workflows" in err[0], err
    assert "comments" in err[0] and "activity" in err[0]
    assert sim.requests == []


def test_comments_alone_load_through_the_tasks_walk(sim, tmp_path, capsys):
    code = main(["--org", ORG, "--base-url", sim.base_url, "--access-token", TOKEN, "--resources", "comments",
                 "--pipelines-dir", str(tmp_path / "p"), "--duckdb-file", str(tmp_path / "c.duckdb")])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, captured.err
    assert "comments" in out and "tasks__assignees" in out
    # the tasks walk, and the feed's first and last pages for the cursor of the next (incremental) run
    assert {r["resource"] for r in sim.requests} == {"tasks", "activity"}
    assert sim.request_count(resource="activity") == cursor_requests(sim.org)


def test_the_token_never_lands_in_the_workflow_tables(sim, duckdb_loader):
    duckdb_loader.run(resources=WORKFLOW, activity_start_date=START)
    tables = [t for (t,) in duckdb_loader.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'tallyfy'")]
    for table in tables:
        columns = [c for (c,) in duckdb_loader.rows(
            f"SELECT column_name FROM information_schema.columns WHERE table_schema = 'tallyfy' AND table_name = '{table}'")]
        text = " || ".join(f"coalesce(CAST({c} AS VARCHAR), '')" for c in columns)
        assert duckdb_loader.rows(f"SELECT count(*) FROM tallyfy.{table} WHERE ({text}) LIKE '%{TOKEN}%'") == [(0,)]


def test_zone_less_timestamps_are_read_as_utc():
    from tallyfy_source.shape.rows import parse_timestamp

    assert parse_timestamp("2026-03-04 05:06:07") == datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    assert parse_timestamp("2026-03-04T05:06:07.000Z") == datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


def test_kickoff_field_labels_from_either_prerun_shape():
    from tallyfy_source.workflow.kickoff import field_labels

    fields = [{"id": "a1", "alias": "kickoff-1", "label": "Client", "field_type": "text"},
              {"id": "b2", "label": None}, {"label": "no id"}, "junk"]
    assert field_labels(fields) == {"a1": "Client"}
    assert field_labels({"data": fields}) == {"a1": "Client"}
    assert field_labels(None) == field_labels({"a1": "x"}) == {}


@pytest.mark.parametrize("sweep", [False, True])
def test_events_written_between_two_feed_pages_are_all_loaded(sim, duckdb_loader, sweep):
    """The feed is read newest first: an event written between two page requests pushes older
    events down a page (read twice, merged once) and is itself on a page already read; the
    newest id loaded stays below it, so the next run reads it. Nothing is lost either way."""
    org, loader = sim.org, duckdb_loader
    loader.run(resources=["activity"], activity_start_date=START, per_page=5)
    task = org.values("tasks")[0]["id"]
    for n in range(12):  # three pages of new events
        org.comment_on_task(task, f"Before the run {n}")
    mid = []
    sim.faults = FaultPlan([change_between("activity", 2, lambda: mid.append(org.comment_on_task(task, "Mid-walk")))])
    # one page at a time: with pages requested side by side, an event written between two of
    # them can push one event past both (the walk then reports rows moving; the next test)
    loader.run(resources=["activity"], per_page=5, sweep=sweep, concurrency=1)
    assert sim.faults.fired and mid
    mid_id = max(e["id"] for e in org.served("activity", query={}))
    # every event that existed when the walk began is loaded; none twice
    assert loader.rows("SELECT count(*), count(DISTINCT id) FROM tallyfy.activity") == [
        (len(org.served("activity", query={})) - 1,) * 2]
    assert loader.rows(f"SELECT count(*) FROM tallyfy.activity WHERE id = {mid_id}") == [(0,)]
    assert activity_state(loader)["newest_id"] < mid_id
    sim.faults = None
    loader.run(resources=["activity"], per_page=5)  # quiet: the mid-walk event comes in
    assert_activity_equals_simulator(loader, org)


def test_an_activity_sweep_that_saw_events_move_is_repeated_by_the_next_run(sim, duckdb_loader):
    """The sweep's walk sees the total change between pages: it stores nothing of its window,
    so the next run (no sweep forced) sweeps again and the table is exact."""
    org, loader = sim.org, duckdb_loader
    loader.run(resources=["activity"], activity_start_date=START, per_page=5)
    before = activity_state(loader)
    task = org.values("tasks")[0]["id"]
    sim.faults = FaultPlan([change_between("activity", 2, lambda: org.comment_on_task(task, "Mid-walk"))])
    loader.run(resources=["activity"], per_page=5, sweep=True)
    assert sim.faults.fired and not loader.reports[0].clean
    after = activity_state(loader)
    assert "last_sweep" not in after and after["newest_id"] == before["newest_id"]
    sim.faults = None
    loader.run(resources=["activity"], per_page=5)
    assert loader.reports[0].mode == "full" and activity_state(loader)["last_sweep"]
    assert_activity_equals_simulator(loader, org)


def test_every_child_table_joins_its_parent_by_org_and_id_without_dlt_keys(sim, duckdb_loader):
    """Child tables carry `org_id` and their parent's id (`template_id`, `process_id`, `task_id`,
    `group_id`), equal to what dlt's `_dlt_parent_id` join says, on every row (issue 19)."""
    from tallyfy_source.shape.columns import PARENT_KEYS
    duckdb_loader.run(resources=WORKFLOW + ["groups"], activity_start_date=START)
    tables = [t for (t,) in duckdb_loader.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'tallyfy' AND table_name LIKE '%\\_\\_%'"
        " ESCAPE '\\'")]
    assert {"groups__members", "templates__steps", "processes__tags", "tasks__assignees"} <= set(tables)
    for child in tables:
        parent = child.split("__")[0]
        key = PARENT_KEYS[parent]
        total, same = duckdb_loader.rows(
            f"SELECT count(*), count(*) FILTER (WHERE c.org_id = p.org_id AND c.{key} = p.id)"
            f" FROM tallyfy.{child} c JOIN tallyfy.{parent} p ON c._dlt_parent_id = p._dlt_id")[0]
        assert total > 0 and same == total, child
