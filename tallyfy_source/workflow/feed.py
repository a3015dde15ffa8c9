"""Reading the activity feed newest first, down to the events already loaded.

The feed is asked for `sort=-created_at` from a day (`created_after`, a day, inclusive). Its ids
are integers given in creation order, so once a page ends at or below the newest id already
loaded, every later page holds only older events. That holds only when the server really
answers newest first: each page descending, and each page starting below where the previous
one ended. One page out of that order turns the early stop off, and the feed is read to its end
(still bounded by the day). `WorkflowFeed` (which processes changed) and the `activity` table
both read the feed this way.
"""

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, Iterator, List, Optional, Tuple

from dlt.sources.helpers.rest_client import RESTClient

from tallyfy_source.api.client import check_response
from tallyfy_source.api.endpoints import ACTIVITY
from tallyfy_source.api.paging import expected_pages, pagination_meta
from tallyfy_source.read.endpoint_read import fetch_pages, server_time
from tallyfy_source.shape.rows import parse_timestamp

Row = Dict[str, Any]


def event_id(event: Any) -> Optional[int]:
    """An event's integer id (None when it has none that reads as an integer)."""
    try:
        return int(event.get("id"))
    except (AttributeError, TypeError, ValueError):
        return None


def utc_day(value: Any) -> Optional[str]:
    """The UTC day (`YYYY-MM-DD`) of a timestamp, whatever offset it was written with."""
    when = parse_timestamp(value)
    return when.astimezone(timezone.utc).date().isoformat() if when is not None else None


def day_before(day: str) -> str:
    """The margin every feed read takes: `created_after` is a day in the server's own zone, which
    may run up to a day behind UTC, so a read for events from UTC day D asks from D - 1."""
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def newest_event(client: RESTClient, org_id: str, per_page: int) -> Tuple[int, str, int]:
    """(newest event id, its UTC day, requests made): the cursor a sweep stores before it reads.

    Page 1 asked newest first holds the newest event only on a server that honours `sort`; one
    that ignores it serves its own order, often oldest first. So when the feed has more than one
    page the last page is read too (one request more per sweep) and the newest of both is taken:
    exact whether the server serves newest or oldest first (or sorts within pages only). On a
    server with no order at all the result is an older event, which is still a safe cursor (ids
    grow in creation order, so every later event has a larger id and a later day): the next run
    then reads a few more feed pages, never fewer."""
    pages = fetch_pages(client, ACTIVITY, org_id, per_page)
    try:
        first = next(pages, None)
    finally:
        pages.close()
    events: List[Any] = list(first or [])
    requests = 1
    last_page = expected_pages(pagination_meta(first.response), per_page) if first is not None else 1
    if events and last_page > 1:
        params = {**ACTIVITY.params, "per_page": per_page, "page": last_page}
        response = client.get(f"organizations/{org_id}/{ACTIVITY.path}", params=params,
                              hooks={"response": [check_response]})
        requests += 1
        events += client.extract_response(response, "data")
    known = [(i, e.get("created_at")) for i, e in ((event_id(e), e) for e in events) if i is not None]
    if not known:
        when = server_time(first) if first is not None else None
        return 0, (when or datetime.now(timezone.utc)).date().isoformat(), requests
    newest, created = max(known, key=lambda pair: pair[0])
    when = server_time(first)
    return newest, utc_day(created) or (when or datetime.now(timezone.utc)).date().isoformat(), requests


def feed_pages(client: RESTClient, org_id: str, after_day: str, per_page: int,
               stop_at: Optional[int]) -> Iterator[Any]:
    """The feed's pages from `after_day`, newest first; after a page that reaches `stop_at`
    (None: never) no further page is asked for, provided every page so far was in order."""
    endpoint = replace(ACTIVITY, params={**ACTIVITY.params, "created_after": after_day})
    pages = fetch_pages(client, endpoint, org_id, per_page)
    previous: Optional[int] = None
    in_order = True
    try:
        for page in pages:
            yield page
            ids: List[int] = [i for i in (event_id(e) for e in page) if i is not None]
            if any(a < b for a, b in zip(ids, ids[1:])) or (previous is not None and ids and ids[0] > previous):
                in_order = False
            previous = ids[-1] if ids else previous
            if stop_at is not None and in_order and ids and ids[-1] <= stop_at:
                return
    finally:
        pages.close()
