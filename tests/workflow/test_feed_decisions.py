"""The workflow read decisions, proved one by one and fast (no dlt pipeline, no HTTP server):
where the feed read stops (`feed.feed_pages`), what an event says changed
(`workflow_incremental._note`, `WorkflowFeed._read`), when a single read proves a deletion
(`get_one`), and when a template's kick-off labels are trusted or read again
(`kickoff.KickoffLabels`). Pages come from the scripted client of tests/kernel/test_read_decisions.py.
`make mutate` runs mutmut over these modules with these tests (see the README).
"""

import copy
from typing import Any, Dict, List, Optional

from collections import defaultdict

import pytest

from tallyfy_source.workflow import changes as workflow_incremental
from tallyfy_source.api.client import RetryableStatus, UnreadableBody
from tallyfy_source.errors import TallyfyAPIError
from tallyfy_source.workflow.feed import event_id, feed_pages
from tallyfy_source.workflow.kickoff import KickoffLabels, field_labels
from tallyfy_source.read.endpoint_read import ReadOptions, ReadReport
from tallyfy_source.workflow.rows import kickoff_answers, process_row
from tallyfy_source.api.single import get_one
from tallyfy_source.workflow.changes import Changes, WorkflowFeed, _note
from tallyfy_source.api.endpoints import ACTIVITY, TASKS, TEMPLATES
from tests.kernel.test_read_decisions import FakeResponse, ScriptedClient, page_body

PER_PAGE = 3


@pytest.fixture(autouse=True)
def _rows_carry_their_fields(monkeypatch):
    """Fields a single read does not serve keep their loaded values, read from the destination:
    an end-to-end matter (tests/workflow/test_workflow_incremental.py). These decisions run with
    no destination, and their rows carry every field they have."""
    monkeypatch.setattr(workflow_incremental, "keep_unserved_fields", lambda endpoint, org, rows, mode: rows)


def every_org(client):
    """The feed's clients when every org of a test reads through the one scripted client."""
    return defaultdict(lambda: client)


class HookedClient(ScriptedClient):
    """The scripted client, running the response hooks a request passes, as `requests` does."""

    def get(self, path, params=None, hooks=None):
        response = super().get(path, params, hooks)
        for hook in (hooks or {}).get("response", []):
            hook(response)
        return response
NOT_FOUND = {"code": "RESOURCE_NOT_FOUND", "message": "not found"}


def feed_client(pages: Dict[int, List[Any]], total: Optional[int] = None) -> ScriptedClient:
    """Feed pages as given (the sort asked for is not applied: the pages say the order)."""
    count = total if total is not None else sum(len(p) for p in pages.values())

    def answer(path, params):
        page = params.get("page", 1)
        return FakeResponse(body=page_body(pages.get(page, []), count, page, PER_PAGE),
                            path=f"/api/{path}")
    return HookedClient(answer)


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


@pytest.mark.parametrize("kind", ["Run", "run", "Process", "PROCESS", "App\\Models\\Run", ["App\\Models\\Run"],
                                  "App/Models/Process", ["run"]])
def test_a_process_event_names_that_process(kind):
    changes, tasks = note({"auditable_type": kind, "auditable_id": "r1"})
    assert changes.processes == {"r1"} and not changes.templates and not tasks


@pytest.mark.parametrize("kind", ["Checklist", "Blueprint", "App\\Models\\Checklist", ["App\\Models\\Blueprint"]])
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


def test_a_documented_event_names_its_task_and_process():
    """Defect 1 of issue 16: the API reference serves class names, ids as served (the task a
    string, the process a string); nothing matched them before."""
    changes, tasks = note({"auditable_type": "App\\Models\\Task", "auditable_id": "t1",
                           "parentable_type": "App\\Models\\Run", "parentable_id": "r1",
                           "type": ["Task"], "verb": ["completed"]})
    assert tasks == {"t1": "r1"} and changes.processes == {"r1"}
    changes, tasks = note({"auditable_type": ["App\\Models\\Task"], "auditable_id": ["t2"]})
    assert tasks == {"t2": None}


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
    client = HookedClient(answer)
    return WorkflowFeed(every_org(client), ReadOptions(per_page=PER_PAGE)), client


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


