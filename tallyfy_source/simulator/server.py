"""A Tallyfy-compatible HTTP API simulator (standard library only).

    sim = Simulator(org, token="sim-token").start()   # or `with Simulator(org) as sim:`
    requests.get(f"{sim.base_url}/organizations/{org.org_id}/users", headers=...)
    sim.stop()

Routes (under `/api`, and the same without the prefix): GET `/me/organizations`, and for every
resource the families registry (`families.py`) serves, its list `/organizations/{org}/<path>` and
its single items `.../<path>/{key}` (directory: `users`, `groups`, `tags`, `guests/{email}`;
workflow: `checklists`, `runs`, `tasks`, `activity-feeds`, and `runs/{id}/tasks`).

Check order for every request (first failure answers):
  1. method not GET           -> 405 METHOD_NOT_ALLOWED
  2. no `X-Tallyfy-Client` (any value: the SDK sends `TallyfySDK`) -> 404 ENDPOINT_NOT_FOUND
     (the docs: mandatory); no `Accept: application/json` -> 406 NOT_ACCEPTABLE
  3. bad/missing bearer token -> 401 UNAUTHENTICATED
  4. rate limit (if enabled)  -> 429 TOO_MANY_REQUESTS (429s do not count against the window)
  5. unknown path             -> 404 ENDPOINT_NOT_FOUND
  6. unknown or forbidden org -> 403 FORBIDDEN (`unknown_org_status=404`: unknown -> 404)
  7. bad per_page / page      -> 422 VALIDATION_FAILED (with `errors`)
  8. fault plan (list requests; single records only for `item=True` rules), then the answer
`sim.latency` seconds are slept (in the handler thread) before any of this.

This module is the API's front door: settings, routing and the checks above. The answer to a
list or single-record request is `answers.py`'s, the socket side `httpd.py`, the limiter
`ratelimit.py`, the log `requestlog.py`, what each fault does `faults.py`, and how each resource
is paged, sorted, searched and rendered its family module (`directory.py`, `workflow.py`)
through `serving.py`.
"""

import threading
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Union

from .answers import Answers
from .faults import FaultPlan
from .families import Route, classify
from .httpd import Listener, Request
from .org import SyntheticOrg
from .ratelimit import RateLimiter
from .replies import Reply, error
from .requestlog import RequestLog
from .serving import sort_records
from .switches import DEFAULT

__all__ = ["Simulator", "sort_records"]


