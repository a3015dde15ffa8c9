"""The `tallyfy` dlt source: one merge resource per endpoint, hints and wiring only.

HTTP details live in `client.py`, the page walk in `paging.py` and
`reading.py`, row shaping in `rows.py`.
"""

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import requests

import dlt
from dlt.extract.hints import make_nested_hints
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient

from .arrow_rows import rows_to_arrow
from .budget import RequestBudget
from .client import RetryableStatus, UnreadableBody, describe_failure, make_client, make_session
from .columns import COLUMNS, GROUP_GUEST_COLUMNS, GROUP_MEMBER_COLUMNS, PARENT_KEYS, WORKFLOW_CHILD_COLUMNS
from .deletes import DELETED_COLUMN, MISSING_SINCE_COLUMN, absent_keys, last_loaded, removal_rows
from .endpoints import (ACTIVITY, COMMENTS_TABLE, DEFAULT_BASE_URL, ENDPOINTS, MAX_PER_PAGE, TAGS, WORKFLOW_ENDPOINTS, Endpoint,
                        dlt_resource_names)
from .history import TAG_STATISTICS_HISTORY, history_hints, tag_statistics_rows
from .errors import PaginationError, TallyfyAPIError, stops_every_org
from .reading import Cursor, EndpointRead, ReadOptions, ReadReport
from .rows import keyed_list_items, parse_timestamp
from .validation import (
    check_base_url,
    check_concurrency,
    check_max_attempts,
    check_request_timeout,
    check_deleted_records,
    check_per_page,
    check_requests_per_minute,
    check_resources,
    check_sweep_interval_hours,
    check_token,
    org_ids_from,
)
from .workflow import activity_rows, check_start_date, workflow_rows
from .workflow_incremental import WorkflowFeed

logger = logging.getLogger("tallyfy_source")

# What makes one org's walk fail without stopping the others.
READ_FAILURES = (TallyfyAPIError, PaginationError, RetryableStatus, UnreadableBody, requests.RequestException)

DELETE_COLUMNS = {
    DELETED_COLUMN: {"name": DELETED_COLUMN, "data_type": "bool", "nullable": True, "hard_delete": True},
    MISSING_SINCE_COLUMN: {"name": MISSING_SINCE_COLUMN, "data_type": "timestamp", "nullable": True},
}

NESTED_HINTS = {
    "groups": {
        "members": make_nested_hints(columns=GROUP_MEMBER_COLUMNS),
        "guests": make_nested_hints(columns=GROUP_GUEST_COLUMNS),
    },
    **{table: {field: make_nested_hints(columns=columns) for field, columns in children.items()}
       for table, children in WORKFLOW_CHILD_COLUMNS.items()},
}


def table_columns(endpoint: Endpoint) -> Dict[str, Any]:
    """Declared columns of an endpoint's root table, deletion markers included."""
    return {**COLUMNS[endpoint.resource], **DELETE_COLUMNS}


def as_arrow_table(endpoint: Endpoint) -> Callable[[List[Dict[str, Any]]], Any]:
    """Rows of tables without child lists go to dlt as typed Arrow tables (see arrow_rows.py);
    rows with lists of plain values get child rows keyed by their parent (`keyed_list_items`)."""
    if endpoint.child_lists:
        key = PARENT_KEYS[endpoint.resource]
        return lambda rows: [keyed_list_items(r, endpoint.child_lists, key) for r in rows]
    columns = table_columns(endpoint)
    return lambda rows: rows_to_arrow(rows, columns)


#: how early a sweep may come: a tenth of the interval, at most this much
SWEEP_TOLERANCE = timedelta(hours=1)


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


