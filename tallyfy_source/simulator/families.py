"""The registry of endpoint families: which path segment under `/organizations/{org}/` is served
how. Each family module lists its resources in `SERVED`; to serve a new family (e.g. a
`workflow.py` with checklists, runs, tasks and the activity feed), import it here and add it to
`FAMILIES`: routing, the request log's resource names and `org.served()` all read this table.
The family's record kinds go in `records.py`, their generators in `generate.py`, and their
mutations in `org.py`.
"""

import re
from dataclasses import dataclass
from typing import Any, Dict, Optional
from urllib.parse import unquote

from . import directory
from .serving import ServedResource

FAMILIES = {
    "directory": directory.SERVED,
    # "workflow": workflow.SERVED,  # checklists, runs, tasks, activity-feeds
}

#: path segment (`users`) -> how that resource is served
BY_PATH: Dict[str, ServedResource] = {s.path: s for family in FAMILIES.values() for s in family}
#: resource name (`members`) -> how it is served
BY_RESOURCE: Dict[str, ServedResource] = {s.resource: s for s in BY_PATH.values()}

_ORG_RE = re.compile(r"^/organizations/([^/]+)/([^/]+)(?:/([^/]+))?$")


@dataclass(frozen=True)
class Route:
    """What a request path names: `/me/organizations`, or one served resource's list or item."""

    kind: str  # "me", "list" or "item"
    org_id: Optional[str] = None
    served: Optional[ServedResource] = None
    item: Optional[str] = None  # the unquoted key segment of an item path

    def log_fields(self) -> Dict[str, Any]:
        """What the request log records about the route."""
        if self.served is None:
            return {"kind": self.kind}
        return {"kind": self.kind, "org_id": self.org_id, "resource": self.served.resource}


def strip_api(path: str) -> str:
    """Routes answer under `/api` and the same without the prefix."""
    if path.startswith("/api/") or path == "/api":
        return path[4:] or "/"
    return path


def classify(path: str) -> Optional[Route]:
    """The route a request path (trailing `/` removed) names; None when none matches."""
    path = strip_api(path)
    if path == "/me/organizations":
        return Route("me")
    m = _ORG_RE.match(path)
    if m is None or m.group(2) not in BY_PATH:
        return None
    item = m.group(3)
    return Route("list" if item is None else "item", unquote(m.group(1)), BY_PATH[m.group(2)],
                 None if item is None else unquote(item))