def test_the_newest_event_is_the_highest_id_of_the_first_and_last_pages():
    feed, client = feed_of({1: [ev(7), ev(9, created_at="2026-11-03 08:00:00"), ev(8)], 2: [ev(1)]}, {})
    report = ReadReport("tasks", "o")
    assert feed.newest("o", report) == (9, "2026-11-03")
    assert feed.newest("o", report) == (9, "2026-11-03")
    assert len(client.asked) == report.requests == 2
    assert [params["page"] for _, params in client.asked] == [1, 2]


def test_a_feed_of_one_page_costs_one_request():
    feed, client = feed_of({1: [ev(3), ev(2), ev(1)]}, {})
    report = ReadReport("tasks", "o")
    assert feed.newest("o", report) == (3, "2026-11-01") and report.requests == len(client.asked) == 1


OLDEST_FIRST = {1: [ev(1), ev(2), ev(3)], 2: [ev(4), ev(5), ev(6)], 3: [ev(7), ev(8), ev(9, created_at="2026-11-02T01:00:00Z")]}
WITHIN_PAGES = {1: [ev(3), ev(2), ev(1)], 2: [ev(6), ev(5), ev(4)], 3: [ev(9, created_at="2026-11-02T01:00:00Z"), ev(8), ev(7)]}


@pytest.mark.parametrize("pages", [OLDEST_FIRST, WITHIN_PAGES], ids=["oldest-first", "sorted-within-pages"])
def test_the_newest_event_is_found_when_the_server_ignores_sort(pages):
    """Defect 3 of issue 16: page 1 of a server that ignores `sort` holds the OLDEST events."""
    feed, client = feed_of(pages, {})
    report = ReadReport("tasks", "o")
    assert feed.newest("o", report) == (9, "2026-11-02")
    assert [params["page"] for _, params in client.asked] == [1, 3] and report.requests == 2


def test_the_newest_events_day_is_its_utc_day():
    """Defect 4 of issue 16: 01:00 at +05:30 on 12-02 is 19:30 UTC on 12-01."""
    feed, _ = feed_of({1: [ev(9, created_at="2026-12-02T01:00:00+05:30")]}, {})
    assert feed.newest("o", ReadReport("tasks", "o")) == (9, "2026-12-01")


def test_the_feed_is_read_from_the_day_before_the_cursors_utc_day(monkeypatch):
    """Defect 4 of issue 16: the server's `created_after` day may lag UTC by up to a day."""
    monkeypatch.setattr(workflow_incremental, "loaded_where", lambda *a: [])
    feed, client = feed_of({1: [ev(12, auditable_type="Run", auditable_id="r12",
                                   created_at="2026-12-02T23:30:00-05:00")]}, {})
    changes = feed.changes("o", 11, "2026-12-02", ReadReport("p", "o"))
    assert client.asked[0][1]["created_after"] == "2026-12-01"
    assert (changes.newest_id, changes.newest_day) == (12, "2026-12-03")


# ------------------------------------------------------------------ a single read
def single(status: int, body: Any, json_error: bool = False) -> tuple:
    client = HookedClient(lambda path, params: FakeResponse(status=status, body=body, json_error=json_error,
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
    (403, {"message": "abc"}, False), (401, {}, False)])
def test_any_other_answer_fails_the_orgs_read(status, body, json_error):
    client, report = single(status, body, json_error)
    with pytest.raises(TallyfyAPIError) as failure:
        get_one(client, TASKS, "o", "abc", {}, report)
    assert "org o, tasks abc" in str(failure.value)
    assert (failure.value.status, failure.value.org_id) == (status, "o")


