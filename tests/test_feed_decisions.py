"""The workflow read decisions, proved one by one and fast (no dlt pipeline, no HTTP server):
where the feed read stops (`feed.feed_pages`), what an event says changed
(`workflow_incremental._note`, `WorkflowFeed._read`), when a single read proves a deletion
(`get_one`), and when a template's kick-off labels are trusted or read again
(`kickoff.KickoffLabels`). Pages come from the scripted client of tests/test_read_decisions.py.
`make mutate` runs mutmut over these modules with these tests (see the README).
"""

from typing import Any, Dict, List, Optional

import pytest

from tallyfy_source import workflow_incremental
from tallyfy_source.errors import TallyfyAPIError
from tallyfy_source.feed import event_id, feed_pages
from tallyfy_source.kickoff import KickoffLabels, field_labels
from tallyfy_source.reading import ReadOptions, ReadReport
from tallyfy_source.workflow import kickoff_answers, process_row
from tallyfy_source.workflow_incremental import Changes, WorkflowFeed, _note, get_one
from tallyfy_source.endpoints import TASKS, TEMPLATES
from tests.test_read_decisions import FakeResponse, ScriptedClient, page_body

PER_PAGE = 3
NOT_FOUND = {"code": "RESOURCE_NOT_FOUND", "message": "not found"}


def feed_client(pages: Dict[int, List[Any]], total: Optional[int] = None) -> ScriptedClient:
    """Feed pages as given (the sort asked for is not applied: the pages say the order)."""
    count = total if total is not None else sum(len(p) for p in pages.values())

    def answer(path, params):
        page = params.get("page", 1)
        return FakeResponse(body=page_body(pages.get(page, []), count, page, PER_PAGE),
                            path=f"/api/{path}")
    return ScriptedClient(answer)


def ev(i: Any, **extra: Any) -> Dict[str, Any]:
    return {"id": i, "created_at": "2026-11-01T10:00:00Z", **extra}


def read_feed(pages: Dict[int, List[Any]], stop_at: Optional[int]) -> tuple:
    client = feed_client(pages)
    got = [[e["id"] for e in page] for page in feed_pages(client, "o", "2026-10-31", PER_PAGE, stop_at)]
    return got, [params["page"] if "page" in params else 1 for _, params in client.asked]


# ------------------------------------------------------------------ where the feed read stops
NEWEST_FIRST = {1: [ev(9), ev(8), ev(7)], 2: [ev(6), ev(5), ev(4)], 3: [ev(3), ev(2), ev(1)]}


def test_the_feed_is_asked_newest_first_from_the_day():
    client = feed_client(NEWEST_FIRST)
    list(feed_pages(client, "o", "2026-10-31", PER_PAGE, None))
    path, params = client.asked[0]
    assert path == "organizations/o/activity-feeds"
    assert params["sort"] == "-created_at" and params["created_after"] == "2026-10-31"
    assert int(params["per_page"]) == PER_PAGE


@pytest.mark.parametrize("stop_at, pages", [(7, [1]), (6, [1, 2]), (5, [1, 2]), (4, [1, 2]), (3, [1, 2, 3]),
                                            (0, [1, 2, 3]), (None, [1, 2, 3]), (100, [1])])
def test_the_read_stops_after_the_page_that_reaches_the_newest_id_loaded(stop_at, pages):
    got, asked = read_feed(NEWEST_FIRST, stop_at)
    assert asked == pages
    assert got == [[e["id"] for e in NEWEST_FIRST[p]] for p in pages]  # the stop page is yielded whole


def test_a_page_not_newest_first_turns_the_early_stop_off():
    pages = {1: [ev(7), ev(8), ev(9)], 2: [ev(4), ev(5), ev(6)], 3: [ev(1), ev(2), ev(3)]}
    assert read_feed(pages, 8)[1] == [1, 2, 3]


def test_a_page_starting_above_the_previous_ones_end_turns_the_early_stop_off():
    pages = {1: [ev(10), ev(9), ev(5)], 2: [ev(8), ev(7), ev(6)], 3: [ev(4), ev(3), ev(2)], 4: [ev(1)]}
    assert read_feed(pages, 3)[1] == [1, 2, 3, 4]
    # continuing at or below where the previous page ended keeps it on
    pages = {1: [ev(10), ev(9), ev(7)], 2: [ev(7), ev(6), ev(5)], 3: [ev(4), ev(3), ev(2)], 4: [ev(1)]}
    assert read_feed(pages, 3)[1] == [1, 2, 3]


