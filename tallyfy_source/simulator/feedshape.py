"""The activity feed's documented form (docs: `processes/get-process-activity.mdx`, its response
example and field table), rendered from the simulator's stored events (bare words, scalars).

One event: `id` integer, `organization_id`; `verb, source, type, description` lists of strings;
`actor_type` a list of PHP class names, `actor_id` a list of integers, `actor` a list of objects;
`auditable_type`/`parentable_type` PHP class names; `field, old_value, text, references` lists or
null; `created_at` ISO 8601; `undoable`; `origin` null; `audit`/`parent` Fractal includes
`{"data": {...}}` only when asked (`with=audit,parent`). `feed_shape="bare"` serves the stored
form; `feed_offset="+05:30"` writes the times in that offset (the same instants).
"""

from datetime import timedelta, timezone
from typing import Any, Callable, Dict, Optional

from .timestamps import parse_ts

Record = Dict[str, Any]
#: stored record words -> the PHP class the documented form names
CLASS = {"Task": "App\\Models\\Task", "Run": "App\\Models\\Run", "Checklist": "App\\Models\\Checklist",
         "Thread": "App\\Models\\Thread", "Step": "App\\Models\\Step", "Member": "App\\Models\\User",
         "User": "App\\Models\\User", "Guest": "App\\Models\\Guest", "Group": "App\\Models\\Group",
         "Tag": "App\\Models\\Tag"}
#: the stored record kind an event's auditable type names (for `audit`/`parent` includes)
_KIND = {"Task": "tasks", "Run": "runs", "Checklist": "checklists"}
#: `actor_type` filter words -> stored actor types
ACTOR_FILTER = {"user": "Member", "member": "Member", "guest": "Guest"}


def stamp(value: Optional[str], sw: Any) -> Optional[str]:
    """`value` written in the zone `sw.feed_offset` (`+05:30`, `-04:00`): the same instant."""
    if not value or not sw.feed_offset:
        return value
    sign = -1 if sw.feed_offset.startswith("-") else 1
    hours, _, minutes = sw.feed_offset.lstrip("+-").partition(":")
    zone = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))
    return parse_ts(value).astimezone(zone).isoformat()


def _actor(org: Any, ev: Record) -> Optional[Record]:
    if ev["actor_id"] is None:
        return None
    m = org.lookup("members", ev["actor_id"]) if ev["actor_type"] == "Member" else None
    m = m or {}
    return {"email": m.get("email"), "username": m.get("username"), "first_name": m.get("first_name"),
            "last_name": m.get("last_name"), "full_name": m.get("full_name"),
            "profile_pic": m.get("profile_pic"), "resize_profile_pic": m.get("profile_pic")}


def _listed(value: Any) -> Optional[list]:
    return None if value is None else [value]


def _include(org: Any, word: Optional[str], key: Optional[str], render: Callable) -> Record:
    kind = _KIND.get(word or "")
    rec = org.lookup(kind, key) if kind and key else None
    return {"data": render(kind, rec) if rec is not None else {}}


def documented(org: Any, ev: Record, out: Record, ctx: Dict[str, Any], render: Callable) -> None:
    """Reshape the served copy `out` of the stored event `ev` (in place)."""
    sw = ctx["_sw"]
    if sw.feed_shape == "bare":
        out["created_at"] = stamp(ev["created_at"], sw)
        return
    actor = _actor(org, ev)
    include = ctx.get("_include") or set()
    out.clear()
    out.update({
        "id": ev["id"], "organization_id": org.org_id, "verb": [ev["verb"]],
        "source": [ev["actor_type"]] if ev["actor_type"] else [],
        "actor_type": [CLASS[ev["actor_type"]]] if ev["actor_type"] else [],
        "actor_id": [ev["actor_id"]] if ev["actor_id"] is not None else [],
        "auditable_type": CLASS.get(ev["auditable_type"], ev["auditable_type"]),
        "auditable_id": ev["auditable_id"],
        "parentable_type": CLASS.get(ev["parentable_type"], ev["parentable_type"]) if ev["parentable_type"] else None,
        "parentable_id": ev["parentable_id"],
        "type": [ev["type"]], "description": [ev["description"]],
        "field": _listed(ev["field"]), "old_value": _listed(ev["old_value"]),
        "created_at": stamp(ev["created_at"], sw), "text": _listed(ev["text"]), "references": None,
        "actor": [actor] if actor is not None else [], "undoable": False,
    })
    if "audit" in include:
        out["audit"] = _include(org, ev["auditable_type"], ev["auditable_id"], render)
    if "parent" in include:
        out["parent"] = _include(org, ev["parentable_type"], ev["parentable_id"], render)
    out["origin"] = None


def matches(ev: Record, name: str, value: str) -> bool:
    """A feed filter's bare word against a stored event (what the server compares)."""
    if name == "actor_type":
        return ev["actor_type"] == ACTOR_FILTER.get(value.lower(), value)
    if name == "source":
        return (ev["actor_type"] or "Webhook").lower() == value.lower()
    if name == "type":
        return (ev["type"] or "").lower() == value.lower()
    field = "auditable_id" if name == "entity_id" else name
    return str(ev[field]) == value