def endpoint_rows(
    client: RESTClient,
    endpoint: Endpoint,
    org_ids: Sequence[str],
    options: ReadOptions = ReadOptions(),
    reports: Optional[List[ReadReport]] = None,
) -> Iterator[Any]:
    """Pages of rows of one endpoint for every org, then the rows that record deletions.

    Members and groups keep one cursor and one last-sweep time per org in the
    resource state (dlt's `incremental` holds one cursor per resource, which
    would let a lagging org skip changes); dlt commits that state only with the
    loaded package. An org that fails is reported and skipped, its state kept,
    so the other orgs still load.
    """
    as_table = as_arrow_table(endpoint)
    state = dlt.current.resource_state()
    cursors = state.setdefault("cursors", {})
    sweeps = state.setdefault("last_sweep", {})
    suspects = state.setdefault("suspects", {})
    for org_id in org_ids:
        now = datetime.now(timezone.utc)
        cursor = Cursor() if options.full_refresh else Cursor.from_state(cursors.get(org_id))
        full_scan = options.full_refresh or options.sweep or sweep_is_due(
            sweeps.get(org_id), options.sweep_interval_hours, now)
        read = EndpointRead(client, endpoint, org_id, options, cursor, full_scan)
        if reports is not None:
            reports.append(read.report)
        try:
            for rows in read.rows():
                if endpoint.resource == TAGS.resource and rows:  # before the Arrow conversion
                    yield history_hints(tag_statistics_rows(rows, now))
                yield as_table(rows)
            if read.may_sweep:
                for rows in confirm_missing(read, now, suspects=suspects.setdefault(org_id, {})):
                    if rows:
                        yield as_table(rows)
                # a walk that saw the org move (a total changing between pages, rows moving) may
                # have read a record that was deleted before it ended: not a complete sweep, so
                # the next run sweeps again and confirms what is gone by then
                if not read.report.unconfirmed and read.report.clean:
                    sweeps[org_id] = now.isoformat()
                else:
                    sweeps.pop(org_id, None)
            elif read.full_scan:  # a sweep that read fewer records than the total: not complete either
                sweeps.pop(org_id, None)
        except READ_FAILURES as error:
            if stops_every_org(error):
                raise
            read.report.error = describe_failure(error)
            logger.error("%s of org %s failed, other orgs go on: %s", endpoint.resource, org_id, read.report.error)
            continue
        if endpoint.incremental:
            cursors[org_id] = read.next_cursor().to_state()
        report = read.report
        logger.info(
            "%s of org %s: %s read, %d requests, %d rows read, %d new or changed, %d deleted upstream",
            endpoint.resource, org_id, report.mode, report.requests, report.rows_read,
            report.rows_yielded, report.missing,
        )


#: a key missing from two complete sweeps at least this far apart is deleted when the token may
#: not confirm it (`GET users/{id}` answers 403 to a non-admin): a record only moves across a
#: page boundary within one walk, never across two
SECOND_SIGHTING = timedelta(hours=1)


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


def merged_resource(rows: Callable[..., Iterator[Any]], endpoint: Endpoint, *args: Any,
                    selected: bool = True, columns: Optional[Dict[str, Any]] = None) -> DltResource:
    """One merge resource: (org_id, key), declared columns, read side by side with the others
    within one request budget."""
    return dlt.resource(
        rows,
        name=endpoint.resource,
        primary_key=list(endpoint.primary_key),
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=columns or table_columns(endpoint),
        nested_hints=NESTED_HINTS.get(endpoint.resource),
        parallelized=True,
        selected=selected,
    )(*args)


def endpoint_resource(endpoint: Endpoint, client: RESTClient, org_ids: Sequence[str],
                      options: ReadOptions = ReadOptions(), reports: Optional[List[ReadReport]] = None) -> DltResource:
    """A directory endpoint's resource: cursor, sweeps (see `endpoint_rows`); tags also fill
    `tag_statistics_history` (`history.py`)."""
    resource = merged_resource(endpoint_rows, endpoint, client, endpoint, org_ids, options, reports)
    if endpoint.resource == TAGS.resource:  # a variant starts from the resource's hints: only its own columns
        resource.apply_hints(table_name=TAG_STATISTICS_HISTORY, columns={}, nested_hints={}, create_table_variant=True)
    return resource


def workflow_resource(endpoint: Endpoint, client: RESTClient, org_ids: Sequence[str], options: ReadOptions,
                      reports: Optional[List[ReadReport]] = None, feed: Any = None) -> DltResource:
    """Templates, processes or tasks (+ comments): a full read when a sweep is due, else the
    changes the activity feed names, read once per org and run through the shared `feed`
    (see `workflow_incremental.py`); not selected unless named."""
    resource = merged_resource(workflow_rows, endpoint, client, endpoint, org_ids, options, reports, feed,
                               selected=False)
    if endpoint.resource == "tasks":
        # the comments this resource also yields (`workflow.comments_hints`) are a table variant,
        # which dlt starts from a copy of the resource's hints: without this reset the comments
        # table would carry every task column too, always null (issue 16, defect 8)
        resource.apply_hints(table_name=COMMENTS_TABLE, columns={}, nested_hints={}, create_table_variant=True)
    return resource


