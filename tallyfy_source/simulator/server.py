"""A Tallyfy-compatible HTTP API simulator (standard library only).

    sim = Simulator(org, token="sim-token").start()   # or `with Simulator(org) as sim:`
    requests.get(f"{sim.base_url}/organizations/{org.org_id}/users", headers=...)
    sim.stop()

Routes (under `/api`, and the same without the prefix): GET
`/organizations/{org}/users|groups|tags|guests`, the single items
`.../users/{id}`, `.../groups/{id}`, `.../tags/{id}`, `.../guests/{email}`, and
`/me/organizations`.

Check order for every request (first failure answers):
  1. method not GET           -> 405 METHOD_NOT_ALLOWED
  2. `X-Tallyfy-Client` not `APIClient` -> 404 ENDPOINT_NOT_FOUND (the docs: mandatory);
     no `Accept: application/json` -> 406 NOT_ACCEPTABLE
  3. bad/missing bearer token -> 401 UNAUTHENTICATED
  4. rate limit (if enabled)  -> 429 TOO_MANY_REQUESTS (429s do not count against the window)
  5. unknown path             -> 404 ENDPOINT_NOT_FOUND
  6. unknown or forbidden org -> 403 FORBIDDEN (`unknown_org_status=404`: unknown -> 404)
  7. bad per_page / page      -> 422 VALIDATION_FAILED (with `errors`)
  8. fault plan (list requests only), then the answer
`sim.latency` seconds are slept (in the handler thread) before any of this.
"""

import email.utils
import json
import math
import re
import socket
import struct
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union
from urllib.parse import quote, unquote, urlsplit

from ..endpoints import ENDPOINTS, MAX_PER_PAGE
from .faults import Fault, FaultPlan
from .org import KEY_FIELD, UPDATABLE, SyntheticOrg, parse_ts

PATH_TO_RESOURCE = {e.path: e.resource for e in ENDPOINTS.values()}
TIME_FIELDS = {"created_at", "updated_at", "last_login_at", "last_accessed_at"}

#: accepted sort parameter names per resource (first = the endpoint table's)
SORT_PARAMS = {
    "members": (ENDPOINTS["members"].sort_param,),
    "groups": (ENDPOINTS["groups"].sort_param, "sort"),
    "tags": (ENDPOINTS["tags"].sort_param,),
    "guests": (ENDPOINTS["guests"].sort_param, "sort_by"),
}
#: sortable fields per resource; value = stored field compared
SORT_FIELDS = {
    "members": {"id": "id", "created_at": "created_at", "updated_at": "updated_at",
                "last_updated": "updated_at", "email": "email", "first_name": "first_name",
                "last_name": "last_name", "full_name": "full_name", "name": "full_name",
                "username": "username", "last_login_at": "last_login_at",
                "last_accessed_at": "last_accessed_at"},
    "groups": {"id": "id", "created_at": "created_at", "updated_at": "updated_at",
               "last_updated": "updated_at", "name": "name"},
    "tags": {"id": "id", "created_at": "created_at", "title": "title", "name": "title"},
    "guests": {"id": "id", "created_at": "created_at", "email": "email", "first_name": "first_name",
               "last_name": "last_name", "last_accessed_at": "last_accessed_at"},
}
#: default order when no (honoured, known) sort is given
DEFAULT_SORT = {"members": "id", "groups": "created_at", "tags": "created_at", "guests": "created_at"}
#: fields `q` searches (case-insensitive substring)
SEARCH_FIELDS = {
    "members": ("first_name", "last_name", "email"),
    "groups": ("name", "description"),
    "tags": ("title",),
    "guests": ("email",),
}
ITEM_MODEL = {"members": "User", "groups": "Group", "tags": "Tag", "guests": "Guest"}

_LIST_RE = re.compile(r"^/organizations/([^/]+)/(users|groups|tags|guests)$")
_ITEM_RE = re.compile(r"^/organizations/([^/]+)/(users|groups|tags|guests)/([^/]+)$")


# ------------------------------------------------------------------ pure helpers
def _strip_api(path: str) -> str:
    if path.startswith("/api/") or path == "/api":
        return path[4:] or "/"
    return path


def _classify(path: str) -> Dict[str, Any]:
    """kind/resource/org_id of a request path (None when the path is unknown)."""
    path = _strip_api(path)
    if path == "/me/organizations":
        return {"kind": "me"}
    m = _LIST_RE.match(path) or _ITEM_RE.match(path)
    if m is None:
        return {}
    return {"kind": "list" if m.re is _LIST_RE else "item", "org_id": unquote(m.group(1)),
            "resource": PATH_TO_RESOURCE[m.group(2)]}