def test_once_off_the_early_stop_stays_off():
    pages = {1: [ev(8), ev(9), ev(7)], 2: [ev(6), ev(5), ev(4)], 3: [ev(3), ev(2), ev(1)]}
    assert read_feed(pages, 5)[1] == [1, 2, 3]


def test_events_without_a_readable_id_neither_order_nor_stop_the_read():
    pages = {1: [ev(9), ev(None), ev("x")], 2: [ev("junk"), ev(6), ev(5)], 3: [ev(3), ev(2), ev(1)]}
    assert read_feed(pages, 5)[1] == [1, 2]
    pages = {1: [ev(9), ev(8), ev(7)], 2: [ev(None), ev("x"), ev("y")], 3: [ev(3), ev(2), ev(1)], 4: [ev(0)]}
    assert read_feed(pages, 5)[1] == [1, 2, 3]  # a page without ids does not stop the read


@pytest.mark.parametrize("event, expected", [({"id": 7}, 7), ({"id": "12"}, 12), ({"id": None}, None),
                                             ({"id": "x"}, None), ({}, None), ("text", None), (None, None)])
def test_an_event_id_is_an_integer_or_none(event, expected):
    assert event_id(event) == expected


# ------------------------------------------------------------------ what an event names
def note(*events: Dict[str, Any]) -> tuple:
    changes, tasks = Changes(), {}
    for event in events:
        _note(event, changes, tasks)
    return changes, tasks


@pytest.mark.parametrize("kind", ["Run", "run", "Process", "PROCESS"])
def test_a_process_event_names_that_process(kind):
    changes, tasks = note({"auditable_type": kind, "auditable_id": "r1"})
    assert changes.processes == {"r1"} and not changes.templates and not tasks


@pytest.mark.parametrize("kind", ["Checklist", "Blueprint"])
def test_a_template_event_names_that_template(kind):
    assert note({"auditable_type": kind, "auditable_id": 55})[0].templates == {"55"}


def test_a_step_event_names_its_parent_template():
    changes, tasks = note({"auditable_type": "Step", "auditable_id": "s1", "parentable_type": "Checklist",
                           "parentable_id": "c1"})
    assert changes.templates == {"c1"} and not changes.processes and not tasks


def test_a_task_event_places_the_task_in_the_process_it_names():
    changes, tasks = note({"auditable_type": "Task", "auditable_id": "t1", "parentable_type": "Run",
                           "parentable_id": "r1"})
    assert tasks == {"t1": "r1"} and changes.processes == {"r1"}


def test_a_comment_event_names_its_task():
    changes, tasks = note({"auditable_type": "Thread", "auditable_id": "c9", "parentable_type": "Task",
                           "parentable_id": "t2"})
    assert tasks == {"t2": None} and not changes.processes


def test_a_later_event_without_a_process_keeps_the_process_an_earlier_one_named():
    named = {"auditable_type": "Task", "auditable_id": "t1", "parentable_type": "Run", "parentable_id": "r1"}
    bare = {"auditable_type": "Task", "auditable_id": "t1"}
    assert note(named, bare)[1] == {"t1": "r1"}
    assert note(bare, named)[1] == {"t1": "r1"}


def test_events_about_anything_else_or_without_an_id_change_nothing():
    changes, tasks = note({"auditable_type": "User", "auditable_id": 5}, {"auditable_type": "Run"},
                          {"auditable_type": None, "auditable_id": "x"}, {"auditable_type": "Tag", "auditable_id": "g"})
    assert not changes.processes and not changes.templates and not tasks


# ------------------------------------------------------------------ the feed read, placed
def feed_of(pages: Dict[int, List[Any]], answers: Dict[str, Any]) -> tuple:
    """A WorkflowFeed over scripted feed pages and single task reads (`answers`: task id ->
    its data, or None for a 404 naming it)."""
    def answer(path, params):
        if path.endswith("/activity-feeds"):
            page = params.get("page", 1)
            count = sum(len(p) for p in pages.values())
            return FakeResponse(body=page_body(pages.get(page, []), count, page, PER_PAGE), path=f"/api/{path}")
        key = path.rsplit("/", 1)[-1]
        if answers.get(key) is None:
            return FakeResponse(status=404, body=NOT_FOUND, path=f"/api/{path}")
        return FakeResponse(body={"data": answers[key]}, path=f"/api/{path}")
    client = ScriptedClient(answer)
    return WorkflowFeed(client, ReadOptions(per_page=PER_PAGE)), client