@pytest.mark.parametrize("status, body, json_error, raised", [
    (500, {"data": {}}, False, RetryableStatus), (429, {}, False, RetryableStatus),
    (200, {"data": ["not", "a", "record"]}, False, UnreadableBody), (200, None, True, UnreadableBody),
    (200, {"data": "x"}, False, UnreadableBody)])
def test_a_retryable_answer_goes_back_to_the_sessions_retries(status, body, json_error, raised):
    client, report = single(status, body, json_error)
    with pytest.raises(raised):
        get_one(client, TASKS, "o", "abc", {}, report)


# ------------------------------------------------------------------ kick-off labels
def labels_client(defs: Dict[str, Any]) -> ScriptedClient:
    def answer(path, params):
        key = path.rsplit("/", 1)[-1]
        if key not in defs:
            return FakeResponse(status=404, body=NOT_FOUND, path=f"/api/{path}")
        return FakeResponse(body={"data": {"id": key, "prerun": defs[key]}}, path=f"/api/{path}")
    return HookedClient(answer)


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


# ------------------------------------------------------------------ sharper edges (mutation testing)
def test_an_equal_id_next_to_itself_keeps_the_early_stop_on():
    pages = {1: [ev(9), ev(9), ev(8)], 2: [ev(7), ev(6), ev(5)], 3: [ev(4), ev(3), ev(2)], 4: [ev(1)]}
    assert read_feed(pages, 6)[1] == [1, 2]


def test_every_request_names_the_org_and_counts_in_the_report(monkeypatch):
    calls: List[tuple] = []

    def loaded(table, org, column, values, mode):
        calls.append((table, org, column, sorted(values), mode))
        return []
    monkeypatch.setattr(workflow_incremental, "loaded_where", loaded)
    feed, client = feed_of({1: [task_event(3, "t3")]}, {"t3": {"id": "t3", "run_id": None}})
    report = ReadReport("tasks", "o", requests=5)
    feed.changes("o", 1, "2026-10-30", report)
    assert report.requests == 5 + 2
    assert calls == [("tasks", "o", "id", ["t3"], "delete")]
    assert [path for path, _ in client.asked] == ["organizations/o/activity-feeds", "organizations/o/tasks/t3"]
    assert client.asked[0][1]["created_after"] == "2026-10-29"  # the day before the cursor's
    assert client.asked[1][1] == dict(TASKS.params)
    report = ReadReport("tasks", "o", requests=5)
    assert feed.newest("o", report) == (3, "2026-11-01")  # learned from the read: no request
    assert report.requests == 5 and len(client.asked) == 2


def test_another_window_is_another_read(monkeypatch):
    monkeypatch.setattr(workflow_incremental, "loaded_where", lambda *a: [])
    feed, client = feed_of({1: [ev(5, auditable_type="Run", auditable_id="r5"),
                                ev(4, auditable_type="Run", auditable_id="r4")]}, {})
    assert feed.changes("o", 4, "2026-10-30", ReadReport("p", "o")).processes == {"r5"}
    assert feed.changes("o", 3, "2026-10-30", ReadReport("p", "o")).processes == {"r4", "r5"}
    assert len(client.asked) == 2


def refused(path, params):
    raise TallyfyAPIError("HTTP 403", status=403)  # what the client's response hook raises


def test_a_failed_feed_fails_every_resource_of_the_org_without_asking_again():
    client = HookedClient(refused)
    feed = WorkflowFeed(every_org(client), ReadOptions(per_page=PER_PAGE))
    for call in (lambda: feed.changes("o", 1, "2026-10-30", ReadReport("p", "o")),
                 lambda: feed.changes("o", 1, "2026-10-30", ReadReport("t", "o")),
                 lambda: feed.newest("o", ReadReport("t", "o"))):
        with pytest.raises(TallyfyAPIError) as failure:
            call()
        assert failure.value.status == 403
    assert len(client.asked) == 1
    client2 = HookedClient(refused)
    feed = WorkflowFeed(every_org(client2), ReadOptions(per_page=PER_PAGE))
    for _ in range(2):
        with pytest.raises(TallyfyAPIError):
            feed.newest("o", ReadReport("t", "o"))
    assert len(client2.asked) == 1


