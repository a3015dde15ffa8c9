"""The simulator's workflow endpoints over real HTTP: templates, processes, tasks, comments and
the activity feed from one consistent org; paging and envelopes like the directory, includes,
archived readings, feed filters and switches, mutations and their feed events, the oracle."""

import time
from collections import Counter

import pytest

from tallyfy_source.simulator import Simulator, SyntheticOrg, parse_ts
from tests.simulator.support import all_rows, get

SIZES = dict(members=40, groups=12, tags=30, guests=10, templates=15, processes=80, oneoff_tasks=20)
DEFAULT_PAGE = {"checklists": 10, "runs": 10, "tasks": 10, "activity-feeds": 20}
RESOURCE = {"checklists": "checklists", "runs": "runs", "tasks": "tasks", "activity-feeds": "activity"}


@pytest.fixture(scope="module")
def org():
    return SyntheticOrg.generate(seed=5, **SIZES)


@pytest.fixture(scope="module")
def sim(org):
    with Simulator(org, token="sim-token-wf") as s:
        yield s


@pytest.fixture
def fresh():
    o = SyntheticOrg.generate(seed=9, members=20, groups=6, tags=15, guests=6, templates=4, processes=20,
                              oneoff_tasks=5)
    with Simulator(o, token="sim-token-wf-fresh") as s:
        yield s, o


def ids(rows):
    return [r["id"] for r in rows]


def one(sim, org, path, raw=""):
    r = get(sim, org.org_id, path, raw)
    assert r.status_code == 200, r.text
    return r.json()


def a_run_with_comments(org):
    with org.lock:
        return next(t["run_id"] for t in org.values("tasks") if t["run_id"] and org.threads.get(t["id"]))


# ------------------------------------------------------------------ paging and envelopes
@pytest.mark.parametrize("path", list(DEFAULT_PAGE))
def test_each_workflow_list_pages_like_the_directory(sim, org, path):
    body = one(sim, org, path)
    meta = body["meta"]["pagination"]
    assert meta["per_page"] == DEFAULT_PAGE[path] and len(body["data"]) == DEFAULT_PAGE[path]
    assert meta["total"] == len(org.served(RESOURCE[path])) and "next" in meta["links"]
    assert one(sim, org, path, "per_page=500")["meta"]["pagination"]["per_page"] == 100
    last = one(sim, org, path, f"per_page=7&page={-(-meta['total'] // 7)}")["meta"]["pagination"]
    assert last["links"] == [] and last["count"] == meta["total"] - 7 * (last["total_pages"] - 1)
    walked, page = [], 1
    while True:
        b = one(sim, org, path, f"per_page=7&page={page}")
        walked += b["data"]
        if b["meta"]["pagination"]["links"] == []:
            break
        page += 1
    assert walked == org.served(RESOURCE[path])  # the oracle: same rows, same order, same fields


def test_nested_run_tasks_page_by_position_and_unknown_run_is_404(sim, org):
    run_id = a_run_with_comments(org)
    rows = all_rows(sim, org.org_id, f"runs/{run_id}/tasks")
    assert [r["position"] for r in rows] == sorted(r["position"] for r in rows)
    assert rows == org.served("tasks", run_id=run_id)
    assert one(sim, org, f"runs/{run_id}/tasks")["meta"]["pagination"]["per_page"] == 10
    r = get(sim, org.org_id, "runs/" + "0" * 32 + "/tasks")
    assert r.status_code == 404 and r.json()["code"] == "RESOURCE_NOT_FOUND"
    assert get(sim, org.org_id, "runs/" + "0" * 32).status_code == 404


