"""The page walk: Tallyfy's stop rules and a loop guard, as a dlt paginator.

Tallyfy pages are 1-based `page` numbers with a `meta.pagination` block. The
server's answer is not fully trustworthy (`links` is `[]` on the last page,
`total_pages` has been seen computed from the default page size), so a page
is the last one when ANY documented condition holds:
  current_page >= total_pages, the page is empty, or it is shorter than asked;
except that a `total_pages` that does not match `total` at our page size is
ignored, and the walk goes by `total` instead.
"""

import hashlib
import logging
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Deque, Dict, Iterator, List, Optional, Tuple

from dlt.sources.helpers.rest_client.client import PageData
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response

from tallyfy_source.api.endpoints import MAX_PER_PAGE
from tallyfy_source.errors import PaginationError

logger = logging.getLogger("tallyfy_source")
LOOP_REPEATS = 3  # repeated pages in a row that mean the server ignores `page`


def pagination_meta(response: Response) -> Dict[str, Any]:
    """`meta.pagination` of a page, or {} when the server left it out."""
    body = getattr(response, "_tallyfy_body", None)
    if body is None:
        body = response.json()
    meta = body.get("meta") if isinstance(body, dict) else None
    pagination = meta.get("pagination") if isinstance(meta, dict) else None
    return pagination if isinstance(pagination, dict) else {}


def _as_int(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def is_last_page(page_no: int, rows: List[Any], per_page: int, meta: Dict[str, Any], rows_read: int) -> bool:
    """True when no further page can hold rows (see the module docstring)."""
    page_size = per_page
    served_per_page = _as_int(meta.get("per_page"))
    if served_per_page and 0 < served_per_page < per_page:
        page_size = served_per_page  # the server capped lower than we asked
    if not rows or len(rows) < page_size:
        return True
    current = _as_int(meta.get("current_page")) or page_no
    total_pages = _as_int(meta.get("total_pages"))
    total = _as_int(meta.get("total"))
    if total is not None and total_pages is not None and total_pages != -(-total // page_size):
        # total_pages computed from another page size (seen on some routes): go by total
        return rows_read >= total
    if total_pages is not None:
        return current >= total_pages
    return total is not None and rows_read >= total


def expected_pages(meta: Dict[str, Any], per_page: int) -> int:
    """How many pages to ask for up front: from `total` when given, since `total_pages` has been
    seen computed from the endpoint's default page size; a wrong guess costs at most the pages in
    flight, and the stop rules still decide where the walk ends."""
    total = _as_int(meta.get("total"))
    served_per_page = _as_int(meta.get("per_page"))
    page_size = served_per_page if served_per_page and 0 < served_per_page < per_page else per_page
    if total is not None:
        return max(1, -(-total // page_size))
    return _as_int(meta.get("total_pages")) or 1


def page_fingerprint(rows: List[Any]) -> str:
    """Identity of a page's content, to catch a server serving one page under many numbers."""
    digest = hashlib.blake2b(digest_size=16)
    for row in rows:
        key = row.get("id", row.get("email")) if isinstance(row, dict) else row
        digest.update(repr(key).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


class TallyfyPaginator(BasePaginator):
    """Walks `page` = 1, 2, ... with Tallyfy's stop rules and a loop guard."""

    def __init__(self, per_page: int = MAX_PER_PAGE, start_page: int = 1):
        super().__init__()
        self.per_page = per_page
        self.start_page = start_page
        self.page = start_page
        self.rows_read = 0
        self.meta: Dict[str, Any] = {}
        self._seen: Dict[str, int] = {}
        self.repeats_in_a_row = 0

    def init_request(self, request: Request) -> None:
        self._has_next_page = True
        self.page = self.start_page
        self.rows_read = 0
        self._seen = {}
        self.repeats_in_a_row = 0
        request.params = dict(request.params or {})
        request.params["per_page"] = self.per_page
        request.params["page"] = self.page

    def update_state(self, response: Response, data: Optional[List[Any]] = None) -> None:
        rows = data or []
        self.meta = pagination_meta(response)
        if rows:
            self._guard_against_loops(rows, response)
        self.rows_read += len(rows)
        if is_last_page(self.page, rows, self.per_page, self.meta, self.rows_read):
            self._has_next_page = False
        else:
            self.page += 1

    def _guard_against_loops(self, rows: List[Any], response: Response) -> None:
        """A server ignoring `page` serves the same rows under every number; rows moving under a
        live walk can make ONE page repeat an earlier one (at per_page=1 a single update does).
        So only LOOP_REPEATS repeated pages in a row count as a loop."""
        fingerprint = page_fingerprint(rows)
        if fingerprint not in self._seen:
            self._seen[fingerprint] = self.page
            self.repeats_in_a_row = 0
            return
        self.repeats_in_a_row += 1
        if self.repeats_in_a_row >= LOOP_REPEATS:
            raise PaginationError(
                f"page {self.page} of {response.request.path_url.split('?')[0]} repeats page"
                f" {self._seen[fingerprint]}: the server is looping; stopped to avoid duplicates"
            )

    def update_request(self, request: Request) -> None:
        request.params["page"] = self.page


def paginate_concurrently(
    client: Any,
    path: str,
    params: Dict[str, Any],
    per_page: int,
    concurrency: int,
    hooks: Dict[str, Any],
) -> Iterator[PageData[Any]]:
    """Page 1, then up to `concurrency` further pages in flight, judged and yielded in order.

    dlt's `RESTClient.paginate` is sequential by design (each request waits for
    the previous answer); Tallyfy's page 1 tells `total_pages`, so the rest can
    be asked at once. Pages are still judged one by one, in order, by the same
    `TallyfyPaginator` (stop rules, loop guard), so an early short or empty
    page ends the walk, and a `total_pages` that was too small is walked on
    sequentially. At most `concurrency` pages are held at a time.
    """
    paginator = TallyfyPaginator(per_page=per_page)

    def fetch(page_no: int) -> Tuple[Response, List[Any]]:
        response = client.get(path, params={**params, "per_page": per_page, "page": page_no}, hooks=hooks)
        return response, client.extract_response(response, "data")

    def judged(page: Tuple[Response, List[Any]]) -> PageData[Any]:
        response, data = page
        paginator.update_state(response, data)
        return PageData(data, request=response.request, response=response, paginator=paginator, auth=None)

    yield judged(fetch(1))
    if not paginator.has_next_page:
        return
    announced = expected_pages(paginator.meta, per_page)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="tallyfy-page")
    pending: Deque[Future] = deque()
    next_page = 2
    try:
        while True:
            while len(pending) < concurrency and next_page <= announced:
                pending.append(pool.submit(fetch, next_page))
                next_page += 1
            if not pending:
                break
            yield judged(pending.popleft().result())
            if not paginator.has_next_page:
                return
        while paginator.has_next_page:  # the server announced too few pages
            yield judged(fetch(paginator.page))
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
