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
from typing import Any, Dict, Iterator, List, Optional

from dlt.sources.helpers.rest_client import RESTClient

from .endpoints import ACTIVITY
from .reading import fetch_pages

Row = Dict[str, Any]


def event_id(event: Any) -> Optional[int]:
    """An event's integer id (None when it has none that reads as an integer)."""
    try:
        return int(event.get("id"))
    except (AttributeError, TypeError, ValueError):
        return None


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