def test_template_fields_includes_and_single_read(sim, org):
    row = one(sim, org, "checklists", "with=steps,tags&per_page=100")["data"][0]
    for f in ("id", "title", "summary", "starred", "type", "status", "owner_id", "created_by", "steps_count",
              "is_pinned", "created_at", "last_updated"):
        assert f in row
    assert "prerun" not in row and "archived_at" not in row  # the list page shows no archived_at
    assert set(row["steps"]) == {"data"} and len(row["steps"]["data"]) == row["steps_count"]
    assert {"id", "title", "position"} <= set(row["steps"]["data"][0])
    assert set(row["tags"]) == {"data"}
    single = one(sim, org, f"checklists/{row['id']}", "with=steps,tags")["data"]
    assert {"prerun", "automated_actions", "archived_at"} <= set(single)
    assert isinstance(single["steps"], list) and isinstance(single["tags"], list)  # get-template: bare
    assert all({"id", "alias", "label", "field_type"} <= set(f) for f in single["prerun"])
    assert single == org.served_item("checklists", row["id"], ["steps", "tags"])
    tagged = [c for c in org.served("checklists", ["tags"], query={"archived": "true"}) if c["tags"]["data"]]
    assert tagged and all({"id", "title", "color"} == set(t) for c in tagged for t in c["tags"]["data"])
    links = [c for c in org.served("checklists", ["tags"], query={"archived": "true"}, template_tags="links")
             if c["tags"]["data"]]
    assert links and all({"id", "tag_id"} == set(t) for c in links for t in c["tags"]["data"])


def test_default_orders(sim, org):
    templates = all_rows(sim, org.org_id, "checklists")
    keys = [(t["is_pinned"], parse_ts(t["last_updated"])) for t in templates]
    assert keys == sorted(keys, reverse=True)
    runs = all_rows(sim, org.org_id, "runs")
    created = [parse_ts(r["created_at"]) for r in runs]
    assert created == sorted(created, reverse=True)
    feed = all_rows(sim, org.org_id, "activity-feeds")
    assert ids(feed) == sorted(ids(feed), reverse=True) and all(isinstance(i, int) for i in ids(feed))
    times = [parse_ts(e["created_at"]) for e in feed]
    assert times == sorted(times, reverse=True)  # ids increase with time


def test_one_run_read_returns_all_tasks_comments_and_answers(sim, org):
    run_id = a_run_with_comments(org)
    r = get(sim, org.org_id, f"runs/{run_id}", "with=tasks,tags,tasks.threads,tasks.tags&form_fields_values=true")
    run = r.json()["data"]
    tasks = run["tasks"]["data"]
    assert ids(tasks) == ids(org.served("tasks", run_id=run_id)) and len(tasks) == run["progress"]["total"]
    assert sum(len(t["threads"]["data"]) for t in tasks) == sum(len(org.threads.get(t["id"], [])) for t in tasks) > 0
    assert all(set(t) >= {"threads", "tags", "form_fields"} for t in tasks)
    comment = next(c for t in tasks for c in t["threads"]["data"])
    assert {"id", "content", "author_id", "author_type", "task_id", "label", "state", "created_at", "updated_at",
            "archived_at"} <= set(comment)
    assert run == org.served_item("runs", run_id, ["tasks", "tags", "tasks.threads", "tasks.tags"],
                                  query={"form_fields_values": "true"})
    answers = [f for t in tasks for f in t["form_fields"]["data"]]
    assert all({"id", "label", "field_type", "value"} == set(f) for f in answers)


def test_run_and_task_fields_per_the_facts(sim, org):
    run = one(sim, org, "runs")["data"][0]
    for f in ("id", "increment_id", "checklist_id", "checklist_title", "name", "status", "progress", "started_by",
              "owner_id", "prerun", "prerun_status", "created_at", "started_at", "last_updated", "archived_at",
              "completed_at", "due_date", "due_date_passed", "late_tasks", "has_open_issue", "parent_id",
              "max_task_deadline"):
        assert f in run
    assert set(run["progress"]) == {"complete", "total", "percent"}
    task = one(sim, org, "tasks")["data"][0]
    for f in ("id", "increment_id", "title", "run_id", "checklist_id", "step_id", "alias", "status", "status_label",
              "task_type", "position", "is_oneoff_task", "owners", "deadline", "started_at", "created_at",
              "last_updated", "completed_at", "completer_id", "starter_id", "archived_at", "problem", "is_approved",
              "run_status"):
        assert f in task
    tasks = org.served("tasks")
    oneoffs = [t for t in tasks if t["is_oneoff_task"]]
    assert oneoffs and all(t["run_id"] is None for t in oneoffs)
    kinds = {type(v).__name__ for r in org.served("runs") for v in r["prerun"].values()}
    assert {"str", "dict", "list"} <= kinds and kinds & {"int", "float"}