def test_an_event_below_the_cursor_does_not_hide_newer_ones_on_an_unsorted_page(monkeypatch):
    monkeypatch.setattr(workflow_incremental, "loaded_where", lambda *a: [])
    pages = {1: [ev(5, auditable_type="Run", auditable_id="r5"), ev(3, auditable_type="Run", auditable_id="r3"),
                 ev(7, auditable_type="Run", auditable_id="r7", created_at=None)]}
    changes = feed_of(pages, {})[0].changes("o", 4, "2026-10-30", ReadReport("p", "o"))
    assert changes.processes == {"r5", "r7"}
    assert (changes.newest_id, changes.newest_day) == (7, "2026-10-30")  # no time: the window's day


def test_the_newest_event_without_a_time_takes_the_servers_day():
    def answer(path, params):
        body = page_body([{"id": 4, "created_at": None}] if params.get("x") is None else [], 1, 1, PER_PAGE)
        return FakeResponse(body=body, headers={"Date": "Tue, 03 Nov 2026 23:59:00 GMT"}, path=f"/api/{path}")
    client = HookedClient(answer)
    feed = WorkflowFeed(every_org(client), ReadOptions(per_page=PER_PAGE))
    report = ReadReport("t", "o", requests=3)
    assert feed.newest("o", report) == (4, "2026-11-03")
    assert report.requests == 4 and client.asked == [("organizations/o/activity-feeds", dict(
        ACTIVITY.params, per_page=PER_PAGE, page=1))]

    def empty(path, params):
        return FakeResponse(body=page_body([], 0, 1, PER_PAGE), headers={"Date": "Wed, 04 Nov 2026 01:00:00 GMT"},
                            path=f"/api/{path}")
    feed = WorkflowFeed(every_org(HookedClient(empty)), ReadOptions(per_page=PER_PAGE))
    assert feed.newest("o", ReadReport("t", "o")) == (0, "2026-11-04")


def test_an_event_whose_subject_has_no_id_still_names_its_parent():
    changes, tasks = note({"auditable_type": "Task", "auditable_id": None, "parentable_type": "Run",
                           "parentable_id": "r1"})
    assert changes.processes == {"r1"} and not tasks


def test_a_single_read_keeps_an_at_sign_and_reports_what_failed():
    client, report = single(200, {"data": {"id": "a@b"}})
    report.requests = 2
    get_one(client, TASKS, "o", "a@b c", {}, report)
    assert client.asked[0][0] == "organizations/o/tasks/a@b%20c" and report.requests == 3


def test_an_unknown_template_that_answers_404_has_no_labels():
    labels = KickoffLabels(labels_client(DEFS), "o", None, ReadReport("processes", "o"))
    assert labels("nowhere") == {} and labels.known == {}


# ------------------------------------------------------------------ what an incremental run loads and deletes
class Upstream:
    """Single reads as a scripted API: processes (with their tasks), templates, one-off tasks."""

    def __init__(self, runs: Dict[str, Any], templates: Dict[str, Any], tasks: Dict[str, Any]):
        self.data = {"runs": runs, "checklists": templates, "tasks": tasks}
        self.client = HookedClient(self.answer)

    def answer(self, path, params):
        kind, key = path.split("/")[-2:]
        record = self.data[kind].get(key)
        if record is None:
            return FakeResponse(status=404, body=NOT_FOUND, path=f"/api/{path}")
        return FakeResponse(body={"data": copy.deepcopy(record)}, path=f"/api/{path}")

    def asked(self) -> List[str]:
        return ["/".join(path.split("/")[-2:]) for path, _ in self.client.asked]