def parse_query(raw_query: str) -> Dict[str, str]:
    """Decode a query string like Tallyfy does: `%XX` decoded, `+` kept literally.
    A repeated name keeps its last value."""
    out: Dict[str, str] = {}
    for pair in raw_query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        out[unquote(name)] = unquote(value)
    return out


def _sort_value(rec: Dict[str, Any], field: str):
    value = rec.get(field)
    if value is None:
        return (0, "")
    if field in TIME_FIELDS and isinstance(value, str):
        try:
            return (1, parse_ts(value))
        except ValueError:
            return (0, "")  # an unreadable time sorts with the missing ones
    if isinstance(value, str):
        return (1, value.casefold())
    return (1, value)


def sort_records(resource: str, recs: List[Dict[str, Any]], field: str, descending: bool = False):
    """Sort by a stored field, ties broken by the key (same direction)."""
    key_field = KEY_FIELD[resource] if resource != "guests" else "id"
    return sorted(recs, key=lambda r: (_sort_value(r, field), r[key_field]), reverse=descending)


def default_sort(resource: str, recs: List[Dict[str, Any]]):
    return sort_records(resource, recs, DEFAULT_SORT[resource])


def serve_record(org: SyntheticOrg, resource: str, rec: Dict[str, Any], include: Set[str],
                 update_field_name: str = "updated_at", ctx: Optional[Dict[str, Any]] = None):
    """The API copy of a stored record: update-time key renamed, includes wrapped."""
    ctx = ctx or {}
    if resource in UPDATABLE and update_field_name != "updated_at":
        out = {(update_field_name if k == "updated_at" else k): v for k, v in rec.items()}
    else:
        out = dict(rec)
    for k, v in out.items():  # records are flat: one level of copying is enough
        if isinstance(v, list):
            out[k] = list(v)
        elif isinstance(v, dict):
            out[k] = dict(v)
    if resource == "members":
        if "stats" in include:
            out["stats"] = {"data": dict(org.member_stats.get(rec["id"], {}))}
        if "groups" in include:
            out["groups"] = {"data": [dict(g) for g in ctx.get("groups_of", {}).get(rec["id"], [])]}
    elif resource == "tags":
        if "statistics" in include:
            out["statistics"] = {"data": dict(org.tag_statistics.get(rec["id"], {}))}
    elif resource == "guests":
        if "stats" in include:
            out["stats"] = {"data": dict(org.guest_stats.get(rec["email"], {}))}
    elif resource == "groups":
        if "users" in include:
            users = []
            for mid in rec["members"]:
                m = org._data["members"].get(mid)
                if m is not None:
                    users.append({"id": m["id"], "email": m["email"], "full_name": m["full_name"]})
            out["users"] = {"data": users}
        # `with=guests` is accepted but changes nothing: `guests` already is the email list,
        # and wrapping it would clash with that field.
        if "assets" in include:
            out["assets"] = {"data": []}
    return out


def _error(status: int, message: str, code: str, **extra: Any) -> "_Reply":
    body = {"error": True, "message": message, "code": code}
    body.update(extra)
    return _Reply(status, body)


