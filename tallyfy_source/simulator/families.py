"""The registry of endpoint families: which path segment under `/organizations/{org}/` is served
how. Each family module lists its resources in `SERVED`; to serve a new family (e.g. a
`workflow.py` with checklists, runs, tasks and the activity feed), import it here and add it to
`FAMILIES`: routing, the request log's resource names and `org.served()` all read this table.
The family's record kinds go in `records.py`, their generators in `generate.py` (workflow:
`generate_workflow.py`), and their mutations in `directory_changes.py` (workflow:
`workflow_changes.py`, `task_changes.py`).
A family's `NESTED` lists lists under one record (`/runs/{id}/tasks`).
"""

import re
from dataclasses import dataclass
from typing import Any, Dict, Optional
from urllib.parse import unquote

from . import directory, nested, workflow
from .serving import ServedResource

FAMILIES = {
    "directory": directory.SERVED,
    "workflow": workflow.SERVED,  # checklists, runs, tasks, activity-feeds
}
#: (parent path, child path) -> (parent resource, how the child list is served)
NESTED = {**workflow.NESTED, **nested.NESTED}

#: path segment (`users`) -> how that resource is served
BY_PATH: Dict[str, ServedResource] = {s.path: s for family in FAMILIES.values() for s in family}
#: resource name (`members`) -> how it is served
BY_RESOURCE: Dict[str, ServedResource] = {s.resource: s for s in BY_PATH.values()}
BY_PATH.update(nested.ALIASES)  # `users-list`, `guests-list`: served as `users`, `guests`

_ORG_RE = re.compile(r"^/organizations/([^/]+)/([^/]+)(?:/([^/]+)(?:/([^/]+)(?:/([^/]+))?)?)?$")


@dataclass(frozen=True)
class Route:
    """What a request path names: `/me/organizations`, or one served resource's list or item."""

    kind: str  # "me", "org", "list" or "item"
    org_id: Optional[str] = None
    served: Optional[ServedResource] = None
    item: Optional[str] = None  # the unquoted key segment of an item path
    parent: Optional[Any] = None  # a nested list's parent key (`/runs/{parent}/tasks`)
    parent_resource: Optional[str] = None

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
    if m is None and path.startswith("/organizations/") and path.count("/") == 2:
        return Route("org", unquote(path.split("/")[2]))  # `/organizations/{org}`: the org itself
    if m is not None and m.group(4) is not None:
        child = NESTED.get((m.group(2), m.group(4)))
        if child is None or m.group(2) not in BY_PATH:
            return None
        parent = BY_PATH[m.group(2)].item_key(unquote(m.group(3)))
        item = None if m.group(5) is None else unquote(m.group(5))
        if item is not None and child[1].item_lookup is None:
            return None
        return Route("list" if item is None else "item", unquote(m.group(1)), child[1], item=item,
                     parent=parent, parent_resource=child[0])
    if m is None or m.group(2) not in BY_PATH:
        return None
    item = m.group(3)
    return Route("list" if item is None else "item", unquote(m.group(1)), BY_PATH[m.group(2)],
                 None if item is None else unquote(item))
