"""The per-org rules every resource follows: one loop that isolates one org's failure, one
"is a full read due" rule, and the proof that a record a full read missed is gone.

An org whose read fails is reported and skipped, its stored state kept (the state is written
after the org's rows, so a failure leaves it as it was), and the other orgs still load; only
an error that would fail every org the same way (a bad token) stops the run.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import requests

from tallyfy_source.api.client import RetryableStatus, UnreadableBody, describe_failure
from tallyfy_source.api.endpoints import Endpoint
from tallyfy_source.errors import PaginationError, TallyfyAPIError, stops_every_org
from tallyfy_source.read.deletes import absent_keys, last_loaded, removal_rows
from tallyfy_source.read.endpoint_read import EndpointRead, ReadOptions, ReadReport
from tallyfy_source.shape.rows import parse_timestamp

logger = logging.getLogger("tallyfy_source")

#: what makes one org's read fail without stopping the others
READ_FAILURES = (TallyfyAPIError, PaginationError, RetryableStatus, UnreadableBody, requests.RequestException)

#: how early a sweep may come: a tenth of the interval, at most this much
SWEEP_TOLERANCE = timedelta(hours=1)

#: a key missing from two complete sweeps at least this far apart is deleted when the token may
#: not confirm it (`GET users/{id}` answers 403 to a non-admin): a record only moves across a
#: page boundary within one walk, never across two
SECOND_SIGHTING = timedelta(hours=1)


def sweep_is_due(last_sweep: Optional[str], interval_hours: float, now: datetime) -> bool:
    """A full read is due when none ran yet, or when the last one is older than the interval less
    a tolerance (a tenth of it, at most an hour). A run scheduled every `interval_hours` starts a
    few seconds or minutes off its slot, and an org is read some time into its run; without the
    tolerance, a daily job with a 24-hour interval would find the sweep "not due by 40 seconds"
    every other day and sweep only every 48 hours."""
    if interval_hours <= 0 or not last_sweep:
        return True
    last = parse_timestamp(last_sweep)
    if last is None:
        return True
    interval = timedelta(hours=interval_hours)
    return now - last >= interval - min(interval / 10, SWEEP_TOLERANCE)


def full_read_due(options: ReadOptions, last_sweep: Optional[str], now: datetime, has_cursor: bool = True) -> bool:
    """THE full-read decision: asked for (`full_refresh`, `sweep`), nothing to go on from (no
    cursor yet), or a sweep due (`sweep_is_due`)."""
    return (options.full_refresh or options.sweep or not has_cursor
            or sweep_is_due(last_sweep, options.sweep_interval_hours, now))


@dataclass(frozen=True)
class Run:
    """One run of the source, what every resource reads with: each org's client (session and
    request budget: one per token, orgs sharing a token share it), the options, the orgs, and
    the list that receives each read's report (None: not kept)."""

    clients: Mapping[str, Any]
    options: ReadOptions
    org_ids: Sequence[str]
    reports: Optional[List[ReadReport]] = None

    def each_org(self, resource: str, read: Callable[["OrgRun"], Iterator[Any]]) -> Iterator[Any]:
        return each_org(self.org_ids, resource, read, self.reports, self.clients)


@dataclass
class OrgRun:
    """One org's read of one resource in this run: when it started, and the report a failure
    is written on (`report`, or `blame()` when the read has several)."""

    org_id: str
    now: datetime
    sink: Optional[List[ReadReport]] = None  # the run's list of reports (the summary, progress)
    client: Any = None  # the org's client (its token's session and budget)
    report: Optional[ReadReport] = None
    blame: Optional[Callable[[], ReadReport]] = None

    def add(self, *reports: ReadReport) -> ReadReport:
        """Reports of this org's read, listed in the run's reports as they start; the first is
        the one a failure is written on unless `blame` says otherwise."""
        if self.report is None:
            self.report = reports[0]
        if self.sink is not None:
            self.sink.extend(reports)
        return reports[0]

    def failed_report(self) -> Optional[ReadReport]:
        return self.blame() if self.blame is not None else self.report


def each_org(org_ids: Sequence[str], resource: str, read: Callable[[OrgRun], Iterator[Any]],
             reports: Optional[List[ReadReport]] = None, clients: Optional[Mapping[str, Any]] = None) -> Iterator[Any]:
    """THE per-org loop: `read(org)` for every org in turn, its reports added to `reports`; an
    org whose read fails (`READ_FAILURES`) is logged on its report and skipped."""
    for org_id in org_ids:
        org = OrgRun(org_id, datetime.now(timezone.utc), reports, client=(clients or {}).get(org_id))
        try:
            yield from read(org)
        except READ_FAILURES as error:
            if stops_every_org(error):
                raise
            report = org.failed_report()
            text = describe_failure(error)
            if report is not None:
                report.error = text
            logger.error("%s of org %s failed, other orgs go on: %s", resource, org_id, text)


def confirm_missing(read: EndpointRead, now: datetime, seen: Optional[Iterable[Any]] = None,
                    table: Optional[Endpoint] = None, suspects: Optional[Dict[str, str]] = None
                    ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """After a complete sweep, the loaded keys it did not see (`seen`, default the walk's own),
    each asked for by itself: (records found after all, to load again; rows that remove or flag
    the ones confirmed deleted). An unanswered one waits for the next sweep (which then runs on
    the next run); `read.report` counts all three. A key the token may not confirm (403) is
    remembered in `suspects` (key -> when first found missing; the caller keeps it in the
    resource state) and deleted when a sweep at least `SECOND_SIGHTING` later misses it again."""
    mode = read.options.deleted_records
    table = table or read.endpoint
    # only the key column is read, and only the absent keys kept: memory holds the suspects
    absent = absent_keys(table, read.org_id, mode, read.seen if seen is None else seen)
    by_key = {str(key): key for key in absent}
    gone, found = [], []
    for outcome, key, row in read.check_missing(list(by_key)):
        if outcome == "deleted":
            gone.append({table.key: by_key[key]})
        elif outcome == "exists":
            found.append(row)
        elif outcome == "forbidden" and suspects is not None:
            first = parse_timestamp(suspects.get(key))
            if first is not None and now - first >= SECOND_SIGHTING:
                gone.append({table.key: by_key[key]})
                del suspects[key]
            elif first is None:
                suspects[key] = now.isoformat()
        else:
            read.report.unconfirmed += 1
    if suspects is not None:
        for key in [k for k in suspects if k not in by_key]:  # seen again (or gone): no longer suspect
            del suspects[key]
    read.report.missing = len(gone)
    read.report.found_on_recheck = len(found)
    return found, removal_rows(table, read.org_id, last_loaded(table, read.org_id, gone, mode), mode, now)
