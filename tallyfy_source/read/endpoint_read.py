"""Reading one endpoint of one org while the org is in use.

One `EndpointRead` owns everything one org's read of one endpoint learns: the
rows seen (key -> content digest and update time), the totals each page
reported, the server's clock when the walk began, whether the order was
verified, and the report. It answers the two questions the source asks after
the walk: where may the cursor move (`next_cursor`), and may keys missing from
this walk be checked for deletion (`may_sweep`).

The guarantees, with the org changing between any two requests:
- The cursor is a watermark W: every change with an update time before W has
  been loaded. After a walk it moves to the server's clock when the walk began
  (its `Date` header) minus a margin, never to the newest update time seen (a
  row updated on a page already read would be skipped for good), and only when
  the walk is clean: every page reported the same total, no key came back with
  other content, and a concurrent walk's page 1 read again at the end is
  unchanged. Otherwise W stays where it was and the next run re-reads the window.
- Rows at or after W, and rows with no readable update time, are compared by a
  digest of their content: an unchanged row is not reloaded; a second change
  within the same second is.
- An incremental walk asks newest-first and stops at the first page that
  reaches rows older than W, only after one probe page asked oldest-first
  proves the server sorts the whole list (see `_probe_proves_sort`).
- A key missing from a sweep is a suspicion; the source confirms it with a
  single-record request (404: deleted; 200: it exists and is loaded) before
  deleting anything.
"""

import email.utils
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterator, List, Optional, Tuple

from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.client import PageData

from tallyfy_source.api.client import check_response
from tallyfy_source.api.single import read_one
from tallyfy_source.api.endpoints import UPDATE_TIME_SPELLINGS, Endpoint
from tallyfy_source.errors import TallyfyAPIError
from tallyfy_source.read.progress import WalkProgress
from tallyfy_source.read.seen import SeenRecords
from tallyfy_source.api.paging import expected_pages, paginate_concurrently
from tallyfy_source.shape.rows import parse_timestamp, shape_row

logger = logging.getLogger("tallyfy_source")

Row = Dict[str, Any]
SORT_REFUSED = (400, 422)  # a server that rejects our sort parameter: read without it
# Between the server's clock and the update times it writes (two clocks in a real deployment),
# and between a request and the snapshot it reads: rows this close to the walk's start are
# compared by digest on the next run instead of trusted.
CLOCK_MARGIN = timedelta(minutes=2)
MAX_DIGESTS = 5000  # kept in the dlt state; past this, rows without a digest are simply reloaded


