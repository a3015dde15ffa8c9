"""Reading one endpoint of one org: the full scan and the newest-first incremental walk.

No Tallyfy list endpoint filters by update time, so an incremental read asks
for the newest changes first and stops once a page reaches rows older than the
stored cursor. The early stop is trusted only after checking the server really
sorted: every page must be in descending update order, and one probe page asked
in ASCENDING order must differ and start no later than the stop page ends (a
server that ignores `sort` returns the same page both ways). Otherwise the walk
reads every page, which is exact, only slower.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Iterator, List, Optional, Set

from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.client import PageData

from .client import check_response
from .endpoints import UPDATE_TIME_SPELLINGS, Endpoint
from .errors import TallyfyAPIError
from .paging import TallyfyPaginator, paginate_concurrently
from .rows import parse_timestamp, shape_row

logger = logging.getLogger("tallyfy_source")

Row = Dict[str, Any]
SORT_REFUSED = (400, 422)  # a server that rejects our sort parameter: read without it


@dataclass
class Cursor:
    """Where the last run got to, per org: newest update time and the keys that carried it."""

    value: Optional[datetime] = None
    keys_at_value: Set[Any] = field(default_factory=set)
    sort_field: str = "updated_at"  # the server's spelling of the update time, to sort by it

    @classmethod
    def from_state(cls, state: Optional[Dict[str, Any]]) -> "Cursor":
        if not state or not state.get("value"):
            return cls()
        return cls(
            parse_timestamp(state["value"]),
            set(state.get("keys_at_value") or ()),
            state.get("sort_field") or "updated_at",
        )

    def to_state(self) -> Dict[str, Any]:
        return {
            "value": self.value.isoformat() if self.value else None,
            "keys_at_value": sorted(self.keys_at_value, key=str),
            "sort_field": self.sort_field,
        }

    def is_unchanged(self, row: Row, key: str) -> bool:
        """Already loaded: older than the cursor, or at it and loaded last time."""
        ts = row.get("updated_at")
        if ts is None or self.value is None:
            return False
        return ts < self.value or (ts == self.value and row.get(key) in self.keys_at_value)

    def take(self, newer: "Cursor") -> None:
        """Move to `newer`'s position, never backwards (a sweep can see less than the cursor)."""
        if newer.value is not None and (self.value is None or newer.value > self.value):
            self.value, self.keys_at_value = newer.value, set(newer.keys_at_value)
        elif newer.value is not None and newer.value == self.value:
            self.keys_at_value |= newer.keys_at_value
        self.sort_field = newer.sort_field

    def advance(self, rows: List[Row], key: str) -> None:
        for row in rows:
            ts = row.get("updated_at")
            if ts is None:
                continue
            if self.value is None or ts > self.value:
                self.value, self.keys_at_value = ts, {row.get(key)}
            elif ts == self.value:
                self.keys_at_value.add(row.get(key))


@dataclass(frozen=True)
class ReadOptions:
    """How a run reads: the source's settings that every walk needs."""

    per_page: int = 100
    concurrency: int = 1  # pages in flight during a full read
    full_refresh: bool = False
    sweep: bool = False
    sweep_interval_hours: float = 24.0
    deleted_records: str = "delete"


@dataclass
class ReadReport:
    """What one walk cost and found; logged, and counted by tests and benchmarks."""

    resource: str
    org_id: str
    mode: str = "full"
    requests: int = 0
    rows_read: int = 0
    rows_yielded: int = 0
    total: Optional[int] = None
    shifted: bool = False  # the server's total changed while paging
    read_all: bool = True  # the last walk read as many rows as the server's total
    missing: int = 0  # records found deleted upstream by a sweep
    error: Optional[str] = None  # why this walk failed; other orgs still load


def fetch_pages(
    client: RESTClient,
    endpoint: Endpoint,
    org_id: str,
    per_page: int,
    extra_params: Optional[Dict[str, Any]] = None,
    concurrency: int = 1,
) -> Iterator[PageData[Any]]:
    """Pages of raw records of one endpoint, walked with Tallyfy's stop rules.

    `concurrency` > 1 asks for pages after the first in parallel (full scans);
    a newest-first walk that may stop early goes one page at a time.
    """
    params = {**endpoint.params, **(extra_params or {})}
    path = f"organizations/{org_id}/{endpoint.path}"
    hooks = {"response": [check_response]}
    try:
        if concurrency > 1:
            yield from paginate_concurrently(client, path, params, per_page, concurrency, hooks)
        else:
            yield from client.paginate(
                path, params=params, paginator=TallyfyPaginator(per_page=per_page), hooks=hooks
            )
    except TallyfyAPIError as error:
        error.org_id = org_id
        error.args = (f"org {org_id}, {endpoint.resource}: {error}",)
        raise


def _descending(times: List[Optional[datetime]], previous: Optional[datetime]) -> bool:
    if any(t is None for t in times):
        return False
    if previous is not None and times and times[0] > previous:
        return False
    return all(a >= b for a, b in zip(times, times[1:]))


