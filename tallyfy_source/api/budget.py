"""A client-side request budget: Tallyfy's rate limit, kept before the server has to enforce it.

Hand-written because neither `requests` nor dlt limits the request rate. One
budget is shared by every resource, org and thread of a run, and by later runs
in the same process against the same API (`RequestBudget.shared`), since the
server's window does not forget a run that just ended. Requests are
spaced so that no 60 s window holds more than `per_minute` of them and no 10 s
window more than a sixth of that: a server counting over either window never
answers 429. A small margin absorbs the gap between sending and arrival. A
request counts at the time its sleep ended, not the slot it was given: a thread
woken late (the GIL held by row shaping) would otherwise send later than counted,
and the requests after it, spaced from the earlier time, would crowd one window.
"""

import hashlib
import threading
import time
from collections import deque
from typing import Callable, Deque, Dict, List, Tuple


class RequestBudget:
    WINDOWS = ((60.0, 1.0), (10.0, 1.0 / 6.0))  # (seconds, share of per_minute)

    def __init__(self, per_minute: int, margin: float = 0.25,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.per_minute = per_minute
        self.margin = margin
        self.limits = [(seconds, max(1, int(per_minute * share))) for seconds, share in self.WINDOWS]
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: Deque[List[float]] = deque(maxlen=max(n for _, n in self.limits))  # [time] cells
        self.waited = 0.0  # total seconds spent waiting, for logs and benchmarks

    def _earliest(self, now: float) -> float:
        earliest = now
        for seconds, limit in self.limits:
            if len(self._sent) >= limit:
                earliest = max(earliest, self._sent[-limit][0] + seconds + self.margin)
        return earliest

    def acquire(self) -> None:
        """Block until one more request fits in every window, then count it as sent."""
        with self._lock:
            now = self._clock()
            slot = self._earliest(now)
            sent = [slot]
            self._sent.append(sent)  # reserve the slot now, so concurrent callers queue behind it
            self.waited += slot - now
        if slot > now:
            self._sleep(slot - now)
            with self._lock:
                sent[0] = max(slot, self._clock())  # woken late: count it when it really goes

    def left_in_window(self) -> int:
        """Requests that fit now before the budget makes one wait (for progress output)."""
        with self._lock:
            now = self._clock()
            return max(0, min(limit - sum(1 for (t,) in self._sent if now - seconds < t <= now)
                              for seconds, limit in self.limits))

    _shared: Dict[Tuple[str, int], "RequestBudget"] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls, api: str, per_minute: int, token: str = "") -> "RequestBudget":
        """The process-wide budget for one API root, token and rate (Tallyfy limits each token's
        user; the token itself is not kept, only a digest of it)."""
        key = (api, hashlib.sha256(token.encode()).hexdigest()[:16] if token else "", per_minute)
        with cls._shared_lock:
            budget = cls._shared.get(key)
            if budget is None:
                budget = cls._shared[key] = cls(per_minute)
            return budget