def row_digest(raw: Row) -> str:
    """Identity of a record's content as served: equal digests, nothing to reload."""
    text = json.dumps(raw, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def server_time(page: Any) -> Optional[datetime]:
    """The server's clock from a page's `Date` header (None when absent or unreadable)."""
    response = getattr(page, "response", None)
    value = response.headers.get("Date") if response is not None else None
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass
class Cursor:
    """Where the last completed load got to, per org (see the module docstring)."""

    value: Optional[datetime] = None  # the watermark W
    digests: Dict[str, str] = field(default_factory=dict)  # key -> digest, rows at/after W or untimed
    sort_field: str = "updated_at"  # the server's spelling of the update time, to sort by it

    @classmethod
    def from_state(cls, state: Optional[Dict[str, Any]]) -> "Cursor":
        if not state or not state.get("value"):
            return cls()
        return cls(
            parse_timestamp(state["value"]),
            dict(state.get("digests") or {}),  # an older state's keys_at_value: reloaded once
            state.get("sort_field") or "updated_at",
        )

    def to_state(self) -> Dict[str, Any]:
        return {
            "value": self.value.isoformat() if self.value else None,
            "digests": dict(sorted(self.digests.items())),
            "sort_field": self.sort_field,
        }

    def is_unchanged(self, updated_at: Optional[datetime], key: str, digest: str) -> bool:
        """Already loaded: changed before the watermark, or loaded with this exact content."""
        if self.value is None:
            return False
        if updated_at is not None and updated_at < self.value:
            return True
        return self.digests.get(key) == digest


@dataclass(frozen=True)
class ReadOptions:
    """How a run reads: the source's settings that every walk needs."""

    per_page: int = 100
    concurrency: int = 1  # pages in flight during a full read
    full_refresh: bool = False
    sweep: bool = False
    sweep_interval_hours: float = 24.0
    deleted_records: str = "delete"
    max_confirmations: int = 100  # single-record checks of missing keys per sweep


@dataclass
class ReadReport:
    """What one walk cost and found, beyond dlt's own row counts; logged and counted by tests."""

    resource: str
    org_id: str
    mode: str = "full"
    requests: int = 0
    rows_read: int = 0
    rows_yielded: int = 0
    total: Optional[int] = None
    clean: bool = True  # no sign of rows moving between pages during the walk
    missing: int = 0  # records confirmed deleted upstream by a sweep
    found_on_recheck: int = 0  # keys missing from a sweep that a single-record request found
    unconfirmed: int = 0  # keys missing from a sweep left for the next one
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

    One page loop for every walk: `concurrency` 1 is the sequential walk.
    """
    params = {**endpoint.params, **(extra_params or {})}
    path = f"organizations/{org_id}/{endpoint.path}"
    try:
        yield from paginate_concurrently(client, path, params, per_page, concurrency, {"response": [check_response]})
    except TallyfyAPIError as error:
        raise _for_org(error, endpoint, org_id) from None


def _for_org(error: TallyfyAPIError, endpoint: Endpoint, org_id: str) -> TallyfyAPIError:
    error.org_id = org_id
    error.args = (f"org {org_id}, {endpoint.resource}: {error}",)
    return error


def _times(rows: List[Row]) -> List[datetime]:
    """The readable update times of a page, in order (rows without one cannot be placed)."""
    return [r["updated_at"] for r in rows if r.get("updated_at") is not None]


def descending(times: List[datetime], previous: Optional[datetime]) -> bool:
    """Newest first, continuing from the previous page's last time."""
    if previous is not None and times and times[0] > previous:
        return False
    return all(a >= b for a, b in zip(times, times[1:]))


class EndpointRead:
    """One org's read of one endpoint: the walk, and what it proves."""

    def __init__(self, client: RESTClient, endpoint: Endpoint, org_id: str, options: ReadOptions,
                 cursor: Cursor, full_scan: bool):
        self.client = client
        self.endpoint = endpoint
        self.org_id = org_id
        self.options = options
        self.loaded = cursor
        self.full_scan = full_scan or not endpoint.incremental or cursor.value is None
        self.report = ReadReport(endpoint.resource, org_id)
        self._reset()

    def _reset(self) -> None:
        self.seen = SeenRecords()  # key -> (digest, update time), packed: a walk keeps one per record
        self.changed_twice: set = set()  # keys read twice with different content
        self.moved = False  # a sign that rows crossed page boundaries while the walk read
        self.pages = 0
        self.totals: List[int] = []
        self.started_at: Optional[datetime] = None  # the server's clock at page 1
        self.first_page_keys: List[str] = []
        self.first_page_newest: Optional[datetime] = None
        self.sort_field = self.loaded.sort_field
        self.sorted_newest_first = False
        self.stopped_early = False
        self.finished = False
        self.concurrent = False

    # ------------------------------------------------------------------ the walk
    def rows(self) -> Iterator[List[Row]]:
        """Shaped rows, page by page: every row on a full scan, new or changed ones otherwise."""
        sort = f"-{self.sort_field}" if self.endpoint.incremental else None
        try:
            yield from self._walk(sort, early_stop=not self.full_scan)
        except TallyfyAPIError as error:
            if error.status not in SORT_REFUSED or sort is None or self.report.rows_read:
                raise
            self.report.requests += 1  # the refused request
            logger.warning("%s of org %s: the server refused the sort (%s); reading every page",
                           self.endpoint.resource, self.org_id, error)
            self._reset()
            yield from self._walk(None, early_stop=False)
        # with two pages, page 2 is only asked after page 1 was judged: a sequential walk
        if self.concurrent and self.sorted_newest_first and self.pages > 2 and self.clean_so_far():
            self._recheck_first_page(sort)
        self.report.clean = self.clean_so_far()
        if not self.report.clean:
            logger.info("%s of org %s: rows moved between pages while reading (totals %s); the cursor"
                           " stays, so the next run reads this window again", self.endpoint.resource,
                           self.org_id, sorted(set(self.totals)))

    def _walk(self, sort: Optional[str], early_stop: bool) -> Iterator[List[Row]]:
        self.report.mode = "incremental" if early_stop else "full"
        self.sorted_newest_first = sort is not None
        self.concurrent = not early_stop and self.options.concurrency > 1
        params = {self.endpoint.sort_param: sort} if sort else None
        walk = f"org {self.org_id}" + (f", archived={self.endpoint.params['archived']}"
                                       if self.endpoint.params.get("archived") else "")
        self.progress = WalkProgress(self.endpoint.resource, walk,
                                     getattr(getattr(self.client, "session", None), "budget", None))
        pages = fetch_pages(self.client, self.endpoint, self.org_id, self.options.per_page, params,
                            self.options.concurrency if self.concurrent else 1)
        previous: Optional[datetime] = None
        try:
            for page_no, page in enumerate(pages, start=1):
                rows = self._take(page, page_no)
                fresh = [r for r in rows if self.full_scan or not self._unchanged(r)]
                if fresh:
                    self.report.rows_yielded += len(fresh)
                    yield fresh
                times = _times(rows)
                if self.sorted_newest_first and not descending(times, previous):
                    logger.info("%s of org %s: server did not sort newest first; reading every page",
                                self.endpoint.resource, self.org_id)
                    self.sorted_newest_first = early_stop = False
                    if not self.full_scan:
                        self.report.mode = "incremental-full-scan"
                previous = times[-1] if times else previous
                if early_stop and times and times[-1] < self.loaded.value and page.paginator.has_next_page:
                    if self._remaining() < self.options.per_page:
                        continue  # one short page left: reading it costs what a probe would
                    if self._probe_proves_sort(times[-1]):
                        self.stopped_early = True
                        break
                    logger.info("%s of org %s: sort order not proven; reading every page",
                                self.endpoint.resource, self.org_id)
                    self.sorted_newest_first = early_stop = False
                    self.report.mode = "incremental-full-scan"
        finally:
            pages.close()
        self.finished = True
        if not self.stopped_early and self.totals and len(self.seen) != self.totals[-1]:
            logger.warning("%s of org %s: read %d rows but the server reported a total of %s",
                           self.endpoint.resource, self.org_id, len(self.seen), self.totals[-1])

    def _take(self, page: PageData[Any], page_no: int) -> List[Row]:
        """Shape one page's records and remember what was seen (key, digest, update time)."""
        self.report.requests += 1
        self.pages += 1
        total = page.paginator.meta.get("total")
        if total is not None:
            try:
                self.totals.append(int(total))
                self.report.total = int(total)
            except (TypeError, ValueError):
                pass
        if page_no == 1:
            self.started_at = server_time(page)
            if self.endpoint.incremental and page:
                spelling = next((f for f in UPDATE_TIME_SPELLINGS if f in page[0]), None)
                self.sort_field = spelling or self.sort_field
        rows = []
        for raw in page:
            digest = row_digest(raw)
            row = shape_row(dict(raw), self.org_id, self.endpoint.incremental)
            key = str(row.get(self.endpoint.key))
            updated_at = row.get("updated_at") if self.endpoint.incremental else None
            before = self.seen.get(key)
            if before is not None:
                self.moved = True  # read twice: rows shifted across a page boundary
                if before[0] == digest:
                    continue  # the same record again: one copy is enough
                self.changed_twice.add(key)
            self.seen[key] = (digest, updated_at)
            if (page_no > 1 and not self.sorted_newest_first and updated_at is not None
                    and self.started_at is not None and updated_at >= self.started_at):
                self.moved = True  # changed during an unsorted walk: others may have shifted
            rows.append(row)
        self.report.rows_read += len(rows)
        self.progress.page_read(page_no, expected_pages(page.paginator.meta, self.options.per_page), len(rows))
        if page_no == 1:
            self.first_page_keys = [r[self.endpoint.key] for r in rows]
            times = _times(rows)
            self.first_page_newest = max(times) if times else None
        return rows

    def _unchanged(self, row: Row) -> bool:
        key = str(row.get(self.endpoint.key))
        return self.loaded.is_unchanged(row.get("updated_at"), key, self.seen[key][0])

    def _remaining(self) -> int:
        """Records the server says are left to read (a page's worth when it says nothing)."""
        return (self.totals[-1] - len(self.seen)) if self.totals else self.options.per_page

    def _probe_proves_sort(self, stop_time: datetime) -> bool:
        """Page 1 asked OLDEST first proves the early stop: a server that sorts the whole list
        returns the oldest records there, all different from the ones read (at least a page is
        left), ascending, none newer than the stop page's last row, and the same total. A server
        that ignores `sort`, or sorts only within each page, fails one of these."""
        pages = fetch_pages(self.client, self.endpoint, self.org_id, self.options.per_page,
                            {self.endpoint.sort_param: self.sort_field})
        self.report.requests += 1
        try:
            probe_page = next(pages, None)
        except TallyfyAPIError as error:
            if error.status in SORT_REFUSED:
                return False
            raise
        finally:
            pages.close()
        if not probe_page:
            return False
        probe = [shape_row(dict(r), self.org_id, True) for r in probe_page]
        times = _times(probe)
        total = probe_page.paginator.meta.get("total")
        return (
            bool(times)
            and all(a <= b for a, b in zip(times, times[1:]))
            and max(times) <= stop_time
            and not any(str(r.get(self.endpoint.key)) in self.seen for r in probe)
            and (total is None or not self.totals or int(total) == self.totals[-1])
        )

    def _recheck_first_page(self, sort: Optional[str]) -> None:
        """After pages were fetched concurrently, page 1 again: rows that crossed a page
        boundary while pages were in flight (an insert at the front, a delete further on)
        change it or the total; unchanged, nothing crossed."""
        params = {self.endpoint.sort_param: sort} if sort else None
        pages = fetch_pages(self.client, self.endpoint, self.org_id, self.options.per_page, params)
        self.report.requests += 1
        try:
            again = next(pages, None)
        finally:
            pages.close()
        keys = [shape_row(dict(r), self.org_id, True).get(self.endpoint.key) for r in (again or [])]
        total = again.paginator.meta.get("total") if again is not None else None
        if keys != self.first_page_keys or (total is not None and self.totals and int(total) != self.totals[-1]):
            self.moved = True

    # ------------------------------------------------------------------ what the walk proves
    def clean_so_far(self) -> bool:
        return len(set(self.totals)) <= 1 and not self.changed_twice and not self.moved

    @property
    def may_sweep(self) -> bool:
        """Keys missing from this walk may be checked for deletion: a finished full read that
        saw at least as many records as the server last said it holds."""
        return (self.full_scan and self.finished and not self.stopped_early
                and (not self.totals or len(self.seen) >= self.totals[-1]))

    def next_cursor(self) -> Cursor:
        """The cursor a completed load of this walk's rows may store (see the module docstring)."""
        if not self.endpoint.incremental or not self.finished:
            return self.loaded
        watermark = self.loaded.value
        if self.report.clean:
            start = self.started_at or self.first_page_newest  # no Date header: page 1's newest
            if start is not None:
                candidate = start - CLOCK_MARGIN
                watermark = candidate if watermark is None else max(watermark, candidate)
        digests = {
            key: digest for key, (digest, updated_at) in self.seen.items()
            if watermark is not None and (updated_at is None or updated_at >= watermark)
            and key not in self.changed_twice
        }
        if self.stopped_early:  # rows never reached (untimed ones sorted last) keep theirs
            digests = {**{k: v for k, v in self.loaded.digests.items() if k not in self.seen}, **digests}
        if len(digests) > MAX_DIGESTS:
            digests = {}  # rows without a digest are reloaded, which is exact, only slower
        return Cursor(watermark, digests, self.sort_field)

    def check_missing(self, keys: List[Any]) -> Iterator[Tuple[str, Any, Optional[Row]]]:
        """Ask for each key missing from the sweep by itself: ("deleted", key, None) on a 404
        naming the record, ("exists", key, row) when it is there after all (moved across a page
        boundary while the sweep read), ("forbidden", key, None) on a 403 (the token may not read
        single records), ("unknown", key, None) otherwise or past the limit."""
        for n, key in enumerate(keys):
            if n >= self.options.max_confirmations:
                yield "unknown", key, None
                continue
            yield self._check_one(key)

    def _check_one(self, key: Any) -> Tuple[str, Any, Optional[Row]]:
        self.report.requests += 1
        answer = read_one(self.client, self.org_id, self.endpoint.path, key, self.endpoint.params)
        if answer.outcome != "found":
            return answer.outcome, key, None
        return "exists", key, shape_row(answer.record, self.org_id, self.endpoint.incremental)