def tables_of(items: List[Any]) -> Dict[str, List[Dict[str, Any]]]:
    """Yielded items by table: comment rows come wrapped with their table's hints."""
    out: Dict[str, List[Dict[str, Any]]] = {}
    for item in items:
        rows = getattr(item, "data", item)
        table = "comments" if hasattr(item, "data") else "rows"
        out.setdefault(table, []).extend(rows)
    return out


def task(tid: str, run: Optional[str], *comments: str) -> Dict[str, Any]:
    return {"id": tid, "run_id": run, "title": tid, "owners": {"users": [], "guests": [], "groups": []},
            "threads": {"data": [{"id": c, "content": c} for c in comments]}}


def incremental(monkeypatch, loaded: Dict[str, List[Dict[str, Any]]], upstream: Upstream, changes: Changes,
                resource: str, feed: Optional[WorkflowFeed] = None, labels: Any = None) -> tuple:
    from datetime import datetime, timezone

    from tallyfy_source.workflow.changes import incremental_rows
    from tallyfy_source.workflow.kinds import KINDS

    def loaded_where(table, org, column, values, mode):
        assert org == "o" and mode == "delete"
        return [dict(r) for r in loaded.get(table, []) if str(r.get(column)) in {str(v) for v in values}]
    monkeypatch.setattr(workflow_incremental, "loaded_where", loaded_where)
    feed = feed or WorkflowFeed(every_org(upstream.client), ReadOptions(per_page=PER_PAGE))
    kind = KINDS[resource]
    report = ReadReport(resource, "o", rows_read=7, missing=2)  # counts add to what the report holds
    items = list(incremental_rows(feed, kind, "o", changes, datetime(2026, 11, 5, tzinfo=timezone.utc), report,
                                  labels))
    return tables_of(items), report, feed


LOADED = {
    "tasks": [{"id": "t1", "run_id": "r1"}, {"id": "t2", "run_id": "r1"}, {"id": "t3", "run_id": "r2"},
              {"id": "t9", "run_id": None}],
    "comments": [{"id": "c1", "task_id": "t1", "process_id": "r1"}, {"id": "c2", "task_id": "t2", "process_id": "r1"},
                 {"id": "c3", "task_id": "t3", "process_id": "r2"}, {"id": "c5", "task_id": "t1", "process_id": "r1"},
                 {"id": "c9", "task_id": "t9", "process_id": None},
                 # comments whose task row is not loaded: found through their process
                 {"id": "c6", "task_id": "t6", "process_id": "r1"}, {"id": "c7", "task_id": "t7", "process_id": "r2"},
                 {"id": "c8", "task_id": "t8", "process_id": "r8"}],
    "processes": [{"id": "r1"}, {"id": "r2"}], "templates": [{"id": "k1"}, {"id": "k2"}],
}


def upstream_now() -> Upstream:
    # r1 keeps t1 (c5 removed) and gains t4; t2 left r1; r2, t9 and template k1 are deleted
    runs = {"r1": {"id": "r1", "checklist_id": "k2", "name": "R1", "prerun": {},
                   "tasks": {"data": [task("t1", "r1", "c1"), task("t4", "r1", "c4")]}}}
    return Upstream(runs, {"k2": {"id": "k2", "title": "K2", "steps": [], "tags": []}}, {})


CHANGES = dict(processes={"r1", "r2"}, oneoff_tasks={"t9"}, templates={"k1", "k2"})


def removed(rows: List[Dict[str, Any]]) -> List[str]:
    return sorted(r["id"] for r in rows if r.get("_tallyfy_deleted"))


def kept(rows: List[Dict[str, Any]]) -> List[str]:
    return sorted(r["id"] for r in rows if not r.get("_tallyfy_deleted"))


