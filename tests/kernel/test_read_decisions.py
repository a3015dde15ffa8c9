"""The read decisions, proved one by one and fast: what is read, skipped, trusted and deleted.

Each test drives one decision of `tallyfy_source/reading.py`, `paging.py` or `deletes.py`
directly (no dlt pipeline): the cursor (`Cursor`), the order checks (`descending`, the sort
probe), where the cursor may move (`EndpointRead.next_cursor`), when a sweep may delete
(`may_sweep`, `check_missing`), and the paginator's stop rules and loop guard. Walks run
against the bundled simulator on 127.0.0.1; a few shapes the simulator never serves (no
`Date` header, a total that is not a number, a 200 that is not JSON) come from a scripted
client. `make mutate` runs mutmut over these modules with these fast tests (see README).

Mutation testing (`make mutate`, mutmut 3.8.1, config in pyproject.toml; last run 2026-12-05, after
the two-wings move): 2,578 mutants over the eleven modules of `[tool.mutmut]`, 2,404 killed (93.2%),
0 timeouts, 0 suspicious, none without a fast test (the destination reads are tested fast against a
real DuckDB file: tests/kernel/test_destination_reads.py, test_org_rules.py; the single-record GET:
test_single_read.py). The kernel's read modules (endpoint_read, paging, single, deletes) killed
1,253 of 1,307 (95.9%; 95.8% before the move); their 54 survivors are the equivalents below.
Log calls are not mutated (pyproject `do_not_mutate_patterns`); the conditions that only decide
whether to log are, and are killed by the caplog tests.

EQUIVALENT MUTANTS (function: the change -> why no test can see it)
reading.py
- EndpointRead._reset: started_at = "", first_page_newest = "", first_page_keys = None,
  sorted_newest_first = None / True, concurrent = None / True -> `_walk` sets both flags before its
  first request and page 1 (`_take`) sets the other three before anything reads them; `rows()`
  calls `_reset` again before the walk without a sort.
- EndpointRead.rows: `_walk(None, early_stop=None)` -> None is only ever tested for truth, as False.
- EndpointRead._walk: `{sort_param: sort} if sort or True` -> a None-valued param is dropped by
  `requests`: the same URL.
  `sorted_newest_first = early_stop = None` -> both only ever tested for truth.
- EndpointRead._probe_proves_sort: `next(pages, )` -> the page walk always yields page 1 or raises,
  never ends empty. `shape_row(r, None, True)` -> the probe reads times and keys, never org_id.
- EndpointRead._recheck_first_page: `{sort_param: sort} if sort or True` (it only runs for a sorted
  walk: sort is never None there); `next(pages, )` (as above); `again is not None or True` (again is
  never None); `shape_row(r, None | org_id, None | False)` -> only the key is read, which neither
  the org nor the update-time unification touches.
- EndpointRead._check_one: `quote(key, safe="XX@XX")` -> "X" is never escaped anyway.
  `code = ""`, `data = ""` instead of None -> both fail the test that follows exactly as None does.
- fetch_pages: default `concurrency=2` -> its only callers without the argument (the probe and the
  second look at page 1) take page 1 and close the walk before any other page is asked for.
paging.py
- is_last_page, expected_pages: `0 <= served_per_page` (0 is already excluded by the truth test
  before it); `served_per_page <= per_page` (equal: the same page size either way).
- page_fingerprint: separator b"XX\x00XX" -> any fixed separator keeps keys apart; fingerprints are
  compared only with each other, within one walk.
- paginate_concurrently: `extract_response(response, None | "XXdataXX" | "DATA")` -> TallyfyRESTClient
  returns the body `check_response` already parsed and ignores the selector (the hook always runs
  first). `PageData(request=None)` -> no reader of a page uses `.request`.
  `ThreadPoolExecutor(max_workers=None or omitted)` -> at most `concurrency` pages are ever
  submitted at once, so no more threads are ever busy. `shutdown(cancel_futures=None | False |
  omitted)` -> every future not consumed is in `pending` and cancelled just before.
  `shutdown(cancel_futures=True)` without wait -> wait defaults to True.
single.py
- read_one: `quote(key, safe="XX@XX")` ("X" is never escaped anyway); `body = None` or any other
  name than `_tallyfy_body` (the body is then parsed again from the response: the same dict);
  `body = ""` after a parse error (fails the dict test exactly as None does).
- side_by_side: `max_workers=None` or omitted, `thread_name_prefix` changed (at most 2 x workers
  fetches are ever submitted, so no more run at once; names are not read); the window `> 2 x`,
  `>= 3 x` or `2 / workers` (how many answers wait is a memory bound, not an answer: the same
  answers in the same order); `len(keys) < 1` / `<= 2` (one or two keys read in a pool or not: the
  same answers).
deletes.py
- stored_child_tables: `get_stored_schema(None)` -> the newest schema of any name, which is the
  pipeline's own: a pipeline stores one schema.
unserved.py
- _top_field: `split("__")` or `split("__", 2)` -> only the first part is used.
- keep_unserved_fields: `by_parent.get(id, None)` / no default -> `child_lists` gives every parent
  asked an entry, so the default is never taken.
"""

import dataclasses
import logging
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any, Dict, List, Optional

import pytest
from requests import Request

from tallyfy_source.read import deletes

from tallyfy_source.read import endpoint_read as reading
from tallyfy_source.read import progress
from tallyfy_source.api.budget import RequestBudget
from tallyfy_source.api.client import make_client, make_session
from tallyfy_source.read.deletes import (DELETED_COLUMN, MISSING_SINCE_COLUMN, absent, absent_keys, last_loaded, loaded_rows,
                                    removal_rows)
from tallyfy_source.api.endpoints import GROUPS, GUESTS, MEMBERS, TAGS, Endpoint
from tallyfy_source.errors import PaginationError, TallyfyAPIError
from tallyfy_source.api.paging import (
    LOOP_REPEATS,
    TallyfyPaginator,
    expected_pages,
    is_last_page,
    page_fingerprint,
    pagination_meta,
)
from tallyfy_source.read.endpoint_read import (
    CLOCK_MARGIN,
    Cursor,
    EndpointRead,
    ReadOptions,
    descending,
    fetch_pages,
    row_digest,
    server_time,
)
from tallyfy_source.shape.rows import parse_timestamp as parse_ts
from tallyfy_source.shape.rows import shape_row
from tallyfy_source.simulator import Fault, FaultPlan, Simulator, SyntheticOrg, change_between

