"""The request and wall-time floor of one full load, as issue 6 defines it.

P = pages at per_page=100 summed over the resources; the wall floor is
max(P / allowed request rate, P x latency / concurrency): the rate limit or
the round trips, whichever binds. The incremental bounds follow the README:
a walk stops at the first page reaching rows older than its cursor, then
spends one probe request proving the server sorted.
"""

import inspect
import math
from typing import Dict, Optional, Tuple

from tallyfy_source.api.endpoints import ENDPOINTS, MAX_PER_PAGE

CONCURRENCY_WORDS = ("concurren", "parallel", "workers")


def pages_of(counts: Dict[str, int], per_page: int = MAX_PER_PAGE) -> Dict[str, int]:
    """Pages per resource: a list endpoint always answers at least one page."""
    return {resource: max(1, math.ceil(n / per_page)) for resource, n in counts.items()}


def wall_floor(pages: int, latency: float, per_minute: Optional[int], concurrency: Optional[int]) -> float:
    """Seconds no client can beat: rate-limit bound, or round trips over the concurrency."""
    rate_bound = pages / (per_minute / 60.0) if per_minute else 0.0
    latency_bound = pages * latency / concurrency if concurrency else 0.0
    return max(rate_bound, latency_bound)


def source_concurrency() -> Optional[Tuple[str, int]]:
    """(parameter, default) of the source's page concurrency, when it exposes one."""
    from tallyfy_source import tallyfy_source

    try:
        params = inspect.signature(tallyfy_source).parameters
    except (TypeError, ValueError):
        return None
    for name, param in params.items():
        if any(word in name for word in CONCURRENCY_WORDS) and isinstance(param.default, int):
            return name, param.default
    return None


def full_load_requests(pages: Dict[str, int]) -> int:
    """Requests of a full load: every page once, plus, for each incremental resource read
    concurrently over more than two pages (with two, page 2 waits for page 1), page 1 again at the end (it proves no row crossed a
    page boundary while pages were in flight, so the cursor may advance)."""
    rechecks = sum(1 for r, n in pages.items() if ENDPOINTS[r].incremental and n > 2)
    return sum(pages.values()) + rechecks


def incremental_requests(pages: Dict[str, int], changed: Dict[str, int], per_page: int = MAX_PER_PAGE) -> int:
    """Requests of an incremental run after `changed[resource]` records were updated.

    Incremental resources read newest first up to the first page holding an
    unchanged row, plus one ascending probe unless that page was the last one;
    the others (tags, guests) read every page.
    """
    total = 0
    for resource, n_pages in pages.items():
        if not ENDPOINTS[resource].incremental:
            total += n_pages
            continue
        read = min(n_pages, changed.get(resource, 0) // per_page + 1)
        total += read + (1 if read < n_pages else 0)
    return total