def test_an_incremental_run_loads_the_changed_process_tasks_and_deletes_exactly_what_left(monkeypatch):
    upstream = upstream_now()
    got, report, _ = incremental(monkeypatch, LOADED, upstream, Changes(**CHANGES), "tasks")
    assert kept(got["rows"]) == ["t1", "t4"]
    assert removed(got["rows"]) == ["t2", "t3", "t9"]  # left r1; r2 deleted; one-off deleted
    assert kept(got["comments"]) == ["c1", "c4"]
    assert removed(got["comments"]) == ["c2", "c3", "c5", "c6", "c7", "c9"]  # c8: process r8 not read
    assert all(r["org_id"] == "o" for table in got.values() for r in table)
    assert report.rows_read == 7 + 2 and report.missing == 2 + 3
    assert sorted(upstream.asked()) == ["runs/r1", "runs/r2", "tasks/t9"]
    assert upstream.client.asked[0][1] == workflow_incremental.PROCESS_WITH


def test_the_processes_and_templates_of_an_incremental_run(monkeypatch):
    upstream = upstream_now()
    got, report, feed = incremental(monkeypatch, LOADED, upstream, Changes(**CHANGES), "processes")
    assert kept(got["rows"]) == ["r1"] and removed(got["rows"]) == ["r2"]
    assert "tasks" not in got["rows"][0] and report.missing == 2 + 1 and report.rows_read == 7 + 1
    assert all(r["org_id"] == "o" for r in got["rows"])
    # the tasks resource takes the same answers: no second request per process, none held after
    incremental(monkeypatch, LOADED, upstream, Changes(**CHANGES), "tasks", feed)
    assert sorted(upstream.asked()) == ["runs/r1", "runs/r2", "tasks/t9"]
    assert feed._answers == {}
    got, report, _ = incremental(monkeypatch, LOADED, upstream, Changes(**CHANGES), "templates")
    assert kept(got["rows"]) == ["k2"] and removed(got["rows"]) == ["k1"]
    assert all(r["org_id"] == "o" for r in got["rows"]) and report.missing == 2 + 1
    assert upstream.asked()[-2:] == ["checklists/k1", "checklists/k2"]
    assert upstream.client.asked[-1] == ("organizations/o/checklists/k2", dict(TEMPLATES.params))


def test_a_deleted_process_or_task_does_not_stop_the_ones_after_it(monkeypatch):
    upstream = upstream_now()
    loaded = dict(LOADED, tasks=LOADED["tasks"] + [{"id": "t0", "run_id": None}])
    changes = Changes(processes={"r0", "r1"}, oneoff_tasks={"t0", "t8"},
                      task_answers={"t0": None, "t8": task("t8", None)})
    got, _, _ = incremental(monkeypatch, loaded, upstream, changes, "tasks")
    assert kept(got["rows"]) == ["t1", "t4", "t8"] and removed(got["rows"]) == ["t0", "t2"]


def test_a_process_serves_its_tasks_plain_wrapped_or_not_at_all(monkeypatch):
    plain = upstream_now()
    plain.data["runs"]["r1"]["tasks"] = plain.data["runs"]["r1"]["tasks"]["data"]
    got, _, _ = incremental(monkeypatch, LOADED, plain, Changes(processes={"r1"}), "tasks")
    assert kept(got["rows"]) == ["t1", "t4"]
    bare = upstream_now()
    del bare.data["runs"]["r1"]["tasks"]
    bare.data["runs"]["r1"]["other"] = {"a": 1}
    got, _, _ = incremental(monkeypatch, LOADED, bare, Changes(processes={"r1"}), "tasks")
    assert "rows" not in got or not kept(got["rows"])  # no tasks listed: all of r1's loaded tasks left it
    assert removed(got["rows"]) == ["t1", "t2"]


def test_changed_records_come_in_batches_of_a_hundred():
    from datetime import datetime, timezone

    from tallyfy_source.workflow.changes import refetched
    report = ReadReport("templates", "o", rows_read=7)
    batches = list(refetched({f"k{i:03}" for i in range(201)}, lambda key: {"id": key}, dict, TEMPLATES, "o",
                             report, "delete", datetime(2026, 11, 5, tzinfo=timezone.utc)))
    assert [len(b) for b in batches] == [100, 100, 1] and report.rows_read == 7 + 201
    assert [b[0]["id"] for b in batches] == ["k000", "k100", "k200"]