def test_lifecycles_are_realistic(org):
    runs = org.served("runs", query={"archived": "true"})
    status = Counter(r["status"] for r in runs)
    assert status["complete"] and status["active"] + status["delayed"] and (status["problem"] or any(
        r["has_open_issue"] for r in runs))
    assert any(r["archived_at"] for r in runs) and any(r["late_tasks"] for r in runs)
    assert any(r["due_date_passed"] for r in runs)
    labels = Counter(c["label"] for cs in org.threads.values() for c in cs)
    assert {"comment", "problem", "resolve"} <= set(labels)
    for r in runs:  # derived fields agree with the tasks
        tasks = org.served("tasks", run_id=r["id"])
        assert r["progress"]["complete"] == sum(t["status"] == "completed" for t in tasks)
        assert (r["status"] == "complete") == all(t["status"] == "completed" for t in tasks)


def test_owners_name_only_members_guests_and_groups_that_exist(org):
    members = {m["id"] for m in org.members}
    guests = {g["email"] for g in org.guests}
    groups = {g["id"] for g in org.groups}
    tasks = org.served("tasks", query={"archived": "true"}, task_owners="ids")
    assert all({"id", "full_name"} == set(u) for t in org.served("tasks") for u in t["owners"]["users"])
    seen = Counter()
    for t in tasks:
        o = t["owners"]
        assert set(o["users"]) <= members and set(o["guests"]) <= guests and set(o["groups"]) <= groups
        seen.update(k for k in o if o[k])
    assert seen["users"] and seen["guests"] and seen["groups"]


def _links(sim, org):
    counts = Counter()
    for path, kind in (("checklists", "template"), ("runs", "process")):
        for query, state in (("archived=only&with=tags", "archived"), ("with=tags", "active")):
            for rec in all_rows(sim, org.org_id, path, query):  # archived known from the walk
                counts.update(f"{t.get('tag_id', t['id'])}:{state}_{kind}" for t in rec["tags"]["data"])
    return counts


def _statistics(sim, org):
    counts = Counter()
    for t in all_rows(sim, org.org_id, "tags", "all=true&with=statistics"):
        counts.update({f"{t['id']}:{k}": v for k, v in t["statistics"]["data"].items() if v})
    return counts


def test_tag_statistics_equal_the_links(sim, org):
    assert _links(sim, org) == _statistics(sim, org) and sum(_links(sim, org).values()) > 0


def test_no_workflow_leaves_the_directory_and_statistics_as_drawn():
    plain, busy = SyntheticOrg.generate(seed=5), SyntheticOrg.generate(seed=5, templates=3, processes=10)
    for resource in ("members", "groups", "tags", "guests"):
        assert plain.served(resource) == busy.served(resource)
    assert plain.served("runs") == [] and plain.served("activity") == []
    assert plain.tag_statistics != busy.tag_statistics


# ------------------------------------------------------------------ filters, archived readings, sorting
def test_archived_readings(fresh):
    s, o = fresh
    run = o.served("runs")[0]
    o.archive_process(run["id"])
    everything = o.served("runs", query={"archived": "true"})
    archived = [r for r in everything if r["archived_at"]]
    active = [r for r in everything if not r["archived_at"]]
    assert archived and active
    archived_templates = {t["id"] for t in o.records("checklists") if t["archived_at"]}
    for path in ("runs", "checklists", "tasks"):
        for query in ("", "archived=false"):
            rows = all_rows(s, o.org_id, path, query)
            assert all(r.get("archived_at") is None and r["id"] not in archived_templates for r in rows)
    assert ids(all_rows(s, o.org_id, "runs", "archived=only")) == ids(archived)
    assert ids(all_rows(s, o.org_id, "runs", "archived=true")) == ids(everything)
    s.archived_reading = "only"
    assert ids(all_rows(s, o.org_id, "runs", "archived=true")) == ids(archived)
    assert ids(all_rows(s, o.org_id, "runs", "archived=only")) == ids(archived)
    assert ids(all_rows(s, o.org_id, "runs")) == ids(active)
    assert o.served("runs", query={"archived": "true"}, archived_reading="only") == archived
    assert ids(all_rows(s, o.org_id, "runs", "status=archived")) == ids(archived)


