"""The request log: one entry per request, appended before its answer is written, so a client
that has its answer always finds the request counted. Tests and benchmarks read it
(`sim.requests`, `sim.request_count(...)`)."""

import threading
import time
from typing import Any, Dict, List, Optional

from .families import BY_PATH
from .httpd import Request
from .replies import Reply


class RequestLog:
    def __init__(self) -> None:
        self.entries: List[Dict[str, Any]] = []
        self._lock = threading.Lock()

    @staticmethod
    def entry(request: Request) -> Dict[str, Any]:
        """What is known of a request before any check (its route is added by the server)."""
        h = request.headers
        return {
            "time": time.time(), "method": request.method, "path": request.path,
            "raw_query": request.raw_query, "query": request.query, "status": None, "resource": None,
            "org_id": None, "page": None, "kind": None, "fault": None,
            "has_auth": "Authorization" in h,
            "has_client_header": bool(h.get("X-Tallyfy-Client")),
            "headers": {name: h.get(name) for name in ("Accept", "X-Tallyfy-Client")},
            "client_header_ok": bool((h.get("X-Tallyfy-Client") or "").strip()),  # any value
            "accepts_json": "application/json" in (h.get("Accept") or ""),
        }

    def record(self, entry: Dict[str, Any], reply: Reply) -> None:
        """Complete `entry` with the answer (status 0: the connection was reset) and log it."""
        entry["status"] = 0 if reply.reset else reply.status
        entry["fault"] = reply.fault.kind if reply.fault else None
        with self._lock:
            self.entries.append(entry)

    def count(self, resource: Optional[str] = None, org_id: Optional[str] = None,
              status: Optional[int] = None, kind: Optional[str] = None) -> int:
        """Entries matching every given filter. `resource` accepts path names (`users`) or
        resource names (`members`); `kind` is list/item/me."""
        if resource:
            resource = BY_PATH[resource].resource if resource in BY_PATH else resource
        else:
            resource = None
        with self._lock:
            return sum(1 for r in self.entries
                       if (resource is None or r["resource"] == resource)
                       and (org_id is None or r["org_id"] == org_id)
                       and (status is None or r["status"] == status)
                       and (kind is None or r["kind"] == kind))

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()