def task_event(i: int, task: str, run: Optional[str] = None) -> Dict[str, Any]:
    parent = {"parentable_type": "Run", "parentable_id": run} if run else {}
    return ev(i, auditable_type="Task", auditable_id=task, **parent)


def test_the_feed_read_places_every_task_and_reads_an_unplaced_one_once(monkeypatch):
    loaded = [{"id": "t2", "run_id": "r2"}, {"id": "t5", "run_id": None}]
    monkeypatch.setattr(workflow_incremental, "loaded_where",
                        lambda table, org, column, values, mode: [r for r in loaded if r["id"] in values])
    pages = {1: [task_event(16, "t1", "r1"), task_event(15, "t2"), task_event(14, "t3")],
             2: [task_event(13, "t4"), task_event(12, "t5"), task_event(11, "t6")],
             3: [task_event(10, "t0")]}
    feed, client = feed_of(pages, {"t3": {"id": "t3", "run_id": "r3"}, "t4": {"id": "t4", "run_id": None},
                                   "t5": {"id": "t5", "run_id": None}})
    report = ReadReport("tasks", "o")
    changes = feed.changes("o", 10, "2026-10-30", report)
    # r1 named by its event, r2 the loaded task's process, r3 read from the task itself
    assert changes.processes == {"r1", "r2", "r3"}
    assert changes.oneoff_tasks == {"t4", "t5", "t6"}
    assert changes.task_answers == {"t4": {"id": "t4", "run_id": None}, "t5": {"id": "t5", "run_id": None},
                                    "t6": None}
    assert (changes.newest_id, changes.newest_day, changes.events) == (16, "2026-11-01", 6)
    singles = [path.rsplit("/", 1)[-1] for path, _ in client.asked if "/tasks/" in path]
    assert sorted(singles) == ["t3", "t4", "t5", "t6"]  # t2 is placed by the table: not asked
    assert report.requests == changes.requests == 3 + 4  # pages 1-3 (page 3 reaches id 10), 4 tasks
    # asked again for the same window: the same answer, no request
    assert feed.changes("o", 10, "2026-10-30", ReadReport("processes", "o")) is changes
    assert len(client.asked) == 7


def test_events_at_or_below_the_stored_id_are_not_changes(monkeypatch):
    monkeypatch.setattr(workflow_incremental, "loaded_where", lambda *a: [])
    pages = {1: [ev(5, auditable_type="Run", auditable_id="r5"), ev(4, auditable_type="Run", auditable_id="r4")]}
    changes = feed_of(pages, {})[0].changes("o", 4, "2026-10-30", ReadReport("processes", "o"))
    assert changes.processes == {"r5"} and changes.events == 1 and changes.newest_id == 5


def test_no_new_event_keeps_the_cursor(monkeypatch):
    monkeypatch.setattr(workflow_incremental, "loaded_where", lambda *a: [])
    changes = feed_of({1: [ev(4, auditable_type="Run", auditable_id="r4")]}, {})[0].changes(
        "o", 4, "2026-10-30", ReadReport("processes", "o"))
    assert (changes.newest_id, changes.newest_day, changes.processes) == (4, "2026-10-30", set())


def test_the_newest_event_is_the_highest_id_on_the_first_page():
    feed, client = feed_of({1: [ev(7), ev(9, created_at="2026-11-03 08:00:00"), ev(8)], 2: [ev(1)]}, {})
    report = ReadReport("tasks", "o")
    assert feed.newest("o", report) == (9, "2026-11-03")
    assert feed.newest("o", report) == (9, "2026-11-03")
    assert len(client.asked) == report.requests == 1


# ------------------------------------------------------------------ a single read
def single(status: int, body: Any, json_error: bool = False) -> tuple:
    client = ScriptedClient(lambda path, params: FakeResponse(status=status, body=body, json_error=json_error,
                                                              path=f"/api/{path}"))
    report = ReadReport("tasks", "o")
    return client, report


def test_a_single_read_returns_the_record():
    client, report = single(200, {"data": {"id": "t 1", "run_id": None}})
    assert get_one(client, TASKS, "o", "t 1", {"with": "tags"}, report) == {"id": "t 1", "run_id": None}
    assert client.asked == [("organizations/o/tasks/t%201", {"with": "tags"})] and report.requests == 1