def test_sorting_and_honour_sort(fresh):
    s, o = fresh
    asc = all_rows(s, o.org_id, "runs", "sort=created_at")
    assert ids(asc) == ids(o.served("runs"))[::-1]
    by_update = all_rows(s, o.org_id, "runs", "sort=-last_updated")
    stamps = [parse_ts(r["last_updated"]) for r in by_update]
    assert stamps == sorted(stamps, reverse=True) and ids(by_update) != ids(o.served("runs"))
    newest = all_rows(s, o.org_id, "tasks", "sort=newest")
    created = [parse_ts(t["created_at"]) for t in newest]
    assert created == sorted(created, reverse=True)
    s.honour_sort = False
    assert ids(all_rows(s, o.org_id, "runs", "sort=-last_updated")) == ids(o.served("runs"))
    assert ids(all_rows(s, o.org_id, "runs", "sort=created_at")) == ids(asc)  # documented: still honoured
    assert ids(all_rows(s, o.org_id, "checklists", "sort_by=updated")) == ids(o.served("checklists"))


def test_task_filters(sim, org):
    tasks = org.served("tasks")
    day = tasks[0]["created_at"][:10]
    assert ids(all_rows(sim, org.org_id, "tasks", f"created={day}")) == [
        t["id"] for t in tasks if t["created_at"][:10] == day]
    assert ids(all_rows(sim, org.org_id, "tasks", "status=completed")) == [
        t["id"] for t in tasks if t["status"] == "completed"]
    assert ids(all_rows(sim, org.org_id, "tasks", "is_oneoff=true")) == [t["id"] for t in tasks if t["is_oneoff_task"]]
    row = one(sim, org, "tasks", "with=tags,threads,form_fields")["data"][0]
    assert all(set(row[k]) == {"data"} for k in ("tags", "threads", "form_fields"))