UTC = timezone.utc
ORG = "0123456789abcdef0123456789abcdef"
TOKEN = "sim-token-read-decisions"
PER_PAGE = 10
T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def t(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


# ------------------------------------------------------------------ fixtures and helpers
def make_sim(members: int = 35, **kw: Any) -> Simulator:
    org = SyntheticOrg.generate(ORG, seed=11, members=members, groups=kw.pop("groups", 4),
                                tags=kw.pop("tags", 25), guests=kw.pop("guests", 6))
    return Simulator(orgs=[org], token=TOKEN, **kw)


@pytest.fixture
def sim():
    with make_sim() as server:
        yield server


def client_of(sim: Simulator):
    return make_client(sim.base_url, sim.token, make_session(backoff_factor=0.0, max_attempts=2))


def reader(sim: Simulator, endpoint: Endpoint = MEMBERS, cursor: Optional[Cursor] = None,
           full_scan: bool = False, org_id: str = ORG, **options: Any) -> EndpointRead:
    opts = ReadOptions(**{"per_page": PER_PAGE, "concurrency": 1, **options})
    return EndpointRead(client_of(sim), endpoint, org_id, opts, cursor or Cursor(), full_scan)


def walk(read: EndpointRead) -> List[List[Dict[str, Any]]]:
    return list(read.rows())


def keys(pages: List[List[Dict[str, Any]]], key: str = "id") -> List[Any]:
    return [row[key] for page in pages for row in page]


def served_order(sim: Simulator, resource: str = "members", field: str = "updated_at", desc: bool = True):
    """Keys in the order the simulator serves a list sorted by `field`: ties broken by the key in
    the same direction, rows without a value first (ascending) or last (descending)."""

    def position(record):
        value = record.get(field)
        if field.endswith("_at"):
            value = parse_ts(value)
        return (0, datetime.min.replace(tzinfo=UTC)) if value is None else (1, value), record["id"]

    return [r["id"] for r in sorted(sim.org.records(resource), key=position, reverse=desc)]


def list_requests(sim: Simulator, resource: str = "members") -> List[Dict[str, Any]]:
    return [r for r in sim.requests if r["resource"] == resource and r["kind"] == "list"]


def first_read(sim: Simulator, **options: Any) -> Cursor:
    """A completed first load: the cursor the next run starts from."""
    read = reader(sim, **options)
    walk(read)
    return read.next_cursor()


# ------------------------------------------------------------------ a scripted client
class FakeResponse:
    def __init__(self, status: int = 200, body: Any = None, headers: Optional[Dict[str, str]] = None,
                 json_error: bool = False, path: str = "/api/organizations/o/users"):
        self.status_code = status
        self.body = body
        self.headers = headers or {}
        self.json_error = json_error
        self.url = f"http://fake{path}"
        self.request = SimpleNamespace(url=self.url, path_url=path)
        if not json_error and isinstance(body, dict) and "data" in body:
            self._tallyfy_body = body

    def json(self):
        if self.json_error:
            raise ValueError("not JSON")
        return self.body


class ScriptedClient:
    """Answers GETs from `answer(path, params) -> FakeResponse`; records what was asked."""

    def __init__(self, answer):
        self.answer = answer
        self.asked: List[tuple] = []

    def get(self, path, params=None, hooks=None):
        self.asked.append((path, dict(params or {})))
        return self.answer(path, dict(params or {}))

    def extract_response(self, response, selector):
        data = response.body.get("data")
        return data if isinstance(data, list) else [data]


def page_body(rows: List[Dict[str, Any]], total: Any, page: int, per_page: int = PER_PAGE) -> Dict[str, Any]:
    return {"data": rows, "meta": {"pagination": {"total": total, "count": len(rows), "per_page": per_page,
                                                  "current_page": page, "total_pages": None if not str(total).isdigit()
                                                  else max(1, -(-int(total) // per_page))}}}


def scripted_read(pages: Dict[int, List[Dict[str, Any]]], totals: Any = None, date: Optional[str] = None,
                  cursor: Optional[Cursor] = None, endpoint: Endpoint = MEMBERS, full_scan: bool = True,
                  per_page: int = PER_PAGE):
    """An EndpointRead over fixed pages (any sort asked is ignored: the pages are served as given)."""

    def answer(path, params):
        page = params.get("page", 1)
        rows = pages.get(page, [])
        total = totals(page) if callable(totals) else totals
        headers = {"Date": date} if date else {}
        return FakeResponse(body=page_body(rows, total, page, per_page), headers=headers)

    client = ScriptedClient(answer)
    read = EndpointRead(client, endpoint, "o", ReadOptions(per_page=per_page), cursor or Cursor(), full_scan)
    return read, client


def member(i: int, when: Optional[datetime], **extra: Any) -> Dict[str, Any]:
    return {"id": i, "updated_at": when.isoformat() if when else None, **extra}


# ================================================================== Cursor
def test_no_watermark_means_nothing_is_known_to_be_loaded_even_with_an_equal_digest():
    assert Cursor(None, {"1": "d"}).is_unchanged(t(-100), "1", "d") is False
    assert Cursor(None, {"1": "d"}).is_unchanged(None, "1", "d") is False


def test_a_row_changed_before_the_watermark_is_unchanged_whatever_its_digest():
    cursor = Cursor(t(0), {})
    assert cursor.is_unchanged(t(-1), "1", "other") is True


def test_a_row_at_the_watermark_is_unchanged_only_with_the_same_digest():
    cursor = Cursor(t(0), {"1": "d"})
    assert cursor.is_unchanged(t(0), "1", "d") is True
    assert cursor.is_unchanged(t(0), "1", "e") is False
    assert cursor.is_unchanged(t(0), "2", "d") is False


def test_a_row_after_the_watermark_is_unchanged_only_with_the_same_digest():
    cursor = Cursor(t(0), {"1": "d"})
    assert cursor.is_unchanged(t(1), "1", "d") is True
    assert cursor.is_unchanged(t(1), "1", "e") is False


def test_a_row_without_an_update_time_is_judged_by_its_digest_alone():
    cursor = Cursor(t(0), {"1": "d"})
    assert cursor.is_unchanged(None, "1", "d") is True
    assert cursor.is_unchanged(None, "1", "e") is False
    assert cursor.is_unchanged(None, "9", "d") is False


def test_a_cursor_survives_the_dlt_state_round_trip_with_its_digests_sorted():
    cursor = Cursor(datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), {"b": "2", "a": "1"}, "last_updated")
    state = cursor.to_state()
    assert state == {"value": "2026-03-04T05:06:07+00:00", "digests": {"a": "1", "b": "2"},
                     "sort_field": "last_updated"}
    assert list(state["digests"]) == ["a", "b"]
    assert Cursor.from_state(state) == cursor


def test_an_empty_cursor_is_stored_with_no_value():
    assert Cursor().to_state() == {"value": None, "digests": {}, "sort_field": "updated_at"}
    assert Cursor.from_state(Cursor().to_state()) == Cursor()


@pytest.mark.parametrize("state", [None, {}, {"value": None, "digests": {"1": "d"}, "sort_field": "last_updated"},
                                   {"value": "", "sort_field": "last_updated"}])
def test_a_state_without_a_watermark_starts_from_scratch(state):
    cursor = Cursor.from_state(state)
    assert (cursor.value, cursor.digests, cursor.sort_field) == (None, {}, "updated_at")


def test_an_older_state_with_keys_at_value_keeps_its_watermark_and_reloads_those_rows_once():
    cursor = Cursor.from_state({"value": "2026-03-04T05:06:07Z", "keys_at_value": ["1", "2"]})
    assert (cursor.value, cursor.digests, cursor.sort_field) == (
        datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), {}, "updated_at")
    assert cursor.is_unchanged(datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), "1", "any") is False


def test_a_state_with_null_digests_and_sort_field_gets_the_defaults():
    cursor = Cursor.from_state({"value": "2026-03-04T05:06:07Z", "digests": None, "sort_field": None})
    assert (cursor.digests, cursor.sort_field) == ({}, "updated_at")


def test_a_cursor_read_from_state_does_not_share_the_states_digest_dict():
    state = {"value": "2026-03-04T05:06:07Z", "digests": {"1": "d"}}
    cursor = Cursor.from_state(state)
    state["digests"]["2"] = "e"
    assert cursor.digests == {"1": "d"}
    cursor.to_state()["digests"]["3"] = "f"
    assert cursor.digests == {"1": "d"}


# ================================================================== digests and the server clock
def test_a_row_digest_ignores_key_order_and_is_pinned_so_stored_digests_stay_valid():
    assert row_digest({"a": 1, "b": [1, 2]}) == row_digest({"b": [1, 2], "a": 1})
    # stored in the dlt state: a changed formula would reload every row once
    assert row_digest({"id": 1, "name": "x"}) == "96ef0defd48f266d"
    assert len(row_digest({})) == 16


def test_a_row_digest_sees_every_value_change_and_reads_datetimes():
    assert row_digest({"id": 1, "t": "a"}) != row_digest({"id": 1, "t": "b"})
    assert row_digest({"when": datetime(2026, 1, 1, tzinfo=UTC)}) == row_digest({"when": "2026-01-01 00:00:00+00:00"})


def page_with_headers(headers: Optional[Dict[str, str]]):
    return SimpleNamespace(response=SimpleNamespace(headers=headers)) if headers is not None else SimpleNamespace()


def test_the_server_clock_is_read_from_the_date_header():
    page = page_with_headers({"Date": "Sun, 01 Nov 2026 00:00:05 GMT"})
    assert server_time(page) == datetime(2026, 11, 1, 0, 0, 5, tzinfo=UTC)
    assert server_time(page).tzinfo is not None
    # HTTP dates are GMT, but a zone given is honoured, not overwritten
    assert server_time(page_with_headers({"Date": "Sun, 01 Nov 2026 01:00:05 +0100"})) == \
        datetime(2026, 11, 1, 0, 0, 5, tzinfo=UTC)


def test_a_date_header_without_a_zone_is_taken_as_utc():
    assert server_time(page_with_headers({"Date": "Sun, 01 Nov 2026 00:00:05 -0000"})) == \
        datetime(2026, 11, 1, 0, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize("headers", [None, {}, {"Date": ""}, {"Date": "yesterday"}])
def test_no_readable_date_header_means_no_server_clock(headers):
    assert server_time(page_with_headers(headers)) is None


# ================================================================== the order check
@pytest.mark.parametrize("times,previous,expected", [
    ([], None, True),
    ([], t(0), True),
    ([t(3), t(2), t(2), t(1)], None, True),
    ([t(1), t(2)], None, False),
    ([t(3), t(1), t(2)], None, False),
    ([t(2), t(1)], t(2), True),  # continues a tie with the previous page
    ([t(3), t(1)], t(2), False),  # newer than the previous page's last row
    ([t(1)], t(2), True),
])
def test_descending_accepts_newest_first_continuing_from_the_previous_page(times, previous, expected):
    assert descending(times, previous) is expected


# ================================================================== the stop rules
def meta(current=None, total_pages=None, total=None, per_page=None) -> Dict[str, Any]:
    out = {"current_page": current, "total_pages": total_pages, "total": total, "per_page": per_page}
    return {k: v for k, v in out.items() if v is not None}


ROWS = [{"id": i} for i in range(10)]


@pytest.mark.parametrize("page_no,rows,info,rows_read,last", [
    (1, [], meta(1, 5, 50, 10), 0, True),  # empty page
    (1, ROWS[:9], meta(1, 5, 50, 10), 9, True),  # shorter than asked
    (1, ROWS[:5], meta(1, 10, 50, 5), 5, False),  # the server capped at 5: a full page
    (1, ROWS[:5], meta(1, 10, 50, "5"), 5, False),  # ... even spelled as text
    (1, ROWS, meta(1, 3, 30, 20), 10, False),  # the server claims a bigger page: ours counts
    (1, ROWS[:9], meta(1, 5, 50, 0), 9, True),  # a zero per_page is no cap
    (1, ROWS[:9], meta(1, 5, 50, -5), 9, True),  # nor a negative one
    (2, ROWS, meta(2, 3, 30), 20, False),
    (3, ROWS, meta(3, 3, 30), 30, True),  # current_page reaches total_pages
    (4, ROWS, meta(4, 3, 30), 40, True),  # ... or passes it
    (3, ROWS, meta(None, 3, 30), 30, True),  # no current_page: the page we asked for
    (2, ROWS, meta(None, 3, 30), 20, False),
    (2, ROWS, meta("3", "3", "30"), 20, True),  # numbers as text
    (3, ROWS, meta(3, 3, 25), 25, True),  # total_pages = ceil(25 / 10)
    (3, ROWS, meta(3, 3, 25), 20, True),  # ... so current_page decides, not rows_read
    (1, ROWS[:1], meta(1, 5, 5, 1), 1, False),  # the server capped at 1 a page
    (2, ROWS, meta(2, 3, 25), 20, False),
    (1, ROWS, meta(1, 1, 25), 10, False),  # total_pages from a bigger default page: go by total
    (3, ROWS, meta(3, 1, 25), 30, True),
    (1, ROWS, meta(1, 10, 10), 10, True),  # total_pages from a smaller default page: go by total
    (1, ROWS, meta(1, 10, 20), 10, False),
    (2, ROWS, meta(2, 10, 20), 20, True),
    (1, ROWS, meta(1, None, 20), 10, False),  # only total
    (2, ROWS, meta(2, None, 20), 20, True),
    (2, ROWS, meta(2, None, 20), 21, True),
    (2, ROWS, meta(2, 2, None), 20, True),  # only total_pages
    (1, ROWS, meta(1, 2, None), 10, False),
    (5, ROWS, {}, 50, False),  # no meta: only a short or empty page ends the walk
    (5, ROWS, meta(5, "many", "lots"), 50, False),
])
def test_a_page_is_the_last_exactly_when_a_stop_rule_says_so(page_no, rows, info, rows_read, last):
    assert is_last_page(page_no, rows, PER_PAGE, info, rows_read) is last


@pytest.mark.parametrize("info,per_page,pages", [
    (meta(total=25), 10, 3),
    (meta(total=30), 10, 3),
    (meta(total=0), 10, 1),
    (meta(total=25, per_page=5), 10, 5),  # the server's smaller cap
    (meta(total=3, per_page=1), 10, 3),
    (meta(total=25, per_page=20), 10, 3),  # a bigger claim does not count
    (meta(total=25, per_page=0), 10, 3),
    (meta(total=25, total_pages=1), 10, 3),  # total wins over total_pages
    (meta(total_pages=7), 10, 7),
    (meta(total_pages="7"), 10, 7),
    (meta(total_pages=0), 10, 1),
    ({}, 10, 1),
])
def test_the_pages_asked_for_up_front_come_from_total(info, per_page, pages):
    assert expected_pages(info, per_page) == pages


def test_pagination_meta_reads_the_parsed_envelope_or_the_body():
    parsed = SimpleNamespace(_tallyfy_body={"meta": {"pagination": {"total": 3}}}, json=lambda: {})
    assert pagination_meta(parsed) == {"total": 3}
    unparsed = SimpleNamespace(json=lambda: {"data": [], "meta": {"pagination": {"total": 4}}})
    assert pagination_meta(unparsed) == {"total": 4}


@pytest.mark.parametrize("body", [{"data": []}, {"meta": None}, {"meta": {"pagination": []}},
                                  {"meta": {"pagination": None}}, {"meta": "x"}, [], "text"])
def test_pagination_meta_is_empty_when_the_server_left_it_out(body):
    assert pagination_meta(SimpleNamespace(_tallyfy_body=body)) == {}


def test_a_page_fingerprint_is_its_keys_in_order():
    assert page_fingerprint([{"id": 1}, {"id": 2}]) == page_fingerprint([{"id": 1, "x": 9}, {"id": 2}])
    assert page_fingerprint([{"id": 1}, {"id": 2}]) != page_fingerprint([{"id": 2}, {"id": 1}])
    assert page_fingerprint([{"id": 1}, {"id": 23}]) != page_fingerprint([{"id": 12}, {"id": 3}])
    assert page_fingerprint([{"id": 1}]) != page_fingerprint([{"id": "1"}])
    assert page_fingerprint([{"id": 1, "email": "a@x"}]) == page_fingerprint([{"id": 1, "email": "b@x"}])
    assert page_fingerprint([{"email": "a@x"}]) != page_fingerprint([{"email": "b@x"}])
    assert page_fingerprint([{"email": "a@x"}]) == page_fingerprint([{"email": "a@x", "name": "A"}])
    assert page_fingerprint([1, 2]) != page_fingerprint([2, 1])
    assert len(page_fingerprint([])) == 32


# ================================================================== the paginator and its loop guard
class Page:
    """A response as the paginator sees it."""

    def __init__(self, rows, total=1000, per_page=2, path="/api/organizations/o/users"):
        self._tallyfy_body = {"data": rows, "meta": {"pagination": {
            "total": total, "per_page": per_page, "total_pages": -(-total // per_page)}}}
        self.request = SimpleNamespace(path_url=f"{path}?per_page={per_page}&page=9")


def started(per_page=2, start_page=1) -> TallyfyPaginator:
    paginator = TallyfyPaginator(per_page=per_page, start_page=start_page)
    paginator.init_request(Request("GET", "http://x/y", params={"with": "stats"}))
    return paginator


A, B, C = [{"id": 1}, {"id": 2}], [{"id": 3}, {"id": 4}], [{"id": 5}, {"id": 6}]


def test_a_paginator_starts_at_its_first_page_with_our_page_size_and_keeps_other_params():
    request = Request("GET", "http://x/y", params={"with": "stats"})
    paginator = TallyfyPaginator(per_page=7, start_page=3)
    paginator.init_request(request)
    assert request.params == {"with": "stats", "per_page": 7, "page": 3}
    assert (paginator.page, paginator.rows_read, paginator.has_next_page) == (3, 0, True)
    seven = [{"id": i} for i in range(7)]
    paginator.update_state(Page(seven, per_page=7), seven)
    paginator.update_request(request)
    assert request.params["page"] == 4


def test_a_paginator_is_reset_for_a_new_walk():
    paginator = started()
    for rows in (A, A, A):
        paginator.update_state(Page(rows), rows)
    assert (paginator.page, paginator.rows_read, paginator.repeats_in_a_row) == (4, 6, 2)
    request = Request("GET", "http://x/y")
    paginator.init_request(request)
    assert (paginator.page, paginator.rows_read, paginator.repeats_in_a_row, paginator._seen) == (1, 0, 0, {})
    assert request.params == {"per_page": 2, "page": 1}
    for rows in (A, A, A):  # the earlier walk's pages are forgotten: no loop yet
        paginator.update_state(Page(rows), rows)


def test_the_default_paginator_asks_for_the_biggest_page_from_page_1():
    paginator = TallyfyPaginator()
    assert (paginator.per_page, paginator.page, paginator.start_page) == (100, 1, 1)


def test_a_paginator_used_without_init_request_starts_from_zero():
    # paginate_concurrently judges pages with a fresh paginator, never calling init_request
    paginator = TallyfyPaginator(per_page=2)
    assert (paginator.rows_read, paginator.meta, paginator.repeats_in_a_row, paginator._seen) == (0, {}, 0, {})
    paginator.update_state(Page(A, total=3), A)
    assert (paginator.rows_read, paginator.has_next_page) == (2, True)


def test_a_paginator_counts_rows_and_stops_at_the_last_page():
    paginator = started()
    paginator.update_state(Page(A, total=3), A)
    assert (paginator.page, paginator.rows_read, paginator.has_next_page) == (2, 2, True)
    assert paginator.meta == {"total": 3, "per_page": 2, "total_pages": 2}
    paginator.update_state(Page([{"id": 3}], total=3), [{"id": 3}])
    assert (paginator.page, paginator.rows_read, paginator.has_next_page) == (2, 3, False)


def test_a_paginator_stops_on_a_page_with_no_data():
    paginator = started()
    paginator.update_state(Page([]), None)
    assert (paginator.page, paginator.rows_read, paginator.has_next_page) == (1, 0, False)


def test_loop_repeats_pages_in_a_row_are_a_loop():
    assert LOOP_REPEATS == 3
    paginator = started()
    for rows in (A, A, A):
        paginator.update_state(Page(rows), rows)
    with pytest.raises(PaginationError) as raised:
        paginator.update_state(Page(A), A)
    assert str(raised.value) == ("page 4 of /api/organizations/o/users repeats page 1: the server is looping;"
                                 " stopped to avoid duplicates")


def test_fewer_repeats_in_a_row_are_rows_moving_not_a_loop():
    paginator = started()
    for rows in (A, B, B, B, C, C, C):  # a new page resets the count
        paginator.update_state(Page(rows), rows)
    assert paginator.repeats_in_a_row == 2
    assert paginator.page == 8


def test_repeats_of_different_earlier_pages_count_towards_a_loop():
    paginator = started()
    for rows in (A, B, A, B):
        paginator.update_state(Page(rows), rows)
    with pytest.raises(PaginationError, match="page 5 of .* repeats page 1"):
        paginator.update_state(Page(A), A)


def test_a_repeat_names_the_page_it_first_appeared_on():
    paginator = started()
    for rows in (A, B, C, B, B):
        paginator.update_state(Page(rows), rows)
    with pytest.raises(PaginationError, match="^page 6 of /api/organizations/o/users repeats page 2:"):
        paginator.update_state(Page(B), B)


# ================================================================== fetching pages
def test_fetch_pages_walks_the_org_path_with_the_endpoints_params_and_ours(sim):
    pages = list(fetch_pages(client_of(sim), MEMBERS, ORG, PER_PAGE, {"sort": "id"}, concurrency=1))
    assert [len(p) for p in pages] == [10, 10, 10, 5]
    asked = list_requests(sim)
    assert [r["path"] for r in asked] == [f"/api/organizations/{ORG}/users"] * 4
    assert [r["query"] for r in asked] == [{"with": "stats", "sort": "id", "per_page": "10", "page": str(n)}
                                           for n in (1, 2, 3, 4)]
    assert MEMBERS.params == {"with": "stats"}  # the endpoint's own params are not changed


@pytest.mark.parametrize("concurrency", [2, 4, 8])
def test_concurrent_pages_come_in_order_each_asked_once(sim, concurrency):
    pages = list(fetch_pages(client_of(sim), MEMBERS, ORG, PER_PAGE, concurrency=concurrency))
    assert [m["id"] for p in pages for m in p] == [m["id"] for m in sim.org.served("members")]
    assert sorted(int(r["query"]["page"]) for r in list_requests(sim)) == [1, 2, 3, 4]


def test_a_single_page_walk_asks_once(sim):
    pages = list(fetch_pages(client_of(sim), MEMBERS, ORG, 50, concurrency=4))
    assert [len(p) for p in pages] == [35]
    assert len(list_requests(sim)) == 1


def test_pages_beyond_a_too_small_announced_total_are_walked_on(sim):
    sim.faults = FaultPlan([Fault("wrong_total", resource="members", page=1, total_delta=-20)])
    pages = list(fetch_pages(client_of(sim), MEMBERS, ORG, PER_PAGE, concurrency=4))
    assert [m["id"] for p in pages for m in p] == [m["id"] for m in sim.org.served("members")]
    assert [int(r["query"]["page"]) for r in list_requests(sim)] == [1, 2, 3, 4]


def test_a_walk_ends_at_the_first_short_page_even_with_more_pages_announced(sim):
    sim.faults = FaultPlan([Fault("wrong_total", resource="members", page=1, total_delta=100)])
    pages = list(fetch_pages(client_of(sim), MEMBERS, ORG, PER_PAGE, concurrency=2))
    assert [len(p) for p in pages] == [10, 10, 10, 5]
    asked = sorted(int(r["query"]["page"]) for r in list_requests(sim))
    assert asked[:4] == [1, 2, 3, 4] and asked[-1] <= 4 + 2  # at most `concurrency` pages past it


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_server_serving_page_1_under_every_number_is_stopped_as_a_loop(sim, concurrency):
    sim.faults = FaultPlan([Fault("loop", resource="members", times=None)])
    with pytest.raises(PaginationError, match="repeats page 1: the server is looping"):
        list(fetch_pages(client_of(sim), MEMBERS, ORG, 5, concurrency=concurrency))


def test_an_error_names_the_org_and_the_endpoint():
    with make_sim(forbidden_orgs=[ORG]) as server:
        with pytest.raises(TallyfyAPIError) as raised:
            list(fetch_pages(client_of(server), GROUPS, ORG, PER_PAGE))
    assert str(raised.value).startswith(f"org {ORG}, groups: HTTP 403 on GET /api/organizations/{ORG}/groups")
    assert (raised.value.status, raised.value.org_id) == (403, ORG)


# ================================================================== a clean walk and the cursor it earns
def test_a_full_read_reads_every_row_once_and_earns_a_sweep(sim):
    read = reader(sim)
    pages = walk(read)
    assert keys(pages) == served_order(sim)  # newest first
    report = read.report
    assert (report.resource, report.org_id) == ("members", ORG)
    assert (report.mode, report.requests, report.rows_read, report.rows_yielded, report.total, report.clean) == (
        "full", 4, 35, 35, 35, True)
    assert {row["org_id"] for page in pages for row in page} == {ORG}
    assert (read.full_scan, read.finished, read.stopped_early, read.may_sweep) == (True, True, False, True)
    assert [r["query"]["sort"] for r in list_requests(sim)] == ["-updated_at"] * 4


def test_a_clean_walk_moves_the_watermark_to_the_servers_date_at_page_1_minus_the_margin(sim):
    org = sim.org
    ids = served_order(sim, "members", "id", False)
    org.update_member(ids[0], job_title="changed")  # now + 1 s
    org.update_member(ids[1], updated_at=None)  # now + 2 s, untimed
    page_1_date = org.now
    sim.faults = FaultPlan([change_between("members", 2, lambda: org.update_member(ids[2], job_title="later"))])
    read = reader(sim)
    walk(read)
    cursor = read.next_cursor()
    assert CLOCK_MARGIN == timedelta(minutes=2)
    assert read.started_at == page_1_date
    assert cursor.value == page_1_date - timedelta(minutes=2)
    assert cursor.sort_field == "updated_at"
    assert read.report.clean is True
    # digests only for rows at/after the watermark, and untimed rows; ids[2] was read (on page 1)
    # before its change, with its old time: it has none, so the next run reads it again
    assert cursor.digests == {str(k): read.seen[str(k)][0] for k in (ids[0], ids[1])}
    assert str(ids[2]) in read.seen


def test_a_watermark_never_moves_back(sim):
    future = datetime(2099, 1, 1, tzinfo=UTC)
    read = reader(sim, cursor=Cursor(future, {}), full_scan=True)
    walk(read)
    assert read.report.clean is True
    assert read.next_cursor().value == future


def test_a_watermark_moves_forward_from_an_older_one(sim):
    read = reader(sim, cursor=Cursor(datetime(2020, 1, 1, tzinfo=UTC), {}), full_scan=True)
    walk(read)
    assert read.next_cursor().value == sim.org.now - CLOCK_MARGIN


def test_an_unclean_first_walk_stores_no_watermark_and_no_digests(sim):
    victim = served_order(sim)[3]
    sim.faults = FaultPlan([change_between("members", 2, lambda: sim.org.delete_member(victim))])
    read = reader(sim)
    walk(read)
    assert read.totals == [35, 34, 34, 34]
    assert read.report.clean is False
    assert read.next_cursor() == Cursor(None, {}, "updated_at")


def test_an_unclean_walk_keeps_the_watermark_and_the_digests_of_rows_after_it(sim):
    order = served_order(sim)
    recs = {m["id"]: m for m in sim.org.records("members")}
    kept = parse_ts(recs[order[5]]["updated_at"])  # rows 0..5 are at or after it
    victim = order[20]
    sim.faults = FaultPlan([change_between("members", 3, lambda: sim.org.delete_member(victim))])
    read = reader(sim, cursor=Cursor(kept, {}), full_scan=True)
    walk(read)
    assert read.report.clean is False
    cursor = read.next_cursor()
    assert cursor.value == kept
    assert set(cursor.digests) == {str(k) for k in order[:6]}


def test_a_walk_not_finished_moves_nothing(sim):
    loaded = Cursor(t(0), {"1": "d"})
    read = reader(sim, cursor=loaded, full_scan=True)
    pages = read.rows()
    next(pages)
    assert read.next_cursor() is loaded
    assert read.may_sweep is False
    pages.close()


def test_an_endpoint_without_update_times_keeps_its_cursor(sim):
    loaded = Cursor()
    read = reader(sim, TAGS, cursor=loaded)
    pages = walk(read)
    assert len(keys(pages)) == 25
    assert read.next_cursor() is loaded
    assert read.full_scan is True
    assert [r["query"].get("sort") for r in list_requests(sim, "tags")] == [None] * 3


def test_a_read_with_a_watermark_is_incremental_only_for_an_endpoint_with_update_times(sim):
    assert reader(sim, MEMBERS, cursor=Cursor(t(0))).full_scan is False
    assert reader(sim, MEMBERS, cursor=Cursor(t(0)), full_scan=True).full_scan is True
    assert reader(sim, MEMBERS, cursor=Cursor()).full_scan is True
    assert reader(sim, TAGS, cursor=Cursor(t(0))).full_scan is True


# ================================================================== incremental walks and the sort probe
def changed_since(sim: Simulator, n: int = 2) -> List[int]:
    """Update the n oldest members (the last page of newest-first): only they are new."""
    timed = {m["id"] for m in sim.org.records("members") if m["updated_at"]}
    oldest = [m for m in served_order(sim) if m in timed][-n:]
    for m in oldest:
        sim.org.update_member(m, job_title=f"changed {m}")
    return oldest


def test_an_honoured_sort_stops_after_page_1_and_one_probe(sim):
    cursor = first_read(sim)
    changed = changed_since(sim)
    sim.reset_counts()
    read = reader(sim, cursor=cursor)
    pages = walk(read)
    assert sorted(keys(pages)) == sorted(changed)
    assert [r["query"]["sort"] for r in list_requests(sim)] == ["-updated_at", "updated_at"]
    assert [r["query"]["page"] for r in list_requests(sim)] == ["1", "1"]
    report = read.report
    assert (report.mode, report.requests, report.rows_read, report.rows_yielded, report.clean) == (
        "incremental", 2, 10, 2, True)
    assert (read.stopped_early, read.may_sweep) == (True, False)
    assert read.next_cursor().value == sim.org.now - CLOCK_MARGIN


def test_nothing_changed_yields_no_page_at_all(sim):
    cursor = first_read(sim)
    read = reader(sim, cursor=cursor)
    assert walk(read) == []
    assert (read.report.rows_yielded, read.stopped_early) == (0, True)


def test_an_early_stop_keeps_the_digests_of_untimed_rows_it_never_reached(sim):
    untimed = served_order(sim, "members", "id", False)[0]
    sim.org.update_member(untimed, updated_at=None)
    cursor = first_read(sim)
    assert set(cursor.digests) == {str(untimed)}
    changed = changed_since(sim, 1)
    read = reader(sim, cursor=cursor)
    walk(read)
    assert read.stopped_early is True
    assert str(untimed) not in read.seen
    assert read.next_cursor().digests == {str(untimed): cursor.digests[str(untimed)],
                                          str(changed[0]): read.seen[str(changed[0])][0]}


def test_an_early_stop_replaces_the_digest_of_a_row_it_read_again():
    first = member(1, t(100), v="new")
    rows = {1: [first, member(2, t(50))], 2: [member(3, t(-10)), member(4, t(-20))]}
    probe = [member(9, t(-90)), member(8, t(-80))]

    def answer(path, params):
        if params.get("sort") == "updated_at":
            return FakeResponse(body=page_body(probe, 6, 1, 2))
        page = params["page"]
        return FakeResponse(body=page_body(rows.get(page, []), 6, page, 2),
                            headers={"Date": "Thu, 01 Jan 2026 12:01:00 GMT"})

    client = ScriptedClient(answer)
    loaded = Cursor(t(60), {"1": "old", "2": "gone-by-now", "7": "never-reached"})
    read = EndpointRead(client, MEMBERS, "o", ReadOptions(per_page=2), loaded, False)
    pages = walk(read)
    assert keys(pages) == [1]  # 2 changed before the watermark: already loaded
    assert read.stopped_early is True
    cursor = read.next_cursor()
    assert cursor.value == t(60)  # the server's clock minus the margin is older: kept
    # 1: read again, its new digest; 2: older than the watermark, none; 7: not reached, kept
    assert cursor.digests == {"1": row_digest(first), "7": "never-reached"}


def test_a_server_ignoring_the_sort_is_read_in_full_without_a_probe():
    with make_sim(honour_sort=False) as server:
        cursor = first_read(server)
        changed = changed_since(server)
        server.reset_counts()
        read = reader(server, cursor=cursor)
        pages = walk(read)
        assert sorted(keys(pages)) == sorted(changed)
        assert [r["query"]["sort"] for r in list_requests(server)] == ["-updated_at"] * 4
        assert (read.report.mode, read.report.requests, read.stopped_early) == ("incremental-full-scan", 4, False)
        assert read.sorted_newest_first is False
        assert read.may_sweep is False  # not a full read by intent


def test_a_server_sorting_only_within_pages_fails_the_probe_and_is_read_in_full():
    with make_sim() as server:
        cursor = first_read(server)
        server.sort_within_pages = True
        changed = changed_since(server)
        server.reset_counts()
        read = reader(server, cursor=cursor)
        pages = walk(read)
        assert sorted(keys(pages)) == sorted(changed)
        sorts = [r["query"]["sort"] for r in list_requests(server)]
        assert sorts.count("updated_at") == 1  # one probe, which failed
        assert len(sorts) == 5
        assert (read.report.mode, read.stopped_early) == ("incremental-full-scan", False)


def test_a_window_reaching_past_page_1_reads_on_until_rows_are_older_than_the_watermark(sim):
    cursor = first_read(sim)
    changed = changed_since(sim, 14)
    read = reader(sim, cursor=cursor)
    pages = walk(read)
    assert sorted(keys(pages)) == sorted(changed)
    assert [r["query"]["page"] for r in list_requests(sim)][-3:] == ["1", "2", "1"]  # page 2, then the probe
    assert read.report.requests == 3


def test_one_short_page_left_is_read_instead_of_probed():
    with make_sim(members=15) as server:
        cursor = first_read(server)
        changed = changed_since(server, 1)
        server.reset_counts()
        read = reader(server, cursor=cursor)
        assert keys(walk(read)) == changed
        assert [r["query"]["sort"] for r in list_requests(server)] == ["-updated_at", "-updated_at"]
        assert (read.stopped_early, read.report.mode, read.report.requests) == (False, "incremental", 2)


def test_a_full_page_left_is_probed_not_read():
    with make_sim(members=20) as server:
        cursor = first_read(server)
        changed_since(server, 1)
        server.reset_counts()
        read = reader(server, cursor=cursor)
        walk(read)
        assert [r["query"]["sort"] for r in list_requests(server)] == ["-updated_at", "updated_at"]
        assert read.stopped_early is True


def test_a_last_page_needs_no_probe():
    with make_sim(members=10) as server:
        cursor = first_read(server)
        changed_since(server, 1)
        server.reset_counts()
        read = reader(server, cursor=cursor)
        walk(read)
        assert len(list_requests(server)) == 1
        assert (read.stopped_early, read.finished) == (False, True)


def test_a_page_without_a_total_is_probed(sim):
    cursor = first_read(sim)
    changed_since(sim, 1)
    sim.faults = FaultPlan([Fault("missing_meta", resource="members", page=1, query={"sort": "-updated_at"})])
    sim.reset_counts()
    read = reader(sim, cursor=cursor)
    walk(read)
    assert [r["query"]["sort"] for r in list_requests(sim)] == ["-updated_at", "updated_at"]
    assert read.stopped_early is True


def test_rows_all_after_the_watermark_are_all_read_newest_first(sim):
    read = reader(sim, cursor=Cursor(datetime(2000, 1, 1, tzinfo=UTC)))
    pages = walk(read)
    assert keys(pages) == served_order(sim)
    assert (read.report.mode, read.report.requests, read.stopped_early, read.sorted_newest_first) == (
        "incremental", 4, False, True)


def test_a_full_scan_yields_every_row_even_when_the_cursor_knows_it(sim):
    cursor = first_read(sim)
    read = reader(sim, cursor=cursor, full_scan=True)
    assert len(keys(walk(read))) == 35
    assert read.may_sweep is True


# ---------------------------------------------------------------- the probe's conditions, one at a time
def probing(sim: Simulator, stop_time: datetime, seen=(), totals=(35,)) -> bool:
    read = reader(sim, cursor=Cursor(t(0)))
    read.seen = {str(k): ("d", None) for k in seen}
    read.totals = list(totals)
    before = read.report.requests
    proved = read._probe_proves_sort(stop_time)
    assert read.report.requests == before + 1
    return proved


def oldest(sim: Simulator, n: int = 10) -> List[Dict[str, Any]]:
    order = served_order(sim, desc=False)[:n]
    recs = {m["id"]: m for m in sim.org.records("members")}
    return [recs[i] for i in order]


def test_the_probe_proves_a_sort_that_returns_the_oldest_rows_first(sim):
    newest_oldest = parse_ts(oldest(sim)[-1]["updated_at"])
    assert probing(sim, newest_oldest) is True
    assert probing(sim, newest_oldest, totals=()) is True
    probe = [r for r in list_requests(sim) if r["query"].get("sort") == "updated_at"]
    assert probe[0]["query"] == {"with": "stats", "sort": "updated_at", "per_page": "10", "page": "1"}


def test_the_probe_fails_when_its_rows_are_newer_than_the_stop_page(sim):
    newest_oldest = parse_ts(oldest(sim)[-1]["updated_at"])
    assert probing(sim, newest_oldest - timedelta(seconds=1)) is False


def test_the_probe_fails_when_it_returns_a_row_already_read(sim):
    newest_oldest = parse_ts(oldest(sim)[-1]["updated_at"])
    assert probing(sim, newest_oldest, seen=[oldest(sim)[4]["id"]]) is False
    assert probing(sim, newest_oldest, seen=[99999]) is True


def test_the_probe_fails_when_the_total_changed(sim):
    newest_oldest = parse_ts(oldest(sim)[-1]["updated_at"])
    assert probing(sim, newest_oldest, totals=(35, 36)) is False
    assert probing(sim, newest_oldest, totals=(36, 35)) is True


def test_the_probe_fails_when_its_rows_are_not_ascending():
    with make_sim(honour_sort=False) as server:
        assert probing(server, datetime(2100, 1, 1, tzinfo=UTC)) is False


def test_the_probe_fails_on_an_empty_list():
    with make_sim(members=0) as server:
        assert probing(server, datetime(2100, 1, 1, tzinfo=UTC), totals=(0,)) is False


def test_the_probe_fails_when_its_rows_have_no_update_time(sim):
    for m in oldest(sim, 35)[:12]:
        sim.org.update_member(m["id"], updated_at=None)  # untimed rows sort first, ascending
    assert probing(sim, datetime(2100, 1, 1, tzinfo=UTC)) is False


@pytest.mark.parametrize("status", [400, 422])
def test_a_probe_whose_sort_is_refused_proves_nothing(sim, status):
    sim.faults = FaultPlan([Fault("status", status=status, query={"sort": "updated_at"}, times=None)])
    assert probing(sim, datetime(2100, 1, 1, tzinfo=UTC)) is False


def test_a_probe_failing_otherwise_fails_the_walk(sim):
    sim.faults = FaultPlan([Fault("status", status=403, query={"sort": "updated_at"}, times=None)])
    with pytest.raises(TallyfyAPIError) as raised:
        probing(sim, datetime(2100, 1, 1, tzinfo=UTC))
    assert raised.value.status == 403


def test_a_walk_whose_probe_is_refused_reads_every_page(sim):
    cursor = first_read(sim)
    changed = changed_since(sim)
    sim.faults = FaultPlan([Fault("status", status=422, query={"sort": "updated_at"}, times=None)])
    sim.reset_counts()
    read = reader(sim, cursor=cursor)
    assert sorted(keys(walk(read))) == sorted(changed)
    assert (read.report.mode, read.stopped_early, read.report.requests) == ("incremental-full-scan", False, 5)


# ---------------------------------------------------------------- a sort refused by the list itself
@pytest.mark.parametrize("status", [400, 422])
def test_a_refused_sort_is_read_again_without_it(sim, status):
    cursor = first_read(sim)
    changed = changed_since(sim)
    sim.faults = FaultPlan([Fault("status", status=status, resource="members", query={"sort": "-updated_at"})])
    sim.reset_counts()
    read = reader(sim, cursor=cursor)
    pages = walk(read)
    assert sorted(keys(pages)) == sorted(changed)
    asked = list_requests(sim)
    assert [r["status"] for r in asked] == [status, 200, 200, 200, 200]
    assert [r["query"].get("sort") for r in asked] == ["-updated_at", None, None, None, None]
    assert (read.report.mode, read.report.rows_read) == ("full", 35)
    assert read.sorted_newest_first is False
    assert read.report.requests == 5  # the refused request counts too


def test_a_sort_refused_after_rows_were_read_fails_the_walk(sim):
    sim.faults = FaultPlan([Fault("status", status=422, resource="members", page=2)])
    with pytest.raises(TallyfyAPIError) as raised:
        walk(reader(sim))
    assert raised.value.status == 422


def test_a_422_on_an_endpoint_read_without_a_sort_fails_the_walk(sim):
    sim.faults = FaultPlan([Fault("status", status=422, resource="tags")])
    with pytest.raises(TallyfyAPIError):
        walk(reader(sim, TAGS))


def test_another_error_on_a_sorted_walk_fails_it(sim):
    sim.faults = FaultPlan([Fault("status", status=403, resource="members")])
    with pytest.raises(TallyfyAPIError) as raised:
        walk(reader(sim))
    assert raised.value.status == 403


# ================================================================== rows moving while the walk reads
def test_a_concurrent_sorted_walk_reads_page_1_again_at_the_end(sim):
    read = reader(sim, concurrency=4)
    walk(read)
    asked = list_requests(sim)
    assert len(asked) == 5 and read.report.requests == 5
    assert asked[-1]["query"] == {"with": "stats", "sort": "-updated_at", "per_page": "10", "page": "1"}
    assert read.report.clean is True
    assert read.next_cursor().value == sim.org.now - CLOCK_MARGIN


def test_a_row_moving_onto_page_1_after_a_concurrent_walk_makes_it_unclean(sim):
    last = served_order(sim)[-1]
    sim.faults = FaultPlan([Fault("mutate", request=5, action=lambda: sim.org.update_member(last, job_title="x"))])
    read = reader(sim, concurrency=4)
    walk(read)
    assert read.totals == [35, 35, 35, 35]
    assert (read.report.clean, read.moved) == (False, True)
    assert read.next_cursor().value is None


def test_a_total_changing_after_a_concurrent_walk_makes_it_unclean(sim):
    last = served_order(sim)[-1]
    sim.faults = FaultPlan([Fault("mutate", request=5, action=lambda: sim.org.delete_member(last))])
    read = reader(sim, concurrency=4)
    walk(read)
    assert read.first_page_keys == served_order(sim)[:10]
    assert (read.report.clean, read.moved) == (False, True)


def test_a_sequential_walk_and_a_one_page_walk_need_no_second_look():
    with make_sim() as server:
        walk(reader(server, concurrency=1))
        assert len(list_requests(server)) == 4
    with make_sim(members=8) as server:
        walk(reader(server, concurrency=4))
        assert len(list_requests(server)) == 1


def test_an_unsorted_concurrent_walk_needs_no_second_look(sim):
    walk(reader(sim, TAGS, concurrency=4))
    assert len(list_requests(sim, "tags")) == 3


def test_an_already_unclean_walk_needs_no_second_look(sim):
    sim.faults = FaultPlan([Fault("wrong_total", resource="members", page=2)])
    read = reader(sim, concurrency=4)
    walk(read)
    assert len(list_requests(sim)) == 4
    assert read.report.clean is False


def test_an_incremental_walk_is_not_concurrent(sim):
    read = reader(sim, cursor=Cursor(datetime(2000, 1, 1, tzinfo=UTC)), concurrency=4)
    walk(read)
    assert read.concurrent is False
    assert len(list_requests(sim)) == 4


def test_a_refused_sort_walk_read_concurrently_needs_no_second_look(sim):
    sim.faults = FaultPlan([Fault("status", status=422, resource="members", query={"sort": "-updated_at"})])
    read = reader(sim, concurrency=4)
    walk(read)
    assert (read.concurrent, read.sorted_newest_first) == (True, False)
    assert len(list_requests(sim)) == 5  # the refused page 1, then 4 pages


def test_a_total_changing_between_pages_makes_the_walk_unclean(sim):
    sim.faults = FaultPlan([Fault("wrong_total", resource="members", page=3, total_delta=1)])
    read = reader(sim)
    walk(read)
    assert read.totals == [35, 35, 36, 35]
    assert (read.report.clean, read.moved, read.changed_twice) == (False, False, set())


def test_a_row_read_twice_with_the_same_content_is_yielded_once_and_makes_the_walk_unclean(sim):
    order = served_order(sim)
    sim.faults = FaultPlan([change_between("members", 2, lambda: sim.org.update_member(order[25], job_title="x"))])
    read = reader(sim)
    pages = walk(read)
    got = keys(pages)
    assert len(got) == len(set(got)) == 34  # order[9] twice, read once; order[25] missed
    assert order[25] not in got
    assert (read.moved, read.changed_twice, read.report.clean) == (True, set(), False)
    assert read.report.rows_read == 34


def test_a_row_read_twice_with_other_content_gets_no_digest(sim):
    order = served_order(sim)
    recs = {m["id"]: m for m in sim.org.records("members")}
    twice = order[9]

    def change():
        sim.org.update_member(twice, job_title="same time, other content", updated_at=recs[twice]["updated_at"])
        sim.org.update_member(order[25], job_title="x")

    sim.faults = FaultPlan([change_between("members", 2, change)])
    kept = parse_ts(recs[twice]["updated_at"])
    read = reader(sim, cursor=Cursor(kept), full_scan=True)
    pages = walk(read)
    assert keys(pages).count(twice) == 2
    assert read.changed_twice == {str(twice)}
    cursor = read.next_cursor()
    assert cursor.value == kept
    assert set(cursor.digests) == {str(k) for k in order[:9]}


def test_a_row_changed_during_an_unsorted_walk_makes_it_unclean():
    with make_sim(honour_sort=False) as server:
        ids = served_order(server, "members", "id", False)
        change = change_between("members", 2, lambda: server.org.update_member(ids[15], job_title="x"))
        server.faults = FaultPlan([change])
        read = reader(server)
        walk(read)
        assert (read.moved, read.report.clean) == (True, False)


def test_a_row_on_page_1_stamped_with_the_walks_start_is_not_a_sign_of_moving():
    with make_sim(honour_sort=False) as server:
        ids = served_order(server, "members", "id", False)
        server.org.update_member(ids[5], job_title="x")  # stamped with the clock page 1 reports
        read = reader(server)
        walk(read)
        assert read.seen[str(ids[5])][1] == read.started_at
        assert (read.moved, read.report.clean) == (False, True)


def test_a_row_on_a_later_page_stamped_with_the_walks_start_counts_as_moved():
    with make_sim(honour_sort=False) as server:
        ids = served_order(server, "members", "id", False)
        server.org.update_member(ids[15], job_title="x")  # stamped with the clock page 1 reports
        read = reader(server)
        walk(read)
        assert read.seen[str(ids[15])][1] == read.started_at
        assert (read.moved, read.report.clean) == (True, False)


def test_rows_changed_during_a_sorted_walk_are_judged_by_the_order_not_by_their_time(sim):
    first = served_order(sim)[0]
    sim.faults = FaultPlan([change_between("members", 2, lambda: sim.org.update_member(first, job_title="x"))])
    read = reader(sim)
    walk(read)
    assert (read.moved, read.report.clean) == (False, True)


def test_a_total_that_is_not_a_number_is_ignored():
    read, _ = scripted_read({1: [member(1, t(0)), member(2, t(-1))]}, totals="many",
                            date="Thu, 01 Jan 2026 12:00:00 GMT")
    walk(read)
    assert (read.totals, read.report.total, read.report.clean, read.may_sweep) == ([], None, True, True)


def test_a_total_given_as_text_is_counted():
    read, _ = scripted_read({1: [member(1, t(0)), member(2, t(-1))]}, totals="2",
                            date="Thu, 01 Jan 2026 12:00:00 GMT")
    walk(read)
    assert (read.totals, read.report.total) == ([2], 2)


# ================================================================== may a sweep delete?
def test_a_finished_full_read_that_saw_fewer_rows_than_the_total_may_not_sweep(sim):
    sim.faults = FaultPlan([Fault("wrong_total", resource="members", page=4, total_delta=5)])
    read = reader(sim)
    walk(read)
    assert (read.totals[-1], len(read.seen), read.may_sweep) == (40, 35, False)


def test_a_full_read_seeing_as_many_rows_as_the_last_total_may_sweep(sim):
    sim.faults = FaultPlan([Fault("wrong_total", resource="members", page=1, total_delta=5)])
    read = reader(sim)
    walk(read)
    assert (read.totals, len(read.seen), read.may_sweep) == ([40, 35, 35, 35], 35, True)
    sim.faults = FaultPlan([Fault("wrong_total", resource="members", page=4, total_delta=-1)])
    read = reader(sim)
    walk(read)
    assert (read.totals[-1], len(read.seen), read.may_sweep) == (34, 35, True)


def test_a_full_read_without_totals_may_sweep():
    read, _ = scripted_read({1: [member(1, t(0))]}, totals=None)
    walk(read)
    assert (read.totals, read.may_sweep) == ([], True)


def test_an_incremental_walk_may_not_sweep_even_if_it_read_everything(sim):
    read = reader(sim, cursor=Cursor(datetime(2000, 1, 1, tzinfo=UTC)))
    walk(read)
    assert (read.finished, read.stopped_early, len(read.seen), read.may_sweep) == (True, False, 35, False)


def test_a_full_read_that_stopped_early_may_not_sweep(sim):
    read = reader(sim, full_scan=True)
    walk(read)
    read.stopped_early = True
    assert read.may_sweep is False


# ================================================================== the cursor's edge cases
def test_without_a_date_header_the_watermark_comes_from_page_1s_newest_row():
    read, _ = scripted_read({1: [member(1, t(0)), member(2, t(-5))]}, totals=2)
    walk(read)
    assert read.started_at is None
    assert read.next_cursor().value == t(0) - CLOCK_MARGIN


def test_without_a_date_header_nor_times_no_watermark_is_set():
    read, _ = scripted_read({1: [member(1, None), member(2, None)]}, totals=2)
    walk(read)
    cursor = read.next_cursor()
    assert (cursor.value, cursor.digests) == (None, {})


def test_without_a_date_header_an_older_watermark_is_kept():
    read, _ = scripted_read({1: [member(1, t(0))]}, totals=1, cursor=Cursor(t(3600)))
    walk(read)
    assert read.next_cursor().value == t(3600)


def test_the_newest_row_of_page_1_is_its_maximum_not_its_first():
    read, _ = scripted_read({1: [member(1, t(-5)), member(2, None), member(3, t(7)), member(4, t(1))]}, totals=4)
    walk(read)
    assert read.first_page_newest == t(7)
    assert read.first_page_keys == [1, 2, 3, 4]


def test_too_many_digests_are_dropped_rather_than_bloating_the_state(monkeypatch):
    monkeypatch.setattr(reading, "MAX_DIGESTS", 3)
    read, _ = scripted_read({1: [member(i, None) for i in range(3)]}, totals=3, date="Thu, 01 Jan 2026 12:00:00 GMT")
    walk(read)
    assert set(read.next_cursor().digests) == {"0", "1", "2"}
    read, _ = scripted_read({1: [member(i, None) for i in range(4)]}, totals=4, date="Thu, 01 Jan 2026 12:00:00 GMT")
    walk(read)
    assert read.next_cursor().digests == {}
    assert read.next_cursor().value == T0 - CLOCK_MARGIN


def test_the_update_time_spelling_of_page_1_is_what_the_next_walk_sorts_by():
    with make_sim(update_field_name="last_updated") as server:
        read = reader(server)
        walk(read)
        assert read.sort_field == "last_updated"
        cursor = read.next_cursor()
        assert cursor.sort_field == "last_updated"
        assert all(isinstance(r[1], datetime) for r in read.seen.values())
        changed_since(server, 1)
        server.reset_counts()
        walk(reader(server, cursor=cursor))
        assert [r["query"]["sort"] for r in list_requests(server)] == ["-last_updated", "last_updated"]


def test_a_page_1_without_either_spelling_keeps_the_known_sort_field():
    read, _ = scripted_read({1: [{"id": 1}]}, totals=1, cursor=Cursor(t(0), {}, "last_updated"))
    walk(read)
    assert read.next_cursor().sort_field == "last_updated"
    read, _ = scripted_read({1: [{"id": 1, "last_updated": None}]}, totals=1)
    walk(read)
    assert read.next_cursor().sort_field == "last_updated"


def test_an_endpoint_without_update_times_keeps_its_sort_field_whatever_page_1_holds():
    read, _ = scripted_read({1: [{"id": "t1", "last_updated": "2026-01-01T00:00:00Z"}]}, totals=1, endpoint=TAGS)
    walk(read)
    assert read.sort_field == "updated_at"
    assert read.seen["t1"][1] is None  # TAGS rows carry no update time to compare


# ================================================================== confirming a deletion
def item_requests(sim: Simulator) -> List[Dict[str, Any]]:
    return [r for r in sim.requests if r["kind"] == "item"]


def test_a_key_answered_with_a_404_naming_the_record_is_deleted(sim):
    gone = served_order(sim)[0]
    sim.org.delete_member(gone)
    read = reader(sim)
    assert list(read.check_missing([gone])) == [("deleted", gone, None)]
    assert [(r["path"], r["query"], r["status"]) for r in item_requests(sim)] == [
        (f"/api/organizations/{ORG}/users/{gone}", {"with": "stats"}, 404)]
    assert read.report.requests == 1


def test_a_key_that_exists_after_all_is_returned_as_a_shaped_row(sim):
    there = served_order(sim)[3]
    read = reader(sim)
    [(outcome, key, row)] = read.check_missing([there])
    expected = next(r for r in sim.org.served("members", include=["stats"]) if r["id"] == there)
    assert (outcome, key) == ("exists", there)
    assert row == shape_row(dict(expected), ORG, True)
    assert isinstance(row["updated_at"], datetime) and isinstance(row["stats"], dict)


#: the fault's settings, not a Fault: a Fault counts its firings, and one made at collection
#: time would already be spent when the same process collects the module again (mutmut runs
#: pytest twice in one process: its stats, then the clean run)
@pytest.mark.parametrize("kind, status", [("truncated", 200), ("not_json", 200), ("status", 503)])
def test_a_cut_or_failed_answer_to_a_confirmation_is_asked_again(sim, kind, status):
    there = served_order(sim)[3]
    fault = Fault(kind, status=status, item=True) if kind == "status" else Fault(kind, item=True)
    sim.faults = FaultPlan([fault])
    [(outcome, key, row)] = reader(sim).check_missing([there])
    assert (outcome, key, row["id"]) == ("exists", there, there)
    assert [r["status"] for r in item_requests(sim)] == [fault.status, 200]


def test_a_confirmation_that_keeps_failing_proves_nothing(sim):
    there = served_order(sim)[3]
    sim.faults = FaultPlan([Fault("truncated", item=True, times=None)])
    assert list(reader(sim).check_missing([there])) == [("unknown", there, None)]
    assert len(item_requests(sim)) == 2  # max_attempts of the test client


def test_a_guest_key_is_asked_for_with_its_at_sign_and_a_slash_escaped(sim):
    guest = sim.org.records("guests")[0]["email"]
    read = reader(sim, GUESTS)
    assert list(read.check_missing([guest, "no/such@example.com"])) == [
        ("exists", guest, shape_row(dict(next(g for g in sim.org.served("guests") if g["email"] == guest)),
                                    ORG, False)),
        ("deleted", "no/such@example.com", None)]
    assert [r["path"] for r in item_requests(sim)] == [f"/api/organizations/{ORG}/guests/{guest}",
                                                       f"/api/organizations/{ORG}/guests/no%2Fsuch@example.com"]


def test_keys_past_the_confirmation_limit_stay_unknown_without_a_request(sim):
    ids = served_order(sim)
    read = reader(sim, max_confirmations=2)
    outcomes = list(read.check_missing([ids[0], ids[1], ids[2], ids[3]]))
    assert [o[0] for o in outcomes] == ["exists", "exists", "unknown", "unknown"]
    assert outcomes[2:] == [("unknown", ids[2], None), ("unknown", ids[3], None)]
    assert len(item_requests(sim)) == 2 and read.report.requests == 2


def test_the_default_confirmation_limit_is_100(sim):
    assert ReadOptions().max_confirmations == 100
    assert ReadOptions() == ReadOptions(per_page=100, concurrency=1, full_refresh=False, sweep=False,
                                        sweep_interval_hours=24.0, deleted_records="delete", max_confirmations=100)


def test_a_route_the_server_does_not_know_proves_nothing(sim):
    bogus = dataclasses.replace(MEMBERS, path="nonexistent")
    read = reader(sim, bogus)
    assert list(read.check_missing([10001])) == [("unknown", 10001, None)]
    assert item_requests(sim) == [] and sim.requests[-1]["status"] == 404


def test_an_org_the_token_cannot_read_proves_nothing(sim):
    read = reader(sim, org_id="f" * 32)
    # a 403 is its own outcome: the key is remembered, never deleted on one sighting
    assert list(read.check_missing([10001])) == [("forbidden", 10001, None)]
    assert [r["status"] for r in item_requests(sim)] == [403]


def scripted_check(response: FakeResponse):
    client = ScriptedClient(lambda path, params: response)
    read = EndpointRead(client, MEMBERS, "o", ReadOptions(), Cursor(), True)
    return read._check_one(7), client


@pytest.mark.parametrize("response,outcome", [
    (FakeResponse(404, {"code": "ENDPOINT_NOT_FOUND"}), "unknown"),
    (FakeResponse(404, {"code": "RESOURCE_NOT_FOUND"}), "deleted"),
    (FakeResponse(500, {"code": "SERVER_ERROR"}), "unknown"),
    (FakeResponse(201, {"data": {"id": 7}}), "unknown"),
    (FakeResponse(200, None, json_error=True), "unknown"),
    (FakeResponse(200, ["x"]), "unknown"),
    (FakeResponse(200, {"data": None}), "unknown"),
    (FakeResponse(200, {"data": [{"id": 7}]}), "unknown"),
])
def test_only_a_404_that_is_not_a_missing_route_means_deleted_and_only_a_200_record_means_exists(response, outcome):
    (got, key, row), client = scripted_check(response)
    assert (got, key, row) == (outcome, 7, None)
    assert client.asked == [("organizations/o/users/7", {"with": "stats"})]


def test_a_200_record_is_shaped_with_its_update_time():
    (got, key, row), _ = scripted_check(FakeResponse(200, {"data": {"id": 7, "last_updated": "2026-01-01T12:00:00Z",
                                                                     "stats": {"data": {"n": 1}}}}))
    assert (got, key, row) == ("exists", 7, {"id": 7, "updated_at": T0, "stats": {"n": 1}, "org_id": "o"})


# ================================================================== what a sweep removes
def test_rows_the_sweep_did_not_see_are_absent_compared_as_text():
    loaded = [{"id": 1, "x": "a"}, {"id": "2"}, {"id": 3}, {"x": "no key"}]
    assert absent(loaded, [1, 2], "id") == [{"id": 3}, {"x": "no key"}]
    assert absent(loaded, ["1", "2", "3", "None"], "id") == []
    assert absent(loaded, iter([]), "id") == loaded
    assert absent([], [1], "id") == []


def test_a_confirmed_deletion_becomes_a_tombstone_in_delete_mode():
    gone = [{"org_id": "o", "id": "t1", "title": "A", "_dlt_id": "x1"}, {"org_id": "o", "id": "t2", "_dlt_id": "x2"}]
    assert removal_rows(TAGS, "o", gone, "delete", T0) == [
        {"org_id": "o", "id": "t1", DELETED_COLUMN: True}, {"org_id": "o", "id": "t2", DELETED_COLUMN: True}]
    assert DELETED_COLUMN == "_tallyfy_deleted"
    assert removal_rows(GUESTS, "o", [{"email": "a@x", "_dlt_id": "x"}], "delete", T0) == [
        {"org_id": "o", "email": "a@x", DELETED_COLUMN: True}]


def test_nothing_gone_removes_nothing():
    assert removal_rows(TAGS, "o", [], "delete", T0) == []
    assert removal_rows(GROUPS, "o", [], "flag", T0) == []


def test_a_confirmed_deletion_is_flagged_with_its_last_loaded_row_in_flag_mode():
    gone = [{"org_id": "o", "id": "t1", "title": "A", "_dlt_id": "x1", "_dlt_load_id": "9"}]
    assert removal_rows(TAGS, "o", gone, "flag", T0) == [
        {"org_id": "o", "id": "t1", "title": "A", MISSING_SINCE_COLUMN: T0}]
    assert MISSING_SINCE_COLUMN == "missing_since"


def test_a_flagged_group_gets_its_child_lists_back(monkeypatch):
    asked = []

    def child_lists(table, parent_ids, fields=()):
        asked.append((table, parent_ids, tuple(fields)))
        return {"members": {"x1": [5, 6]}, "guests": {"x2": ["a@x"]}}

    monkeypatch.setattr(deletes, "child_lists", child_lists)
    gone = [{"org_id": "o", "id": "g1", "_dlt_id": "x1"}, {"org_id": "o", "id": "g2", "_dlt_id": "x2"}]
    assert removal_rows(GROUPS, "o", gone, "flag", T0) == [
        {"org_id": "o", "id": "g1", "members": [5, 6], "guests": [], MISSING_SINCE_COLUMN: T0},
        {"org_id": "o", "id": "g2", "members": [], "guests": ["a@x"], MISSING_SINCE_COLUMN: T0}]
    assert asked == [("groups", ["x1", "x2"], ("members", "guests"))]


def test_flag_mode_compares_only_rows_not_flagged_yet(monkeypatch):
    asked = []
    def loaded(table, org, where_missing_since_null, columns=None, keep=None):
        asked.append((table, org, where_missing_since_null, columns))
        return [row for row in ({"id": 1}, {"id": 2}) if keep is None or keep(row)]

    monkeypatch.setattr(deletes, "_loaded_rows", loaded)
    assert loaded_rows(GROUPS, "o", "flag") == [{"id": 1}, {"id": 2}]
    assert loaded_rows(TAGS, "p", "delete") == [{"id": 1}, {"id": 2}]
    # a sweep reads the key column alone and keeps the keys it did not see, as typed
    assert absent_keys(MEMBERS, "q", "flag", ["2"]) == [1]
    assert asked == [("groups", "o", True, None), ("tags", "p", False, None), ("members", "q", True, ["id"])]


def test_a_tombstone_needs_the_key_alone_and_a_flag_the_whole_last_row(monkeypatch):
    asked = []
    def where(table, org, column, values, mode):
        asked.append((table, org, column, values, mode))
        return [{"org_id": org, "id": v, "name": "N", "_dlt_id": f"x{v}"} for v in values]

    monkeypatch.setattr(deletes, "loaded_where", where)
    keys = [{"id": 7}, {"id": 9}]
    assert last_loaded(MEMBERS, "o", keys, "delete") is keys
    assert last_loaded(MEMBERS, "o", [], "flag") == []
    assert asked == []
    assert last_loaded(MEMBERS, "o", keys, "flag") == [{"org_id": "o", "id": 7, "name": "N", "_dlt_id": "x7"},
                                                        {"org_id": "o", "id": 9, "name": "N", "_dlt_id": "x9"}]
    assert asked == [("members", "o", "id", [7, 9], "flag")]


# ================================================================== killing mutmut's first survivors
def test_rows_known_by_digest_are_not_yielded_again(sim):
    recent = served_order(sim, "members", "id", False)[:2]
    for m in recent:
        sim.org.update_member(m, job_title="recent")  # at/after the next watermark: kept by digest
    cursor = first_read(sim)
    assert set(cursor.digests) == {str(m) for m in recent}
    read = reader(sim, cursor=cursor)
    assert walk(read) == []
    same_second = sim.org.get("members", recent[0])["updated_at"]
    sim.org.update_member(recent[0], job_title="again, same second", updated_at=same_second)
    read = reader(sim, cursor=cursor)
    assert keys(walk(read)) == [recent[0]]


def test_a_page_whose_second_to_last_row_is_new_stops_at_its_last_row(sim):
    cursor = first_read(sim)
    changed_since(sim, 9)  # page 1: nine changed rows, then one older than the watermark
    sim.reset_counts()
    read = reader(sim, cursor=cursor)
    walk(read)
    assert [r["query"]["sort"] for r in list_requests(sim)] == ["-updated_at", "updated_at"]
    assert read.stopped_early is True


def test_rows_at_exactly_the_watermark_are_read_before_stopping():
    pages = {1: [member(1, t(5)), member(2, t(0))], 2: [member(3, t(0)), member(4, t(-5))],
             3: [member(5, t(-6)), member(6, t(-7))]}
    probe = [member(6, t(-7)), member(5, t(-6))]

    def answer(path, params):
        if params.get("sort") == "updated_at":
            return FakeResponse(body=page_body(probe, 6, 1, 2))
        return FakeResponse(body=page_body(pages[params["page"]], 6, params["page"], 2))

    client = ScriptedClient(answer)
    read = EndpointRead(client, MEMBERS, "o", ReadOptions(per_page=2), Cursor(t(0)), False)
    assert keys(walk(read)) == [1, 2, 3]
    assert [(p["page"], p.get("sort")) for _, p in client.asked] == [(1, "-updated_at"), (2, "-updated_at"),
                                                                     (1, "updated_at")]
    assert read.stopped_early is True  # after page 2, the first page ending before the watermark


def test_the_probe_must_not_return_rows_newer_than_the_stop_pages_last_row():
    page_1 = [member(1, t(5)), member(2, t(-1)), member(3, t(-10))]
    probe = [member(7, t(-20)), member(8, t(-15)), member(9, t(-5))]  # older than 2, newer than 3

    def answer(path, params):
        if params.get("sort") == "updated_at":
            return FakeResponse(body=page_body(probe, 9, 1, 3))
        page = params["page"]
        rows = {1: page_1, 2: [member(4, t(-11)), member(5, t(-12)), member(6, t(-13))],
                3: probe[::-1]}.get(page, [])
        return FakeResponse(body=page_body(rows, 9, page, 3))

    read = EndpointRead(ScriptedClient(answer), MEMBERS, "o", ReadOptions(per_page=3), Cursor(t(0)), False)
    walk(read)
    assert (read.stopped_early, read.report.mode, len(read.seen)) == (False, "incremental-full-scan", 9)


def test_the_probe_checks_every_neighbouring_pair_is_ascending():
    probe = [member(7, t(-20)), member(8, t(-15)), member(9, t(-18)), member(10, t(-10))]

    def answer(path, params):
        return FakeResponse(body=page_body(probe, 20, 1, 4))

    read = EndpointRead(ScriptedClient(answer), MEMBERS, "o", ReadOptions(per_page=4), Cursor(t(0)), False)
    read.totals = [20]
    assert read._probe_proves_sort(t(-1)) is False
    probe[2] = member(9, t(-12))
    assert read._probe_proves_sort(t(-1)) is True


def test_a_server_sorting_within_pages_only_is_caught_between_pages_on_a_full_read():
    with make_sim() as server:
        server.sort_within_pages = True
        read = reader(server)
        walk(read)
        assert read.sorted_newest_first is False  # each page was newest first, the list was not
        assert read.report.mode == "full"


def test_two_pages_in_flight_are_a_concurrent_walk(sim):
    read = reader(sim, concurrency=2)
    walk(read)
    assert read.concurrent is True
    assert len(list_requests(sim)) == 5  # page 1 read again at the end


def test_a_concurrent_walk_of_two_pages_does_not_read_page_1_again():
    """With two pages, page 2 is only asked after page 1 was judged: nothing was in flight
    together, so there is nothing for a second look at page 1 to prove."""
    with make_sim(members=15) as server:
        read = reader(server, concurrency=4)
        walk(read)
        assert [r["query"]["page"] for r in list_requests(server)] == ["1", "2"]
        assert read.report.clean and read.next_cursor().value is not None


def overlap_client(rows_per_page=(10, 10, 10, 5), total=35, wait_on=2, started_by=3, slow_page=None):
    """A scripted client whose page `wait_on` waits (up to 0.5 s) for page `started_by` to be
    asked for: `overlapped[wait_on]` says whether both were in flight at once. `slow_page` sleeps
    0.2 s and is recorded in `done` only when its answer is ready."""
    import threading
    import time

    started = threading.Event()
    overlapped: Dict[int, bool] = {}
    done: List[tuple] = []

    def answer(path, params):
        page = params["page"]
        if page == started_by:
            started.set()
        if page == wait_on:
            overlapped[page] = started.wait(timeout=0.5)
        if page == slow_page:
            time.sleep(0.2)
        count = rows_per_page[page - 1] if page <= len(rows_per_page) else 0
        rows = [member((page - 1) * 10 + i, t(-((page - 1) * 10 + i))) for i in range(count)]
        done.append((page, threading.current_thread().name.rsplit("_", 1)[0]))
        return FakeResponse(body=page_body(rows, total, page))

    return ScriptedClient(answer), overlapped, done


def test_a_full_read_keeps_pages_in_flight_and_an_incremental_one_does_not():
    client, overlapped, _ = overlap_client()
    walk(EndpointRead(client, MEMBERS, "o", ReadOptions(per_page=10, concurrency=4), Cursor(), False))
    assert overlapped == {2: True}
    client, overlapped, _ = overlap_client()
    old = Cursor(datetime(2000, 1, 1, tzinfo=UTC))
    read = EndpointRead(client, MEMBERS, "o", ReadOptions(per_page=10, concurrency=4), old, False)
    walk(read)
    assert overlapped == {2: False}
    assert [p["page"] for _, p in client.asked] == [1, 2, 3, 4]


def test_pages_after_page_1_are_fetched_by_the_page_threads_and_finished_before_the_walk_returns():
    from tallyfy_source.api.paging import paginate_concurrently

    # 135 announced: pages 2-5 in flight at once; 4 (short) waits until 5 is asked for, so 5
    # is running, not cancellable, when the walk ends
    client, overlapped, done = overlap_client(total=135, wait_on=4, started_by=5, slow_page=5)
    pages = list(paginate_concurrently(client, "p", {}, 10, 4, {}))
    assert [len(p) for p in pages] == [10, 10, 10, 5]
    assert overlapped == {4: True}
    assert sorted(done)[:5] == [(1, "MainThread"), (2, "tallyfy-page"), (3, "tallyfy-page"), (4, "tallyfy-page"),
                                (5, "tallyfy-page")]  # 5: in flight, and waited for
    assert {name for page, name in done if page > 1} == {"tallyfy-page"}


def test_the_last_announced_page_is_fetched_in_flight_too():
    import threading

    fetched_by = {}

    def answer(path, params):
        page = params["page"]
        fetched_by[page] = threading.current_thread().name.startswith("tallyfy-page")
        rows = [{"id": (page - 1) * 10 + i} for i in range(10 if page < 4 else 5)]
        return FakeResponse(body=page_body(rows, 35, page))

    from tallyfy_source.api.paging import paginate_concurrently
    assert [len(p) for p in paginate_concurrently(ScriptedClient(answer), "p", {}, 10, 4, {})] == [10, 10, 10, 5]
    assert fetched_by == {1: False, 2: True, 3: True, 4: True}


def test_a_sort_refused_then_an_unsorted_page_1_stamped_at_the_walks_start_is_clean(sim):
    ids = served_order(sim, "members", "id", False)
    sim.org.update_member(ids[5], job_title="x")  # stamped with the clock page 1 reports
    sim.faults = FaultPlan([Fault("status", status=422, resource="members", query={"sort": "-updated_at"})])
    read = reader(sim)
    walk(read)
    assert read.seen[str(ids[5])][1] == read.started_at
    assert (read.sorted_newest_first, read.moved, read.report.clean) == (False, False, True)


def test_an_endpoint_without_update_times_ignores_an_updated_at_field():
    read, _ = scripted_read({1: [{"id": "t1", "updated_at": "2026-01-01T00:00:00Z"}],
                             2: []}, totals=1, endpoint=TAGS, date="Thu, 01 Jan 2026 12:00:00 GMT")
    walk(read)
    assert read.seen["t1"][1] is None


def test_a_walk_reading_fewer_rows_than_the_total_says_so(sim, caplog):
    sim.faults = FaultPlan([Fault("wrong_total", resource="members", page=4, total_delta=5)])
    with caplog.at_level(logging.INFO, logger="tallyfy_source"):
        walk(reader(sim))
    assert "members of org %s: read 35 rows but the server reported a total of 40" % ORG in caplog.text
    assert "rows moved between pages while reading (totals [35, 40])" in caplog.text


def test_a_clean_or_early_stopped_walk_does_not_warn_about_the_total(sim, caplog):
    cursor = first_read(sim)
    changed_since(sim)
    with caplog.at_level(logging.INFO, logger="tallyfy_source"):
        walk(reader(sim, cursor=cursor))
        walk(reader(sim))
    assert "reported a total" not in caplog.text
    assert "rows moved" not in caplog.text


def test_a_concurrent_walk_whose_later_pages_carry_no_total_compares_page_1_with_its_own(sim):
    sim.faults = FaultPlan([Fault("missing_meta", resource="members", request=[2, 3, 4], times=None)])
    read = reader(sim, concurrency=4)
    walk(read)
    assert read.totals == [35]
    assert (len(list_requests(sim)), read.report.clean) == (5, True)


# ------------------------------------------------------------------ what a 404 proves
class _Answer:
    def __init__(self, body):
        self._body = body

    def json(self):
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


@pytest.mark.parametrize("body,key,proves", [
    ({"error": True, "code": "RESOURCE_NOT_FOUND", "message": "No query results for model [User] 7"}, 7, True),
    ({"error": True, "code": "ENDPOINT_NOT_FOUND", "message": "not found"}, 7, False),
    ({"error": True, "code": "OTHER", "message": "No query results for model [User] 7"}, 7, False),
    ({"error": True, "message": "No query results for model [Tag] abc"}, "abc", True),
    ({"error": True, "message": "record abc is gone"}, "abc", True),
    ({"error": True, "message": "Not Found"}, "abc", False),
    (ValueError("<html>404 Not Found</html>"), 7, False),  # a proxy's page
    (["not", "an", "object"], 7, False),
])
def test_only_a_404_naming_the_record_proves_it_deleted(body, key, proves):
    from tallyfy_source.api.single import names_a_missing_record

    assert names_a_missing_record(_Answer(body), key) is proves


# ------------------------------------------------------------------ when a sweep is due (issue 16, defect 6)
SLOT = datetime(2026, 12, 1, 2, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("elapsed, due", [
    (timedelta(hours=24), True),
    (timedelta(hours=24) - timedelta(seconds=40), True),  # a daily job that started 40 s early
    (timedelta(hours=23, minutes=1), True),  # at most an hour early
    (timedelta(hours=22, minutes=59), False),
    (timedelta(hours=1), False),
])
def test_a_daily_schedule_with_a_24_hour_interval_sweeps_every_day(elapsed, due):
    from tallyfy_source.read.orgs import sweep_is_due
    assert sweep_is_due(SLOT.isoformat(), 24, SLOT + elapsed) is due


@pytest.mark.parametrize("hours, elapsed_minutes, due", [(1, 54, True), (1, 53, False), (0.5, 27, True),
                                                         (0.5, 26, False), (0, 0, True)])
def test_a_short_interval_may_come_a_tenth_early(hours, elapsed_minutes, due):
    from tallyfy_source.read.orgs import sweep_is_due
    assert sweep_is_due(SLOT.isoformat(), hours, SLOT + timedelta(minutes=elapsed_minutes)) is due


def test_no_sweep_yet_or_an_unreadable_one_is_due():
    from tallyfy_source.read.orgs import sweep_is_due
    assert sweep_is_due(None, 24, SLOT) and sweep_is_due("", 24, SLOT) and sweep_is_due("garbage", 24, SLOT)


# ------------------------------------------------------------------ progress: what each page reports (issue 18)
def test_every_page_reports_its_walk_number_pages_known_rows_and_the_budget(sim, monkeypatch):
    calls = []

    class Recorded(progress.WalkProgress):  # what each page reports, with the walk's own fields first
        def page_read(self, *args):
            calls.append((self.resource, self.label) + args + (self.budget,))

    monkeypatch.setattr(reading, "WalkProgress", Recorded)
    budget = RequestBudget(10_000)
    client = make_client(sim.base_url, sim.token, make_session(backoff_factor=0.0, max_attempts=2, budget=budget))
    archived = dataclasses.replace(MEMBERS, params={"archived": "only"})
    read = EndpointRead(client, archived, ORG, ReadOptions(per_page=PER_PAGE, concurrency=1), Cursor(), True)
    list(read.rows())
    pages = -(-35 // PER_PAGE)
    walk = f"org {ORG}, archived=only"
    assert [c[:5] for c in calls if c[2] > 1] == [("members", walk, n, pages, 10 if n < pages else 5)
                                                  for n in range(2, pages + 1)]
    assert all(c[0] == "members" and c[1] == walk and c[3] == pages and c[5] is budget for c in calls)
    calls.clear()
    list(EndpointRead(client, MEMBERS, ORG, ReadOptions(per_page=PER_PAGE, concurrency=1), Cursor(), True).rows())
    assert {c[1] for c in calls} == {f"org {ORG}"}


def test_a_walk_looks_its_collector_up_once_not_per_page(sim, monkeypatch):
    # dlt keeps a trace of every config resolution for the whole run: one lookup per page grew
    # memory with the org (11 MB on the benchmark's 50,000-task org)
    lookups, updates = [], []
    collector = SimpleNamespace(update=lambda *args, **kwargs: updates.append(kwargs["label"]))
    monkeypatch.setattr(progress, "current_collector", lambda: lookups.append(1) or collector)
    client = make_client(sim.base_url, sim.token, make_session(backoff_factor=0.0, max_attempts=2))
    list(EndpointRead(client, MEMBERS, ORG, ReadOptions(per_page=PER_PAGE, concurrency=1), Cursor(), True).rows())
    pages = -(-sim.org.count("members") // PER_PAGE)
    assert pages > 2 and len(updates) == pages and len(lookups) == 1