class Simulator(Answers):
    """An in-process HTTP server speaking Tallyfy's API over synthetic orgs.

    Settings are plain attributes, safe to change between (or during) runs:
    `honour_sort`, `sort_within_pages`, `latency`, `rate_limit_per_minute`,
    `rate_limit_burst_seconds`, `faults`, `forbidden_orgs`, `total_pages_from_default`,
    `unknown_org_status`, `feed_ignores_sort` (the feed serves its own order: "oldest" or
    "newest" first, whatever is asked), and the serving switches of `switches.py` (documented
    forms by default: `update_field_name`, `task_owners`, `template_owner_ids`,
    `group_member_ids`, `include_wrapping`, `template_tags`, `template_list_archived_at`,
    `feed_shape`, `feed_offset`, `archived_reading`, `feed_lag_seconds`); `drop_next_event()`
    makes the next change write no event.

    The rate limiter is one sliding window over the whole simulator (every org, one
    token): more than N requests in 60 s, or more than ceil(N/6) in 10 s, answer 429.
    Requests are logged in `requests` before their answer is written, so a client
    that has its answer always finds the request counted.
    """

    def __init__(
        self,
        orgs: Union[SyntheticOrg, Sequence[SyntheticOrg]],
        token: Optional[str] = None,
        honour_sort: bool = True,
        update_field_name: str = "documented",
        latency: float = 0.0,
        rate_limit_per_minute: Optional[int] = None,
        faults: Optional[FaultPlan] = None,
        host: str = "127.0.0.1",
        port: int = 0,
        forbidden_orgs: Iterable[str] = (),
        total_pages_from_default: bool = False,
        unknown_org_status: int = 403,
    ):
        if isinstance(orgs, SyntheticOrg):
            orgs = [orgs]
        self.orgs: Dict[str, SyntheticOrg] = {o.org_id: o for o in orgs}
        if len(self.orgs) != len(orgs):
            raise ValueError("org ids must be unique")
        self.token = token or ("sim-token-" + (list(self.orgs)[0][:16] if self.orgs else "none"))
        #: org id -> a token of a user of that org alone (Tallyfy's tokens belong to one user in one
        #: org): it reads that org and is refused (403) on the others; `token` reads every org
        self.org_tokens: Dict[str, str] = {}
        for name, value in vars(DEFAULT).items():  # the serving switches, documented by default
            setattr(self, name, value)
        self.honour_sort = honour_sort
        #: quirk: `sort` applied to each page of the default order only, not to the whole list
        self.sort_within_pages = False
        self.update_field_name = update_field_name
        self.latency = latency
        self.rate_limit_per_minute = rate_limit_per_minute
        self.rate_limit_burst_seconds = 10.0  # second window: at most ceil(N/6) per 10 s
        self.faults = faults
        self.forbidden_orgs: Set[str] = set(forbidden_orgs)
        #: quirk: `total_pages` computed from the endpoint's default page size
        self.total_pages_from_default = total_pages_from_default
        #: what an org id the simulator does not know gets: 403 (default) or 404
        self.unknown_org_status = unknown_org_status
        #: the feed ignores `sort` and serves its own order: "oldest" or "newest" first (None: honours it)
        self.feed_ignores_sort: Optional[str] = None
        self.host = host
        self.port = port
        self.log = RequestLog()
        self.requests: List[Dict[str, Any]] = self.log.entries
        self.limiter = RateLimiter()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._sort_cache: Dict[tuple, tuple] = {}
        self._listener: Optional[Listener] = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> "Simulator":
        if self._listener is None:
            self._listener = Listener(self.host, self.port, self._handle)
            self.port = self._listener.port
        return self

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api"

    @property
    def org_ids(self) -> List[str]:
        return list(self.orgs)

    @property
    def org(self) -> SyntheticOrg:
        """The first (or only) org."""
        return next(iter(self.orgs.values()))

    def add_org(self, org: SyntheticOrg) -> None:
        with self._lock:
            self.orgs[org.org_id] = org

    def drop_next_event(self, org_id: Optional[str] = None, n: int = 1) -> None:
        """The next `n` changes to the org (default: the first) write no feed event."""
        (self.orgs[org_id] if org_id else self.org).drop_next_events(n)

    def headers(self) -> Dict[str, str]:
        """The headers a well-behaved client sends."""
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                "X-Tallyfy-Client": "APIClient"}

    def env(self, org_id: Optional[str] = None) -> Dict[str, str]:
        """Env vars that point the connector at this simulator."""
        return {"SOURCES__TALLYFY__BASE_URL": self.base_url,
                "SOURCES__TALLYFY__ORG_ID": org_id or ",".join(self.org_ids),
                "SOURCES__TALLYFY__ACCESS_TOKEN": self.token}

    # ---------------------------------------------------------------- request log, rate limit
    def request_count(self, resource: Optional[str] = None, org_id: Optional[str] = None,
                      status: Optional[int] = None, kind: Optional[str] = None) -> int:
        """Logged requests matching every given filter. `resource` accepts path names
        (`users`) or resource names (`members`); `kind` is list/item/me."""
        return self.log.count(resource, org_id, status, kind)

    def reset_counts(self) -> None:
        self.log.clear()

    def reset_rate_limit(self) -> None:
        """Forget the requests the rate limiter has counted, as if a minute had passed."""
        self.limiter.reset()

    # ---------------------------------------------------------------- handling
    def _handle(self, request: Request) -> Reply:
        entry = self.log.entry(request)
        route = classify(request.path.rstrip("/") or "/")
        if route is not None:
            entry.update(route.log_fields())  # known before any check, so 401s are counted per resource
        served_org = self.orgs.get(entry.get("org_id") or "")
        clock = served_org.now if served_org is not None else None
        with self._lock:
            self._in_flight += 1
            entry["in_flight"] = self._in_flight  # requests being answered when this one came, itself too
        try:
            if self.latency:
                time.sleep(self.latency)
            reply = self._answer(request, route, entry)
        except Exception as exc:  # a simulator bug must not hang the client
            reply = error(500, f"simulator error: {exc!r}", "SERVER_ERROR")
        finally:
            with self._lock:
                self._in_flight -= 1
        reply.date = clock  # the `Date` header: the served org's clock
        self.log.record(entry, reply)
        return reply

    def _answer(self, request: Request, route: Optional[Route], entry: Dict[str, Any]) -> Reply:
        if request.method != "GET":
            return error(405, f"The {request.method} method is not supported for this route. Supported methods: GET.",
                         "METHOD_NOT_ALLOWED")
        if not entry["client_header_ok"]:
            return error(404, "The requested endpoint was not found. Send the header X-Tallyfy-Client.",
                         "ENDPOINT_NOT_FOUND")
        if not entry["accepts_json"]:
            return error(406, "Send Accept: application/json.", "NOT_ACCEPTABLE")
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        scope = {t: org for org, t in self.org_tokens.items()}
        token = token.strip()
        if scheme.lower() != "bearer" or (token != self.token and token not in scope):
            return error(401, "Unauthenticated.", "UNAUTHENTICATED")
        entry["token_org"] = scope.get(token)  # a token of one org's user reads that org only
        limited, rl_headers = self.limiter.admit(self.rate_limit_per_minute, self.rate_limit_burst_seconds)
        if limited is not None:
            limited.headers.update(rl_headers)
            return limited
        reply = self._route(request, route, entry)
        reply.headers.update(rl_headers)
        return reply

    def _route(self, request: Request, route: Optional[Route], entry: Dict[str, Any]) -> Reply:
        if route is None:
            return error(404, "The requested endpoint was not found.", "ENDPOINT_NOT_FOUND")
        mine = entry.get("token_org")
        if route.kind == "me":
            orgs = [{"id": o.org_id, "name": o.name, "slug": o.org_id[:8]}
                    for o in self.orgs.values() if o.org_id not in self.forbidden_orgs and mine in (None, o.org_id)]
            n = len(orgs)
            return Reply(200, {"data": orgs, "meta": {"pagination": {
                "total": n, "count": n, "per_page": max(n, 1), "current_page": 1, "total_pages": 1,
                "links": []}}})
        org = self.orgs.get(route.org_id)
        readable = route.org_id not in self.forbidden_orgs and mine in (None, route.org_id)
        if route.kind == "org" and org is not None and readable:
            return Reply(200, {"data": {"id": org.org_id, "name": org.name, "slug": org.org_id[:8]}})
        if org is None and self.unknown_org_status == 404:
            return error(404, "No query results for model [Organization]", "RESOURCE_NOT_FOUND")
        if org is None or not readable:
            return error(403, "You do not have access to this organization", "FORBIDDEN")
        include = {w.strip() for w in entry["query"].get("with", "").split(",") if w.strip()}
        if route.parent is not None and org.lookup(route.parent_resource, route.parent) is None:
            model = {"runs": "Run", "checklists": "Checklist", "members": "User"}.get(route.parent_resource, "Run")
            return error(404, f"No query results for model [{model}] {route.parent}", "RESOURCE_NOT_FOUND")
        if route.kind == "item":
            fault = (self.faults.next_item_fault(route.served.resource, route.item, org.org_id, entry["query"])
                     if self.faults is not None else None)
            if fault is not None:
                fault.before_serving()
                instead = fault.replacement()
                if instead is not None:
                    return instead
            reply = self._item(org, route.served, route.item, include, entry["query"], route.parent)
            return fault.alter(reply) if fault is not None and reply.status == 200 else reply
        return self._list(request, org, route, entry, include)
