"""Repeatable fault injection for the simulator.

A `FaultPlan` is consulted once per LIST request that passed the header, auth,
routing, org-access and rate-limit checks (`/me` is never faulted). Those list requests are
numbered 1, 2, 3, ... (`plan.requests_seen`); a rule matches on that number and/or resource,
org and page. A rule fires at most `times` times (None = always), so a client's retry of the
same page succeeds. Single-record requests (`/runs/{id}`, `/checklists/{id}`, ...) are
faulted only by rules made with `item=True` (optionally `key=` one record); they are not
numbered and the random part of a plan never touches them.

Kinds (what each does to the answer is the fault's own method: `before_serving`, `replacement`,
`page_served`, `alter`; the server just asks):
  status        answer `status` (default 503) with a JSON error body
  retry_after   answer `status` (default 429) with `Retry-After: <retry_after>`
                (seconds like "0"/"2", or an HTTP date)
  reset         close the connection without any answer (TCP RST)
  timeout       sleep `delay` seconds (longer than the client's timeout), then answer normally
  truncated     200 whose JSON body is cut at `fraction` of its length; Content-Length
                matches the cut body unless `full_length=True` (then the peer sees a short read)
  not_json      200 `text/html` page instead of JSON
  missing_meta  the normal envelope without `meta`
  loop          page 1's rows served under any page number (meta/links as for the asked page)
  wrong_total   the normal page, but `meta.pagination.total` off by `total_delta`
  mutate        call `action()` (e.g. delete a record upstream), then answer normally: tests
                what happens when the org changes while a client is paging through it;
                `change_between(...)` builds one for "before page N of this walk is served"
"""

import random
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .replies import Reply, error, too_many_attempts

KINDS = ("status", "retry_after", "reset", "timeout", "truncated", "not_json", "missing_meta", "loop",
         "wrong_total", "mutate")
#: kinds a retrying client should recover from; the default for `FaultPlan.random`
TRANSIENT_KINDS = ("status", "retry_after", "reset", "truncated", "not_json")
#: what `not_json` serves: a maintenance page
MAINTENANCE_PAGE = (b"<!DOCTYPE html><html><head><title>Tallyfy</title></head><body>"
                    b"<h1>We'll be right back</h1></body></html>")


@dataclass
class Fault:
    kind: str
    status: Optional[int] = None  # status/retry_after: default 503/429
    resource: Optional[str] = None  # members/groups/tags/guests (None: any)
    page: Optional[int] = None  # requested page number (absent `page` = 1)
    org_id: Optional[str] = None
    request: Optional[Union[int, Sequence[int]]] = None  # global list-request number(s), 1-based
    times: Optional[int] = 1  # how often it fires; None = every match
    retry_after: str = "1"
    delay: float = 2.0  # timeout: seconds slept before answering
    fraction: float = 0.5  # truncated: share of the body sent
    full_length: bool = False  # truncated: announce the full Content-Length
    total_delta: int = 5  # wrong_total: added to the true total
    action: Optional[Callable[[], None]] = field(default=None, compare=False)  # mutate: run first
    query: Optional[Dict[str, Optional[str]]] = None  # query values the request must carry
    # (e.g. one walk's sort); a None value: the request must NOT carry that parameter
    item: bool = False  # True: matches single-record requests instead of list pages
    key: Optional[str] = None  # item rules: only this record's key
    fired: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {KINDS}")
        if self.status is None:
            self.status = 429 if self.kind == "retry_after" else 503 if self.kind == "status" else 200

    def matches(self, n: int, resource: str, page: Optional[int], org_id: str,
                query: Optional[Dict[str, str]] = None, item: bool = False, key: Optional[str] = None) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if self.item != item or (self.key is not None and self.key != key):
            return False
        if self.query is not None and any((query or {}).get(k) != v for k, v in self.query.items()):
            return False
        if self.resource is not None and self.resource != resource:
            return False
        if self.page is not None and self.page != page:
            return False
        if self.org_id is not None and self.org_id != org_id:
            return False
        if self.request is not None:
            wanted = {self.request} if isinstance(self.request, int) else set(self.request)
            if n not in wanted:
                return False
        return True

    # ---------------------------------------------------------------- what it does to an answer
    def before_serving(self) -> None:
        """mutate: change the org before the page is read. Called outside the org's lock: the
        action takes it through the org's mutators."""
        if self.kind == "mutate" and self.action is not None:
            self.action()

    def replacement(self) -> Optional[Reply]:
        """The answer given instead of the page (status, retry_after, reset, not_json), or None."""
        if self.kind == "status":
            unavailable = self.status == 503
            reply = error(self.status, "Service Unavailable" if unavailable else "Server Error",
                          "SERVICE_UNAVAILABLE" if unavailable else "SERVER_ERROR")
        elif self.kind == "retry_after":
            reply = too_many_attempts(self.status)
            reply.headers["Retry-After"] = self.retry_after
            reply.headers["X-RateLimit-Remaining"] = "0"
        elif self.kind == "reset":
            reply = Reply(0)
            reply.reset = True
        elif self.kind == "not_json":
            reply = Reply(200, raw=MAINTENANCE_PAGE, content_type="text/html")
        else:
            return None
        reply.fault = self
        return reply

    def page_served(self, page: int) -> int:
        """Whose rows the page asked for gets: loop serves page 1's under any number."""
        return 1 if self.kind == "loop" else page

    def alter(self, reply: Reply) -> Reply:
        """The normal page, changed: missing_meta and wrong_total change the body, truncated and
        timeout how it is sent. Every kind that gets here marks the answer as its own."""
        if self.kind == "missing_meta":
            reply.body.pop("meta", None)
        elif self.kind == "wrong_total":
            reply.body["meta"]["pagination"]["total"] += self.total_delta
        elif self.kind == "truncated":
            reply.truncate = self._cut
        elif self.kind == "timeout":
            reply.delay = self.delay
        reply.fault = self
        return reply

    def _cut(self, payload: bytes) -> Tuple[bytes, int]:
        """(the bytes sent, the Content-Length announced) of a truncated body."""
        cut = max(1, min(len(payload) - 1, int(len(payload) * self.fraction)))
        return payload[:cut], (len(payload) if self.full_length else cut)