def _sort_is_honoured(
    client: RESTClient, endpoint: Endpoint, org_id: str, per_page: int, first_page: List[Row],
    report: ReadReport, sort_field: str,
) -> bool:
    """Ask page 1 in ascending order: a server that sorts returns different rows, oldest first."""
    probe_pages = fetch_pages(client, endpoint, org_id, per_page, {endpoint.sort_param: sort_field})
    report.requests += 1
    try:
        probe_raw = next(probe_pages, [])
    except TallyfyAPIError as error:
        if error.status in SORT_REFUSED:
            return False
        raise
    finally:
        probe_pages.close()
    probe = [shape_row(dict(r), org_id, True) for r in probe_raw]
    times = [r["updated_at"] for r in probe]
    if not probe or any(t is None for t in times):
        return False
    ascending = all(a <= b for a, b in zip(times, times[1:]))
    key = endpoint.primary_key[-1]
    same_rows = [r.get(key) for r in probe] == [r.get(key) for r in first_page]
    return ascending and not same_rows and times[0] <= first_page[-1]["updated_at"]


def read_endpoint(
    client: RESTClient,
    endpoint: Endpoint,
    org_id: str,
    options: ReadOptions,
    cursor: Optional[Cursor],
    report: ReadReport,
    full_scan: bool = False,
    seen_keys: Optional[Set[Any]] = None,
) -> Iterator[List[Row]]:
    """Shaped rows of one endpoint, page by page; advances `cursor` in place.

    `full_scan` (or no stored cursor) reads and yields every row, collecting
    every key into `seen_keys` for the delete sweep; otherwise rows already
    loaded are skipped and paging stops early once the order has been proven.
    A walk during which the server's `total` changed (records inserted or
    deleted upstream shift rows between pages) is read again once.
    """
    for attempt in (1, 2):
        if seen_keys is not None:
            seen_keys.clear()
        totals: Set[Any] = set()
        try:
            yield from _walk(client, endpoint, org_id, options, cursor, report, full_scan, seen_keys, totals)
        except TallyfyAPIError as error:
            if error.status not in SORT_REFUSED or full_scan or report.rows_read:
                raise
            logger.warning("%s of org %s: the server refused the sort (%s); reading every page", endpoint.resource, org_id, error)
            full_scan = True
            yield from _walk(client, endpoint, org_id, options, cursor, report, full_scan, seen_keys, totals)
        report.shifted = len(totals) > 1
        if not report.shifted:
            return
        logger.warning(
            "%s of org %s: the total changed while paging (%s), records moved between pages;%s",
            endpoint.resource, org_id, sorted(totals, key=str),
            " reading again" if attempt == 1 else " the next run will heal it",
        )


def _walk(
    client: RESTClient,
    endpoint: Endpoint,
    org_id: str,
    options: ReadOptions,
    cursor: Optional[Cursor],
    report: ReadReport,
    full_scan: bool,
    seen_keys: Optional[Set[Any]],
    totals: Set[Any],
) -> Iterator[List[Row]]:
    """One pass over the pages; see `read_endpoint`."""
    per_page = options.per_page
    key = endpoint.primary_key[-1]
    incremental = endpoint.incremental and not full_scan and cursor is not None and cursor.value is not None
    sort_field = cursor.sort_field if cursor else "updated_at"
    seen = Cursor(cursor.value, set(cursor.keys_at_value), sort_field) if cursor and incremental else Cursor()
    params = {endpoint.sort_param: f"-{sort_field}"} if incremental else None
    report.mode = "incremental" if incremental else "full"
    early_stop_allowed = incremental
    first_page: Optional[List[Row]] = None
    previous_time: Optional[datetime] = None
    rows_read = 0

    pages = fetch_pages(client, endpoint, org_id, per_page, params, 1 if incremental else options.concurrency)
    try:
        for page in pages:
            report.requests += 1
            meta_total = page.paginator.meta.get("total")
            if meta_total is not None:
                totals.add(meta_total)
                report.total = meta_total
            if endpoint.incremental and page:
                spelling = next((f for f in UPDATE_TIME_SPELLINGS if f in page[0]), None)
                seen.sort_field = spelling or seen.sort_field
            rows = [shape_row(row, org_id, endpoint.incremental) for row in page]
            rows_read += len(rows)
            if seen_keys is not None:
                seen_keys.update(r.get(key) for r in rows)
            if endpoint.incremental:
                seen.advance(rows, key)
            fresh = [r for r in rows if not (incremental and cursor.is_unchanged(r, key))]
            if fresh:
                report.rows_yielded += len(fresh)
                yield fresh
            if not early_stop_allowed or not rows:
                continue
            times = [r["updated_at"] for r in rows]
            if not _descending(times, previous_time):
                logger.info("%s of org %s: server did not sort newest first; reading every page", endpoint.resource, org_id)
                early_stop_allowed = False
                report.mode = "incremental-full-scan"
                continue
            first_page = first_page or rows
            previous_time = times[-1]
            if times[-1] < cursor.value and page.paginator.has_next_page:
                if _sort_is_honoured(client, endpoint, org_id, per_page, first_page, report, sort_field):
                    break
                logger.info("%s of org %s: sort order not honoured; reading every page", endpoint.resource, org_id)
                early_stop_allowed = False
                report.mode = "incremental-full-scan"
    finally:
        pages.close()
    report.rows_read += rows_read
    if cursor is not None and endpoint.incremental:
        cursor.take(seen)
    report.read_all = report.total is None or int(report.total) == rows_read
    if report.mode != "incremental" and not report.read_all:
        logger.warning(
            "%s of org %s: read %d rows but the server reported a total of %s",
            endpoint.resource, org_id, rows_read, report.total,
        )
