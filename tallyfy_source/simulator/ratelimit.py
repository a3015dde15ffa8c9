"""The simulator's rate limiter: one sliding window over everything it serves (every org, one
token). More than N requests in 60 s, or more than ceil(N/6) in the burst window (10 s by
default), answer 429 with `Retry-After`; 429s do not count against the window."""

import math
import threading
import time
from collections import deque
from typing import Dict, Optional, Tuple

from .replies import Reply, too_many_attempts


class RateLimiter:
    def __init__(self) -> None:
        self._hits: deque = deque()  # monotonic times of requests admitted
        self._lock = threading.Lock()

    def admit(self, limit: Optional[int], burst_seconds: float) -> Tuple[Optional[Reply], Dict[str, str]]:
        """(the 429 to answer or None, the `X-RateLimit-*` headers every answer carries);
        `limit` None or 0: no limit, no headers."""
        if not limit:
            return None, {}
        burst = max(1, math.ceil(limit / 6))
        window = burst_seconds
        now = time.monotonic()
        with self._lock:
            hits = self._hits
            while hits and hits[0] <= now - 60:
                hits.popleft()
            recent = [t for t in hits if t > now - window]
            wait = 0.0
            if len(hits) >= limit:
                wait = hits[len(hits) - limit] + 60 - now
            if len(recent) >= burst:
                wait = max(wait, recent[len(recent) - burst] + window - now)
            if wait > 0:
                headers = {"Retry-After": str(max(1, math.ceil(wait))),
                           "X-RateLimit-Limit": str(limit),
                           "X-RateLimit-Remaining": "0"}
                return too_many_attempts(), headers
            hits.append(now)
            return None, {"X-RateLimit-Limit": str(limit),
                          "X-RateLimit-Remaining": str(max(0, min(limit - len(hits),
                                                                  burst - len(recent) - 1)))}

    def reset(self) -> None:
        """Forget the requests counted, as if a minute had passed."""
        with self._lock:
            self._hits.clear()