def test_feed_day_filters_are_inclusive(sim, org):
    feed = org.served("activity")
    days = sorted({e["created_at"][:10] for e in feed})
    a, b = days[len(days) // 3], days[2 * len(days) // 3]
    got = all_rows(sim, org.org_id, "activity-feeds", f"created_after={a}&created_before={b}")
    assert ids(got) == [e["id"] for e in feed if a <= e["created_at"][:10] <= b]
    assert {e["created_at"][:10] for e in got} >= {a, b}  # both end days included, whole days
    only = all_rows(sim, org.org_id, "activity-feeds", f"created_after={a}&created_before={a}")
    assert only and {e["created_at"][:10] for e in only} == {a}
    verbs = all_rows(sim, org.org_id, "activity-feeds", "verb=completed&entity_type=task")
    assert verbs and all(e["verb"] == ["completed"] and e["auditable_type"] == "App\\Models\\Task" for e in verbs)
    assert one(sim, org, "activity-feeds", "type=Comment")["data"][0]["type"] == ["Comment"]
    assert all(e["actor_type"] == ["App\\Models\\User"]
               for e in all_rows(sim, org.org_id, "activity-feeds", "actor_type=user"))


# ------------------------------------------------------------------ mutations and their events
def bare(ev):
    """A documented feed event in the stored words: one-element lists as their element, PHP class
    names as their last part (`App\\Models\\Task` -> `Task`)."""
    out = {}
    for k, v in ev.items():
        if isinstance(v, list) and k != "actor":
            v = v[0] if v else None
        if isinstance(v, str) and v.startswith("App\\Models\\"):
            v = v.rsplit("\\", 1)[1]
        out[k] = v
    return out


def _newest_event(s, o):
    return bare(one(s, o, "activity-feeds", "per_page=1")["data"][0])


def _pick_open_task(o):
    return next(t for t in o.served("tasks") if t["run_id"] and t["status"] != "completed")


def _check(s, o, path, rec_id, before, event, verb, auditable_type):
    """The record's update time moved past `before`, and the newest event tells the change."""
    rec = one(s, o, f"{path}/{rec_id}")["data"]
    assert parse_ts(rec["last_updated"]) > before
    assert event["verb"] == verb and event["auditable_type"] == auditable_type
    assert parse_ts(event["created_at"]) == o.now
    return rec


def test_task_mutations_write_events_and_bump_task_and_process(fresh):
    s, o = fresh
    task = _pick_open_task(o)
    run_before = parse_ts(one(s, o, f"runs/{task['run_id']}")["data"]["last_updated"])
    member, group = o.members[0]["id"], o.groups[0]["id"]
    guest = o.guests[0]["email"]
    steps = [
        (lambda: o.complete_task(task["id"], by=member), "completed", "Task", task["id"]),
        (lambda: o.reopen_task(task["id"]), "re-opened", "Task", task["id"]),
        (lambda: o.reassign_task(task["id"], users=[member], guests=[guest], groups=[group]),
         "owners-updated", "Task", task["id"]),
        (lambda: o.comment_on_task(task["id"], "hi", label="advice"), "commented", "Thread", None),
        (lambda: o.comment_on_task(task["id"], "stuck", label="problem"), "issue-reported", "Thread", None),
        (lambda: o.comment_on_task(task["id"], "fixed", label="resolve"), "issue-resolved", "Thread", None),
    ]
    for change, verb, auditable, auditable_id in steps:
        before = parse_ts(one(s, o, f"tasks/{task['id']}")["data"]["last_updated"])
        n = len(o.served("activity"))
        change()
        ev = _newest_event(s, o)
        _check(s, o, "tasks", task["id"], before, ev, verb, auditable)
        assert auditable_id is None or ev["auditable_id"] == auditable_id
        assert len(o.served("activity")) == n + 1
        run = one(s, o, f"runs/{task['run_id']}")["data"]
        assert parse_ts(run["last_updated"]) > run_before
        run_before = parse_ts(run["last_updated"])
    t = one(s, o, f"tasks/{task['id']}", "with=threads")["data"]
    assert t["owners"] == {"users": [member], "guests": [guest], "groups": [group]}
    assert [c["label"] for c in t["threads"]["data"]][-3:] == ["advice", "problem", "resolve"]
    assert t["threads"]["data"][-2]["state"] == "resolved" and t["problem"] is False


def test_problem_comment_opens_an_issue_on_the_process(fresh):
    s, o = fresh
    task = _pick_open_task(o)
    o.comment_on_task(task["id"], "blocked", label="problem")
    run = one(s, o, f"runs/{task['run_id']}")["data"]
    assert run["has_open_issue"] and run["status"] == "problem"
    assert one(s, o, f"tasks/{task['id']}")["data"]["problem"] is True
    assert task["id"] in ids(all_rows(s, o.org_id, "tasks", "status=hasproblem"))


def test_completing_every_task_completes_the_process(fresh):
    s, o = fresh
    run = next(r for r in o.served("runs") if r["status"] != "complete")
    for t in o.served("tasks", run_id=run["id"]):
        if t["status"] != "completed":
            o.complete_task(t["id"])
    got = one(s, o, f"runs/{run['id']}")["data"]
    assert got["status"] == "complete" and got["completed_at"] and got["progress"]["percent"] == 100
    ev = _newest_event(s, o)
    assert (ev["verb"], ev["type"], ev["auditable_id"]) == ("completed", "Process", run["id"])


def test_retag_keeps_statistics_equal_to_links(fresh):
    s, o = fresh
    tag = next(t for t in o.tags if not t["auto_generated"])
    tmpl, run, task = o.served("checklists")[0], o.served("runs")[0], o.served("tasks")[0]
    for kind, rec, path in (("template", tmpl, "checklists"), ("process", run, "runs"), ("task", task, "tasks")):
        present = any(r["tag_id"] == tag["id"] for r in o.tag_links.get(({"template": "checklists",
                                                                           "process": "runs"}.get(kind, "tasks"),
                                                                          rec["id"]), ()))
        before = parse_ts(one(s, o, f"{path}/{rec['id']}")["data"]["last_updated"])
        o.retag(kind, rec["id"], tag["id"], add=not present)
        ev = _newest_event(s, o)
        auditable = {"template": "Checklist", "process": "Run"}.get(kind, "Task")
        _check(s, o, path, rec["id"], before, ev, "updated", auditable)
        assert ev["type"] == "Tag" and ev["field"] == "tags"
        shown = one(s, o, f"{path}/{rec['id']}", "with=tags")["data"]["tags"]
        shown = shown["data"] if isinstance(shown, dict) else shown  # get-template: bare plain tags
        assert (tag["id"] in [r.get("tag_id", r["id"]) for r in shown]) == (not present)
        assert _links(s, o) == _statistics(s, o)
    o.archive_process(run["id"])
    o.archive_template(tmpl["id"])
    assert _links(s, o) == _statistics(s, o)
    o.delete_process(run["id"])
    o.delete_template(tmpl["id"])
    assert _links(s, o) == _statistics(s, o)


def test_archive_unarchive_and_delete_process(fresh):
    s, o = fresh
    run = o.served("runs")[0]
    tasks = o.served("tasks", run_id=run["id"])
    o.archive_process(run["id"])
    assert _newest_event(s, o)["verb"] == "archived"
    assert run["id"] not in ids(all_rows(s, o.org_id, "runs"))
    assert run["id"] in ids(all_rows(s, o.org_id, "runs", "archived=only"))
    assert all(t["archived_at"] for t in all_rows(s, o.org_id, f"runs/{run['id']}/tasks"))
    o.unarchive_process(run["id"])
    assert _newest_event(s, o)["verb"] == "unarchived" and run["id"] in ids(all_rows(s, o.org_id, "runs"))
    o.delete_process(run["id"])
    ev = _newest_event(s, o)
    assert (ev["verb"], ev["auditable_id"]) == ("deleted", run["id"])
    assert get(s, o.org_id, f"runs/{run['id']}").status_code == 404
    assert all(get(s, o.org_id, f"tasks/{t['id']}").status_code == 404 for t in tasks)
    assert not set(ids(tasks)) & set(ids(all_rows(s, o.org_id, "tasks", "archived=true")))
    assert not any(o.threads.get(t["id"]) for t in tasks)


def test_template_mutations(fresh):
    s, o = fresh
    tmpl = o.served("checklists")[0]
    before = parse_ts(tmpl["last_updated"])
    o.edit_template(tmpl["id"], title="Renamed")
    ev = _newest_event(s, o)
    got = _check(s, o, "checklists", tmpl["id"], before, ev, "updated", "Checklist")
    assert got["title"] == "Renamed" and ev["field"] == "title" and ev["old_value"] == tmpl["title"]
    run = o.launch_process(tmpl["id"], name="Launched now")
    ev = _newest_event(s, o)
    assert (ev["verb"], ev["auditable_id"]) == ("created", run["id"])
    assert one(s, o, "runs", "per_page=1")["data"][0]["id"] == run["id"]  # newest first
    assert len(all_rows(s, o.org_id, f"runs/{run['id']}/tasks")) == tmpl["steps_count"]
    o.archive_template(tmpl["id"])
    assert _newest_event(s, o)["verb"] == "archived"
    assert tmpl["id"] in ids(all_rows(s, o.org_id, "checklists", "archived=only"))
    o.delete_template(tmpl["id"])
    assert _newest_event(s, o)["verb"] == "deleted"
    assert get(s, o.org_id, f"checklists/{tmpl['id']}").status_code == 404
    assert one(s, o, f"runs/{run['id']}")["data"]["checklist_id"] == tmpl["id"]  # processes stay


def test_add_oneoff_task(fresh):
    s, o = fresh
    task = o.add_oneoff_task("Ring the bell")
    ev = _newest_event(s, o)
    assert (ev["verb"], ev["auditable_id"], ev["type"]) == ("created", task["id"], "Task")
    got = one(s, o, f"tasks/{task['id']}")["data"]
    assert got["is_oneoff_task"] and got["run_id"] is None and got["title"] == "Ring the bell"
    assert task["id"] in ids(all_rows(s, o.org_id, "tasks", "is_oneoff=true"))


def test_feed_lag_hides_events_until_the_clock_moves_on(fresh):
    s, o = fresh
    s.feed_lag_seconds = 30
    task = _pick_open_task(o)
    o.complete_task(task["id"])
    newest = _newest_event(s, o)
    assert newest["auditable_id"] != task["id"] or newest["verb"] != "completed"
    assert bare(o.served("activity", feed_lag_seconds=30)[0]) == newest
    o.tick(30)
    ev = _newest_event(s, o)
    assert (ev["verb"], ev["auditable_id"]) == ("completed", task["id"])


def test_dropped_event_is_missing_but_the_change_is_made(fresh):
    s, o = fresh
    task = _pick_open_task(o)
    n = len(o.served("activity"))
    s.drop_next_event()
    o.complete_task(task["id"])
    assert len(o.served("activity")) == n and _newest_event(s, o)["auditable_id"] != task["id"]
    assert one(s, o, f"tasks/{task['id']}")["data"]["status"] == "completed"
    o.reopen_task(task["id"])
    ev = _newest_event(s, o)
    assert (ev["verb"], ev["auditable_id"]) == ("re-opened", task["id"])


def test_update_field_spelling_switch_applies(fresh):
    s, o = fresh
    s.update_field_name = "last_updated"
    for path in ("checklists", "runs", "tasks"):
        row = one(s, o, path)["data"][0]
        assert "last_updated" in row and "updated_at" not in row
    run = o.served("runs")[0]["id"]
    nested = one(s, o, f"runs/{run}", "with=tasks")["data"]["tasks"]["data"][0]
    assert "last_updated" in nested and "updated_at" not in nested


# ------------------------------------------------------------------ determinism and size
def test_same_seed_same_org():
    a = SyntheticOrg.generate(seed=11, **SIZES)
    b = SyntheticOrg.generate(seed=11, **SIZES)
    assert a == b and a.served("activity") == b.served("activity")
    assert SyntheticOrg.generate(seed=12, **SIZES) != a


def test_demo_size_generates_in_seconds():
    started = time.perf_counter()
    o = SyntheticOrg.generate(seed=1, templates=40, processes=600, oneoff_tasks=300)
    took = time.perf_counter() - started
    print(f"demo-size workflow generated in {took:.2f}s")
    assert o.count("checklists") == 40 and o.count("runs") == 600
    assert 5000 <= o.count("tasks") <= 8000 and o.count("activity") > o.count("runs")


def test_a_list_asked_again_follows_the_org_between_the_two_asks(fresh):
    """The simulator keeps a walk's selection between its pages (so it serves an org of any
    size in linear time); a change, a clock tick or a served switch between two asks must show."""
    s, o = fresh
    since = o.served("activity")[-1]["created_at"][:10]
    asks = [("activity-feeds", f"created_after={since}", "activity", {"created_after": since}),
            ("tasks", "status=incomplete", "tasks", {"status": "incomplete"})]

    def totals():
        return [one(s, o, path, f"per_page=7&page=2&{raw}")["meta"]["pagination"]["total"]
                for path, raw, _, _ in asks]

    before = totals()
    assert before == totals() == [len(o.served(resource, query=q)) for _, _, resource, q in asks]
    o.complete_task(_pick_open_task(o)["id"])
    after = totals()
    assert after == [len(o.served(resource, query=q)) for _, _, resource, q in asks]
    assert after[0] > before[0] and after[1] == before[1] - 1
    s.feed_lag_seconds = 3600
    assert totals()[0] < after[0]
