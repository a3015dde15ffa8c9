"""How the simulator answers a request for one org's served resource once routing and the
checks have passed: a single record (404 when absent), or a page of a list (paging parameters,
filters, sort with its cache and quirks, the fault plan's page, pagination meta and links).

A mixin of `Simulator` (it reads the simulator's settings: `honour_sort`, `sort_within_pages`,
`feed_ignores_sort`, `total_pages_from_default`, `faults`); routing and the checks before an
answer are `server.py`'s.
"""

import math
from typing import Any, Callable, Dict, List, Set, Union
from urllib.parse import quote, unquote

from .families import Route
from .httpd import Request
from .org import SyntheticOrg
from .replies import Reply, error
from .serving import ServedResource, context, paging, serve_record, sort_records
from .switches import Switches


class Answers:
    """Single-record and list answers (mixed into `Simulator`)."""

    def _item(self, org: SyntheticOrg, served: ServedResource, item: str, include: Set[str], query,
              parent=None) -> Reply:
        key = served.item_key(item)
        with org.lock:
            if served.item_lookup is not None and parent is not None:
                rec = served.item_lookup(org, parent, key) if key is not None else None
            else:
                rec = org.lookup(served.resource, key) if key is not None else None
            if rec is None:
                return error(404, f"No query results for model [{served.model}] {item}", "RESOURCE_NOT_FOUND")
            ctx = context(served, org, include, None, query, single=True, settings=self)
            data = serve_record(served, org, rec, include, None, ctx)
        return Reply(200, {"data": data})

    def _list(self, request: Request, org: SyntheticOrg, route: Route, entry: Dict[str, Any],
              include: Set[str]) -> Reply:
        query, served = entry["query"], route.served
        per_page, page, errors = paging(query, served.default_per_page)
        if errors:
            return error(422, "The given data was invalid.", "VALIDATION_FAILED", errors=errors)
        entry["page"] = page

        fault = self.faults.next_fault(served.resource, page, org.org_id, query) if self.faults is not None else None
        if fault is not None:
            fault.before_serving()
            instead = fault.replacement()
            if instead is not None:
                return instead

        default = served.default_order()
        order = served.order(query, None if self.honour_sort else served.documented_sorts)
        if served.resource == "activity" and self.feed_ignores_sort:
            default = order = ("id", self.feed_ignores_sort == "newest")  # its own order, whatever is asked
        page_sort = self.sort_within_pages and order != default
        with org.lock:
            if served.source is not None:
                recs = served.select(sort_records(served.resource, served.source(org, route.parent), *order),
                                     query, org, self, route.parent)
            else:
                recs = self._selected_records(org, served, query, route.parent, default if page_sort else order)
            total = len(recs)
            if (query.get("without_pagination") or "").lower() == "true":  # every record in one answer
                per_page, page = max(total, 1), 1
            start = ((fault.page_served(page) if fault is not None else page) - 1) * per_page
            chunk = recs[start:start + per_page]
            if page_sort:
                chunk = sort_records(served.resource, chunk, *order)
            ctx = context(served, org, include, None, query, settings=self)
            data = [serve_record(served, org, r, include, None, ctx) for r in chunk]

        total_pages = max(1, math.ceil(total / per_page))
        shown_pages = total_pages
        if self.total_pages_from_default:
            shown_pages = max(1, math.ceil(total / served.default_per_page))
        links: Union[Dict[str, str], List[Any]] = []
        if page < total_pages:
            links = {"next": self._page_url(request, page + 1)}
            if page > 1:
                links["previous"] = self._page_url(request, page - 1)
        reply = Reply(200, {"data": data, "meta": {"pagination": {
            "total": total, "count": len(data), "per_page": per_page, "current_page": page,
            "total_pages": shown_pages, "links": links}}})
        return fault.alter(reply) if fault is not None else reply

    def _selected_records(self, org: SyntheticOrg, served: ServedResource, query: Dict[str, str],
                          parent: Any, order: Any) -> List[Any]:
        """The records a list request shows, in `order`, before paging; cached like the sort.

        Every page of one walk asks the same selection, and filtering the whole resource per
        page made the simulator's CPU grow with the square of the org (the feed's
        `created_after` parsed every event's time on each of 700 pages), which on a shared
        machine slowed the loader it serves. The key is everything the selection reads: the
        query but its paging, the parent, the served switches and the org's clock and state."""
        asked = tuple(sorted((k, v) for k, v in query.items() if k not in ("page", "per_page")))
        key = ("selected", org.org_id, served.resource, order, parent, asked, Switches.of(self), org.now)
        return self._cached(org, key, lambda: served.select(self._sorted_records(org, served, *order),
                                                            query, org, self, parent))

    def _sorted_records(self, org: SyntheticOrg, served: ServedResource, field: str, descending: bool):
        """All records of a resource in the given order; cached until the org next mutates
        (every mutation advances `org.mutations`). Call with `org.lock` held."""
        return self._cached(org, (org.org_id, served.resource, field, descending),
                            lambda: sort_records(served.resource, org.values(served.resource), field, descending))

    def _cached(self, org: SyntheticOrg, key: Any, compute: Callable[[], List[Any]]) -> List[Any]:
        """`compute()`, kept under `key` until the org next mutates (or is replaced)."""
        with self._lock:
            hit = self._sort_cache.get(key)
        if hit is not None and hit[0] is org and hit[1] == org.mutations:
            return hit[2]
        recs = compute()
        with self._lock:
            if len(self._sort_cache) > 64:
                self._sort_cache.clear()
            self._sort_cache[key] = (org, org.mutations, recs)
        return recs

    def _page_url(self, request: Request, page: int) -> str:
        host = request.headers.get("Host") or f"{self.host}:{self.port}"
        pairs = [p for p in request.raw_query.split("&") if p and unquote(p.partition("=")[0]) != "page"]
        pairs.append(f"page={page}")
        return f"http://{host}{quote(request.path, safe='/@:')}?{'&'.join(pairs)}"