def test_a_one_off_task_read_during_the_feed_read_is_not_asked_for_again(monkeypatch):
    upstream = upstream_now()
    changes = Changes(oneoff_tasks={"t9", "t8"}, task_answers={"t9": None, "t8": task("t8", None, "c8")})
    got, report, _ = incremental(monkeypatch, LOADED, upstream, changes, "tasks")
    assert upstream.asked() == []
    assert kept(got["rows"]) == ["t8"] and removed(got["rows"]) == ["t9"]
    assert kept(got["comments"]) == ["c8"] and removed(got["comments"]) == ["c9"]
    assert all(r["org_id"] == "o" for table in got.values() for r in table)
    assert report.rows_read == 7 + 1
    # not read during the feed read: asked for here
    upstream.data["tasks"]["t8"] = task("t8", None)
    got, report, _ = incremental(monkeypatch, LOADED, upstream, Changes(oneoff_tasks={"t8"}), "tasks")
    assert upstream.client.asked == [("organizations/o/tasks/t8", dict(TASKS.params))]
    assert kept(got["rows"]) == ["t8"] and got["rows"][0]["org_id"] == "o" and report.rows_read == 7 + 1


def test_a_process_answer_is_kept_until_both_consumers_took_it():
    upstream = upstream_now()
    feed = WorkflowFeed(every_org(upstream.client), ReadOptions(per_page=PER_PAGE))
    report = ReadReport("processes", "o")
    first = feed.process("o", "r1", "processes", report)
    assert feed.process("o", "r1", "processes", report) is first  # the same consumer again: still kept
    assert feed.process("o", "r1", "tasks", report) is first
    again = feed.process("o", "r1", "tasks", report)
    assert again == first and again is not first  # both took it: asked again
    assert feed.process("o", "r2", "tasks", report) is None and feed.process("o", "r2", "processes", report) is None
    assert upstream.asked() == ["runs/r1", "runs/r1", "runs/r2"] and report.requests == 3
    assert upstream.client.asked[0] == ("organizations/o/runs/r1", workflow_incremental.PROCESS_WITH)


def test_a_process_that_failed_is_not_asked_for_again_by_the_other_resource():
    feed = WorkflowFeed(every_org(HookedClient(refused)), ReadOptions(per_page=PER_PAGE))
    for consumer in ("processes", "tasks"):
        with pytest.raises(TallyfyAPIError) as failure:
            feed.process("o", "r1", consumer, ReadReport(consumer, "o"))
        assert failure.value.status == 403
    assert len(feed.clients["o"].asked) == 1


def test_changed_processes_get_their_templates_labels(monkeypatch):
    upstream = upstream_now()
    upstream.data["runs"]["r1"]["prerun"] = {"f1": "Ada", "f2": 4}
    asked: List[Any] = []

    def labels(template):
        asked.append(template)
        return {"f1": "Client"}
    got, _, _ = incremental(monkeypatch, LOADED, upstream, Changes(processes={"r1"}), "processes", labels=labels)
    assert asked == ["k2"]
    assert [(a["field_id"], a["label"]) for a in got["rows"][0]["kickoff_answers"]] == [("f1", "Client"), ("f2", None)]


def test_the_feed_read_stops_at_the_stored_id(monkeypatch):
    monkeypatch.setattr(workflow_incremental, "loaded_where", lambda *a: [])
    pages = {1: [ev(i, auditable_type="Run", auditable_id=f"r{i}") for i in (6, 5, 4)],
             2: [ev(i, auditable_type="Run", auditable_id=f"r{i}") for i in (3, 2, 1)]}
    feed, client = feed_of(pages, {})
    changes = feed.changes("o", 4, "2026-10-30", ReadReport("p", "o"))
    assert changes.processes == {"r5", "r6"} and changes.requests == len(client.asked) == 1