@pytest.mark.parametrize("body", [NOT_FOUND, {"message": "No query results for model [Task] abc"},
                                  {"message": "task abc is gone"}])
def test_only_a_404_naming_the_record_proves_it_deleted(body):
    client, report = single(404, body)
    assert get_one(client, TASKS, "o", "abc", {}, report) is None


@pytest.mark.parametrize("status, body, json_error", [
    (404, {"code": "ENDPOINT_NOT_FOUND"}, False), (404, None, True), (404, {"message": "gone"}, False),
    (500, {"data": {}}, False), (200, {"data": ["not", "a", "record"]}, False), (200, None, True),
    (403, {"message": "abc"}, False)])
def test_any_other_answer_fails_the_orgs_read(status, body, json_error):
    client, report = single(status, body, json_error)
    with pytest.raises(TallyfyAPIError) as failure:
        get_one(client, TASKS, "o", "abc", {}, report)
    assert "org o, tasks abc" in str(failure.value)


# ------------------------------------------------------------------ kick-off labels
def labels_client(defs: Dict[str, Any]) -> ScriptedClient:
    def answer(path, params):
        key = path.rsplit("/", 1)[-1]
        if key not in defs:
            return FakeResponse(status=404, body=NOT_FOUND, path=f"/api/{path}")
        return FakeResponse(body={"data": {"id": key, "prerun": defs[key]}}, path=f"/api/{path}")
    return ScriptedClient(answer)


DEFS = {"c1": [{"id": "f1", "label": "Client"}, {"id": "f2", "label": "Amount"}], "c2": []}


def test_kept_labels_are_used_without_a_request():
    client = labels_client(DEFS)
    labels = KickoffLabels(client, "o", {"c1": {"f1": "Old"}}, ReadReport("processes", "o"))
    assert labels("c1") == {"f1": "Old"} and client.asked == []


def test_a_template_read_once_per_run_when_unknown_changed_or_on_a_sweep():
    for kept, reread_all, changed, asked in [({}, False, (), 1), ({"c1": {"f1": "Old"}}, True, (), 1),
                                             ({"c1": {"f1": "Old"}}, False, ["c1"], 1),
                                             ({"c1": {"f1": "Old"}}, False, ["c9"], 0)]:
        client = labels_client(DEFS)
        report = ReadReport("processes", "o")
        labels = KickoffLabels(client, "o", kept, report, reread_all=reread_all, changed=changed)
        want = {"f1": "Client", "f2": "Amount"} if asked else {"f1": "Old"}
        assert labels("c1") == want and labels("c1") == want
        assert len(client.asked) == report.requests == asked
        assert labels.known["c1"] == want
        if asked:
            assert client.asked[0] == ("organizations/o/checklists/c1", {})


def test_a_deleted_template_or_one_without_fields_has_no_labels():
    client = labels_client(DEFS)
    labels = KickoffLabels(client, "o", {"gone": {"f1": "Old"}, "c2": {"f1": "Old"}}, ReadReport("processes", "o"),
                           reread_all=True)
    assert labels("gone") == {} and labels("c2") == {} and labels(None) == {}
    assert labels.known == {}
    assert [p.rsplit("/", 1)[-1] for p, _ in client.asked] == ["gone", "c2"]


def test_labels_are_asked_for_only_when_there_are_answers():
    asked: List[Any] = []

    def labels(template):
        asked.append(template)
        return {"f1": "Client"}
    assert kickoff_answers({}, lambda: labels("c1")) == [] and asked == []
    row = process_row({"id": "r1", "checklist_id": "c1", "prerun": {"f1": "Ada", "f9": 3}}, labels)
    assert asked == ["c1"]
    assert [(a["field_id"], a["label"], a["value_text"]) for a in row["kickoff_answers"]] == [
        ("f1", "Client", "Ada"), ("f9", None, "3")]
    assert process_row({"id": "r2", "checklist_id": "c1", "prerun": []}, labels)["kickoff_answers"] == []
    assert asked == ["c1"]
    assert kickoff_answers([{"field_id": "f1", "value": "x"}])[0]["label"] is None  # no labels given


def test_field_labels_keep_only_fields_with_an_id_and_a_text_label():
    assert field_labels([{"id": 1, "label": "A"}, {"id": 2, "label": 5}, {"label": "B"}, 7]) == {"1": "A"}
    assert field_labels({"data": [{"id": "x", "label": "X"}]}) == {"x": "X"}
    assert field_labels("nope") == {}
    assert TEMPLATES.path == "checklists"