class _Reply:
    def __init__(self, status: int, body: Any = None, headers: Optional[Dict[str, str]] = None,
                 raw: Optional[bytes] = None, content_type: str = "application/json",
                 action: Optional[str] = None, fault: Optional[Fault] = None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.raw = raw
        self.content_type = content_type
        self.action = action  # None, "reset", "truncated"
        self.fault = fault

    def _with(self, fault: Fault) -> "_Reply":
        self.fault = fault
        return self

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ------------------------------------------------------------------ HTTP plumbing
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TallyfySimulator/1.0"

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    clock = None  # the org's simulated time, for the Date header (None: the machine's clock)

    def _dispatch(self) -> None:
        self.server.sim._handle(self)  # type: ignore[attr-defined]

    def date_time_string(self, timestamp: Optional[float] = None) -> str:
        """`Date` is the served org's clock, the one its update times are written with: a client
        may bound its cursor by it, as against the real service."""
        if timestamp is None and self.clock is not None:
            return email.utils.format_datetime(self.clock, usegmt=True)
        return super().date_time_string(timestamp)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # client hung up (timeouts, resets): not interesting


# ------------------------------------------------------------------ the simulator
class Simulator:
    """An in-process HTTP server speaking Tallyfy's API over synthetic orgs.

    Settings are plain attributes, safe to change between (or during) runs:
    `honour_sort`, `sort_within_pages`, `update_field_name`, `latency`, `rate_limit_per_minute`,
    `rate_limit_burst_seconds`, `faults`, `forbidden_orgs`, `total_pages_from_default`,
    `unknown_org_status`.

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
        update_field_name: str = "updated_at",
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
        self.host = host
        self.port = port
        self.requests: List[Dict[str, Any]] = []
        self._lock = threading.Lock()
        self._sort_cache: Dict[tuple, tuple] = {}
        self._hits: deque = deque()  # monotonic times of requests admitted by the limiter
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> "Simulator":
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), _Handler)
        self._server.sim = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"tallyfy-sim-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

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

    def headers(self) -> Dict[str, str]:
        """The headers a well-behaved client sends."""
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                "X-Tallyfy-Client": "APIClient"}

    def env(self, org_id: Optional[str] = None) -> Dict[str, str]:
        """Env vars that point the connector at this simulator."""
        return {"SOURCES__TALLYFY__BASE_URL": self.base_url,
                "SOURCES__TALLYFY__ORG_ID": org_id or ",".join(self.org_ids),
                "SOURCES__TALLYFY__ACCESS_TOKEN": self.token}

    # ---------------------------------------------------------------- request log
    def request_count(self, resource: Optional[str] = None, org_id: Optional[str] = None,
                      status: Optional[int] = None, kind: Optional[str] = None) -> int:
        """Logged requests matching every given filter. `resource` accepts path names
        (`users`) or resource names (`members`); `kind` is list/item/me."""
        resource = PATH_TO_RESOURCE.get(resource, resource) if resource else None
        with self._lock:
            return sum(1 for r in self.requests
                       if (resource is None or r["resource"] == resource)
                       and (org_id is None or r["org_id"] == org_id)
                       and (status is None or r["status"] == status)
                       and (kind is None or r["kind"] == kind))

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    def reset_rate_limit(self) -> None:
        """Forget the requests the rate limiter has counted, as if a minute had passed."""
        with self._lock:
            self._hits.clear()

    # ---------------------------------------------------------------- rate limit
    def _rate_limit(self) -> Tuple[Optional[_Reply], Dict[str, str]]:
        limit = self.rate_limit_per_minute
        if not limit:
            return None, {}
        burst = max(1, math.ceil(limit / 6))
        window = self.rate_limit_burst_seconds
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
                return _error(429, "Too Many Attempts.", "TOO_MANY_REQUESTS", ), headers
            hits.append(now)
            return None, {"X-RateLimit-Limit": str(limit),
                          "X-RateLimit-Remaining": str(max(0, min(limit - len(hits),
                                                                  burst - len(recent) - 1)))}

    # ---------------------------------------------------------------- handling
    def _handle(self, h: _Handler) -> None:
        parts = urlsplit(h.path)
        path = parts.path.rstrip("/") or "/"
        raw_query = parts.query
        entry: Dict[str, Any] = {
            "time": time.time(), "method": h.command, "path": parts.path, "raw_query": raw_query,
            "query": parse_query(raw_query), "status": None, "resource": None, "org_id": None,
            "page": None, "kind": None, "fault": None,
            "has_auth": "Authorization" in h.headers,
            "has_client_header": bool(h.headers.get("X-Tallyfy-Client")),
            "client_header_ok": h.headers.get("X-Tallyfy-Client") == "APIClient",
            "accepts_json": "application/json" in (h.headers.get("Accept") or ""),
        }
        entry.update(_classify(path))  # known before any check, so 401s are counted per resource
        served_org = self.orgs.get(entry.get("org_id") or "")
        h.clock = served_org.now if served_org is not None else None
        length = int(h.headers.get("Content-Length") or 0)
        if length:
            h.rfile.read(length)
        try:
            if self.latency:
                time.sleep(self.latency)
            reply = self._answer(h, path, entry)
        except Exception as exc:  # a simulator bug must not hang the client
            reply = _error(500, f"simulator error: {exc!r}", "SERVER_ERROR")
        entry["status"] = 0 if reply.action == "reset" else reply.status
        entry["fault"] = reply.fault.kind if reply.fault else None
        with self._lock:
            self.requests.append(entry)
        if reply.fault is not None and reply.fault.kind == "timeout":
            time.sleep(reply.fault.delay)
        self._send(h, reply)

    def _send(self, h: _Handler, reply: _Reply) -> None:
        try:
            if reply.action == "reset":
                h.close_connection = True
                sock = h.connection
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                h.rfile.close()
                h.wfile.close()
                sock.close()
                return
            body = reply.payload()
            announced = len(body)
            if reply.action == "truncated":
                fault = reply.fault
                cut = max(1, min(len(body) - 1, int(len(body) * (fault.fraction if fault else 0.5))))
                body = body[:cut]
                announced = announced if fault is not None and fault.full_length else cut
                h.close_connection = True
            h.send_response(reply.status)
            h.send_header("Content-Type", reply.content_type + "; charset=utf-8")
            h.send_header("Content-Length", str(announced))
            for k, v in reply.headers.items():
                h.send_header(k, v)
            if h.close_connection:
                h.send_header("Connection", "close")
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(body)
        except OSError:
            h.close_connection = True  # the client went away (e.g. after its own timeout)

    def _answer(self, h: _Handler, path: str, entry: Dict[str, Any]) -> _Reply:
        if h.command != "GET":
            return _error(405, f"The {h.command} method is not supported for this route. Supported methods: GET.",
                          "METHOD_NOT_ALLOWED")
        if not entry["client_header_ok"]:
            return _error(404, "The requested endpoint was not found. Send the header X-Tallyfy-Client: APIClient.",
                          "ENDPOINT_NOT_FOUND")
        if not entry["accepts_json"]:
            return _error(406, "Send Accept: application/json.", "NOT_ACCEPTABLE")
        auth = h.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.token:
            return _error(401, "Unauthenticated.", "UNAUTHENTICATED")
        limited, rl_headers = self._rate_limit()
        if limited is not None:
            limited.headers.update(rl_headers)
            return limited
        reply = self._route(h, path, entry)
        reply.headers.update(rl_headers)
        return reply

    def _route(self, h: _Handler, path: str, entry: Dict[str, Any]) -> _Reply:
        path = _strip_api(path)
        if path == "/me/organizations":
            orgs = [{"id": o.org_id, "name": o.name, "slug": o.org_id[:8]}
                    for o in self.orgs.values() if o.org_id not in self.forbidden_orgs]
            n = len(orgs)
            return _Reply(200, {"data": orgs, "meta": {"pagination": {
                "total": n, "count": n, "per_page": max(n, 1), "current_page": 1, "total_pages": 1,
                "links": []}}})
        m = _LIST_RE.match(path)
        item = None
        if m is None:
            m = _ITEM_RE.match(path)
            if m is None:
                return _error(404, "The requested endpoint was not found.", "ENDPOINT_NOT_FOUND")
            item = unquote(m.group(3))
        org_id, resource = unquote(m.group(1)), PATH_TO_RESOURCE[m.group(2)]
        org = self.orgs.get(org_id)
        if org is None and self.unknown_org_status == 404:
            return _error(404, "No query results for model [Organization]", "RESOURCE_NOT_FOUND")
        if org is None or org_id in self.forbidden_orgs:
            return _error(403, "You do not have access to this organization", "FORBIDDEN")
        include = {w.strip() for w in entry["query"].get("with", "").split(",") if w.strip()}
        if item is not None:
            return self._item(org, resource, item, include)
        return self._list(h, org, resource, entry, include)

    def _item(self, org: SyntheticOrg, resource: str, item: str, include: Set[str]) -> _Reply:
        key: Any = item
        if resource == "members":
            try:
                key = int(item)
            except ValueError:
                key = None
        with org.lock:
            rec = org._data[resource].get(key) if key is not None else None
            if rec is None:
                return _error(404, f"No query results for model [{ITEM_MODEL[resource]}] {item}",
                              "RESOURCE_NOT_FOUND")
            ctx = org._include_context(resource, include)
            data = serve_record(org, resource, rec, include, self.update_field_name, ctx)
        return _Reply(200, {"data": data})

    def _list(self, h: _Handler, org: SyntheticOrg, resource: str, entry: Dict[str, Any],
              include: Set[str]) -> _Reply:
        query = entry["query"]
        ep = ENDPOINTS[resource]
        errors: Dict[str, List[str]] = {}
        per_page = ep.server_default_per_page
        if "per_page" in query:
            try:
                per_page = int(query["per_page"])
                if per_page <= 0:
                    errors["per_page"] = ["The per page must be at least 1."]
            except ValueError:
                errors["per_page"] = ["The per page must be an integer."]
            per_page = min(per_page, MAX_PER_PAGE)
        page = 1
        if "page" in query:
            try:
                page = int(query["page"])
                if page <= 0:
                    errors["page"] = ["The page must be at least 1."]
            except ValueError:
                errors["page"] = ["The page must be an integer."]
        if errors:
            return _error(422, "The given data was invalid.", "VALIDATION_FAILED", errors=errors)
        entry["page"] = page

        fault = self.faults.next_fault(resource, page, org.org_id, query) if self.faults is not None else None
        if fault is not None and fault.kind == "mutate" and fault.action is not None:
            fault.action()  # outside org.lock: the action takes it through the org's mutators
        if fault is not None:
            if fault.kind == "status":
                return _error(fault.status, "Service Unavailable" if fault.status == 503 else "Server Error",
                              "SERVICE_UNAVAILABLE" if fault.status == 503 else "SERVER_ERROR")._with(fault)
            if fault.kind == "retry_after":
                r = _error(fault.status, "Too Many Attempts.", "TOO_MANY_REQUESTS")
                r.headers["Retry-After"] = fault.retry_after
                r.headers["X-RateLimit-Remaining"] = "0"
                return r._with(fault)
            if fault.kind == "reset":
                return _Reply(0, action="reset", fault=fault)
            if fault.kind == "not_json":
                html = (b"<!DOCTYPE html><html><head><title>Tallyfy</title></head><body>"
                        b"<h1>We'll be right back</h1></body></html>")
                return _Reply(200, raw=html, content_type="text/html", fault=fault)

        field, descending = self._order(resource, query)
        page_sort = self.sort_within_pages and (field, descending) != (DEFAULT_SORT[resource], False)
        with org.lock:
            if page_sort:
                recs = self._sorted_records(org, resource, DEFAULT_SORT[resource], False)
            else:
                recs = self._sorted_records(org, resource, field, descending)
            if resource == "tags" and query.get("all") != "true":
                recs = [t for t in recs if not t["auto_generated"]]
            q = query.get("q", "")
            if q:
                needle = q.casefold()
                fields = SEARCH_FIELDS[resource]
                recs = [r for r in recs
                        if any(needle in str(r.get(f) or "").casefold() for f in fields)]
            total = len(recs)
            start = ((1 if fault is not None and fault.kind == "loop" else page) - 1) * per_page
            chunk = recs[start:start + per_page]
            if page_sort:
                chunk = sort_records(resource, chunk, field, descending)
            ctx = org._include_context(resource, include)
            data = [serve_record(org, resource, r, include, self.update_field_name, ctx) for r in chunk]

        total_pages = max(1, math.ceil(total / per_page))
        shown_pages = total_pages
        if self.total_pages_from_default:
            shown_pages = max(1, math.ceil(total / ep.server_default_per_page))
        links: Union[Dict[str, str], List[Any]] = []
        if page < total_pages:
            links = {"next": self._page_url(h, entry, page + 1)}
            if page > 1:
                links["previous"] = self._page_url(h, entry, page - 1)
        body: Dict[str, Any] = {"data": data, "meta": {"pagination": {
            "total": total, "count": len(data), "per_page": per_page, "current_page": page,
            "total_pages": shown_pages, "links": links}}}
        if fault is not None and fault.kind == "missing_meta":
            del body["meta"]
        if fault is not None and fault.kind == "wrong_total":
            body["meta"]["pagination"]["total"] = total + fault.total_delta
        reply = _Reply(200, body, fault=fault)
        if fault is not None and fault.kind == "truncated":
            reply.action = "truncated"
        return reply

    def _order(self, resource: str, query: Dict[str, str]) -> Tuple[str, bool]:
        """(stored field, descending) the request asks for, or the default order."""
        if self.honour_sort:
            for name in SORT_PARAMS[resource]:
                spec = query.get(name, "").strip()
                if not spec:
                    continue
                field = SORT_FIELDS[resource].get(spec.lstrip("-+").strip())
                if field is not None:
                    return field, spec.startswith("-")
                break  # unknown field: default order
        return DEFAULT_SORT[resource], False

    def _sorted_records(self, org: SyntheticOrg, resource: str, field: str, descending: bool):
        """All records of `resource` in the given order; cached until the org next mutates
        (every mutation advances `org.mutations`). Call with `org.lock` held."""
        key = (org.org_id, resource, field, descending)
        with self._lock:
            hit = self._sort_cache.get(key)
        if hit is not None and hit[0] == org.mutations and hit[1] is org._data[resource]:
            return hit[2]
        recs = sort_records(resource, list(org._data[resource].values()), field, descending)
        with self._lock:
            if len(self._sort_cache) > 64:
                self._sort_cache.clear()
            self._sort_cache[key] = (org.mutations, org._data[resource], recs)
        return recs

    def _page_url(self, h: _Handler, entry: Dict[str, Any], page: int) -> str:
        host = h.headers.get("Host") or f"{self.host}:{self.port}"
        pairs = [p for p in entry["raw_query"].split("&") if p and unquote(p.partition("=")[0]) != "page"]
        pairs.append(f"page={page}")
        return f"http://{host}{quote(entry['path'], safe='/@:')}?{'&'.join(pairs)}"