def activity_resource(client: RESTClient, org_ids: Sequence[str], options: ReadOptions,
                      reports: Optional[List[ReadReport]], start_date: Optional[str]) -> DltResource:
    """The activity feed: merged events from a start day (see `workflow.activity_rows`)."""
    return merged_resource(activity_rows, ACTIVITY, client, org_ids, options, reports, start_date, selected=False,
                           columns=COLUMNS[ACTIVITY.resource])  # events are never deleted: no markers


def select_resources(source: Any, names: Optional[Sequence[str]]) -> Any:
    """The source with the named tables' resources selected (no names: the default ones;
    `comments` load with `tasks`); an unknown name is refused before any request."""
    return source.with_resources(*dlt_resource_names(check_resources(names)))


@dlt.source(name="tallyfy", section="tallyfy", max_table_nesting=1)
def tallyfy_source(
    org_id: Any = dlt.config.value,  # str or list of str; dlt 1.31 does not inject Union types
    access_token: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    per_page: int = MAX_PER_PAGE,
    full_refresh: bool = False,
    requests_per_minute: int = 100,
    request_timeout: float = 60.0,
    max_attempts: int = 6,
    sweep: bool = False,
    sweep_interval_hours: float = 24.0,
    deleted_records: str = "delete",
    concurrency: int = 8,
    activity_start_date: Optional[str] = None,
    reports: Optional[List[ReadReport]] = None,
) -> List[DltResource]:
    """Members, groups, tags and guests of one or more Tallyfy organizations; on request
    (`select_resources` or `with_resources`) their templates, processes, tasks (with comments)
    and activity feed.

    Args:
        org_id: one org id, a list, a comma-separated string or a JSON list.
        access_token: a Tallyfy REST API token (secret).
        base_url: the API root; `https://go.tallyfy.com/api` for the real service.
        per_page: page size asked for on every request (1..100).
        full_refresh: ignore the stored cursors and read everything.
        requests_per_minute: the client-side request budget for the whole run (Tallyfy
            publishes 100/minute per organization); also no 10 s window gets over a sixth.
        request_timeout: seconds before a request is abandoned and retried.
        max_attempts: tries per request before a 429/5xx/reset is given up.
        sweep: read every member and group (and template, process, task) this run to find
            deleted ones and what the activity feed missed.
        sweep_interval_hours: members and groups get a full key sweep, and templates, processes
            and tasks a full read, when the last one is older than this (0: every run); between
            sweeps the workflow resources follow the activity feed. Tags and guests are swept on
            every run.
        deleted_records: "delete" removes records missing upstream (and their child rows);
            "flag" keeps them with `missing_since` set to when they were found missing.
        concurrency: pages in flight per resource during a full read (all within the budget).
        activity_start_date: the first day (YYYY-MM-DD) of the activity feed to load; default 90
            days before the first run. Kept per org in the resource state after the first run.
        reports: a list that receives one `ReadReport` per (resource, org) walk.
    """
    org_ids = org_ids_from(org_id)
    start_date = check_start_date(activity_start_date)
    token = check_token(access_token)
    url = check_base_url(base_url)
    page_size = check_per_page(per_page)
    budget = RequestBudget.shared(url, check_requests_per_minute(requests_per_minute))
    session = make_session(timeout=check_request_timeout(request_timeout), max_attempts=check_max_attempts(max_attempts),
                           budget=budget)
    client = make_client(url, token, session=session)
    options = ReadOptions(
        per_page=page_size,
        concurrency=check_concurrency(concurrency),
        full_refresh=bool(full_refresh),
        sweep=bool(sweep),
        sweep_interval_hours=check_sweep_interval_hours(sweep_interval_hours),
        deleted_records=check_deleted_records(deleted_records),
    )
    feed = WorkflowFeed(client, options)  # one feed read per org and run, shared by the workflow resources
    return [endpoint_resource(endpoint, client, org_ids, options, reports) for endpoint in ENDPOINTS.values()] + [
        workflow_resource(endpoint, client, org_ids, options, reports, feed) for endpoint in WORKFLOW_ENDPOINTS.values()
    ] + [activity_resource(client, org_ids, options, reports, start_date)]