class FaultPlan:
    """Ordered rules (first match fires) plus an optional seeded random part."""

    def __init__(self, rules: Sequence[Fault] = (), seed: Any = 0, rate: float = 0.0,
                 kinds: Sequence[str] = TRANSIENT_KINDS, resource: Optional[str] = None,
                 delay: float = 2.0):
        self.rules: List[Fault] = list(rules)
        self.seed = seed
        self.rate = rate
        self.kinds = tuple(kinds)
        for k in self.kinds:
            if k not in KINDS:
                raise ValueError(f"unknown fault kind {k!r}")
        self.resource = resource
        self.delay = delay
        self.requests_seen = 0
        self.fired: List[Dict[str, Any]] = []  # {request, kind, resource, page, org_id}
        self._lock = threading.Lock()

    @classmethod
    def random(cls, seed: Any, rate: float, kinds: Optional[Sequence[str]] = None,
               resource: Optional[str] = None, delay: float = 2.0) -> "FaultPlan":
        """Each list request n fails with probability `rate`, the kind drawn from `kinds`;
        the draw depends only on (seed, n), so a run with the same request order repeats."""
        return cls([], seed=seed, rate=rate, kinds=kinds or TRANSIENT_KINDS, resource=resource,
                   delay=delay)

    def _random_fault(self, n: int, resource: str) -> Optional[Fault]:
        if self.rate <= 0 or (self.resource is not None and resource != self.resource):
            return None
        rng = random.Random(f"fault:{self.seed}:{n}")
        if rng.random() >= self.rate:
            return None
        kind = rng.choice(self.kinds)
        status = None
        if kind == "status":
            status = rng.choice((500, 502, 503, 504))
        return Fault(kind=kind, status=status, retry_after=rng.choice(("0", "1")), delay=self.delay,
                     fraction=rng.uniform(0.1, 0.9))

    def next_fault(self, resource: str, page: int, org_id: str, query: Optional[Dict[str, str]] = None) -> Optional[Fault]:
        """Number this list request and return the fault to inject, if any."""
        with self._lock:
            self.requests_seen += 1
            n = self.requests_seen
            chosen = None
            for rule in self.rules:
                if rule.matches(n, resource, page, org_id, query):
                    rule.fired += 1
                    chosen = rule
                    break
            if chosen is None:
                chosen = self._random_fault(n, resource)
            if chosen is not None:
                self.fired.append({"request": n, "kind": chosen.kind, "resource": resource,
                                   "page": page, "org_id": org_id})
            return chosen

    def next_item_fault(self, resource: str, key: str, org_id: str,
                        query: Optional[Dict[str, str]] = None) -> Optional[Fault]:
        """The fault to inject into a single-record request, if an `item=True` rule matches."""
        with self._lock:
            for rule in self.rules:
                if rule.matches(0, resource, None, org_id, query, item=True, key=key):
                    rule.fired += 1
                    self.fired.append({"request": None, "kind": rule.kind, "resource": resource, "page": None,
                                       "org_id": org_id, "key": key})
                    return rule
            return None

    def reset(self) -> None:
        """Forget what fired: rules fire again, numbering restarts at 1."""
        with self._lock:
            self.requests_seen = 0
            self.fired.clear()
            for rule in self.rules:
                rule.fired = 0

    def __repr__(self) -> str:
        return (f"FaultPlan(rules={len(self.rules)}, rate={self.rate}, seen={self.requests_seen}, "
                f"fired={len(self.fired)})")


def change_between(resource: str, page: int, action: Callable[[], None], sort: Optional[str] = None,
                   times: Optional[int] = 1, **match: Any) -> Fault:
    """A change to the org made just before `page` of a walk of `resource` is served, i.e.
    between that walk's requests for page-1 and page; `sort` (e.g. "-updated_at") picks the
    walk by the sort it asks for."""
    query = {{"groups": "sort_by"}.get(resource, "sort"): sort} if sort else None
    return Fault("mutate", resource=resource, page=page, action=action, times=times, query=query, **match)
