"""How the activity feed writes an event: the documented form, or the bare form.

The org stores events in the bare form (scalars, bare words: what the feed filters compare).
Tallyfy's API reference ("Get activity feed for a process", its response example) serves them
with record types as PHP class names and most fields as lists, with the actor's details beside
its id; that is what the simulator serves by default (`Simulator.feed_shape = "documented"`).
`"bare"` serves the stored form (scalars, bare words), the form older servers and our first
simulator used. `feed_offset` writes `created_at` with another UTC offset (same instant), as a
server in another zone would (`"+05:30"`); `None` keeps the stored spelling.
"""

from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

from .timestamps import parse_ts

Record = Dict[str, Any]
SHAPES = ("documented", "bare")
_MODELS = "App\\Models\\"


def _listed(value: Any) -> Optional[List[Any]]:
    return None if value is None else [value]


def _actor(org: Any, actor_id: Optional[int]) -> List[Record]:
    member = org.member(actor_id) if actor_id is not None else None
    if member is None:
        return []
    return [{"email": member.get("email"), "username": member.get("username"),
             "first_name": member.get("first_name"), "last_name": member.get("last_name"),
             "full_name": member.get("full_name"), "profile_pic": member.get("profile_pic"),
             "resize_profile_pic": member.get("profile_pic")}]


def with_offset(stamp: Optional[str], offset: str) -> Optional[str]:
    """`stamp` written in the zone `offset` (`+05:30`, `-04:00`): the same instant."""
    if not stamp:
        return stamp
    sign = -1 if offset.startswith("-") else 1
    hours, _, minutes = offset.lstrip("+-").partition(":")
    zone = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))
    return parse_ts(stamp).astimezone(zone).isoformat()


def documented(event: Record, org: Any) -> Record:
    """A stored (bare) event as the API reference's response example shows one."""
    actor_id = event.get("actor_id")
    return {
        "id": event["id"], "organization_id": org.org_id,
        "verb": _listed(event.get("verb")) or [],
        "source": ["Member"] if actor_id is not None else [],
        "actor_type": [_MODELS + "User"] if actor_id is not None else [],
        "actor_id": [actor_id] if actor_id is not None else [],
        "actor": _actor(org, actor_id),
        "auditable_type": _MODELS + event["auditable_type"] if event.get("auditable_type") else None,
        "auditable_id": event.get("auditable_id"),
        "parentable_type": _MODELS + event["parentable_type"] if event.get("parentable_type") else None,
        "parentable_id": event.get("parentable_id"),
        "type": _listed(event.get("type")) or [],
        "description": _listed(event.get("description")) or [],
        "field": _listed(event.get("field")), "old_value": _listed(event.get("old_value")),
        "text": _listed(event.get("text")), "references": None,
        "created_at": event.get("created_at"), "undoable": False,
    }


def served_event(event: Record, org: Any, shape: str, offset: Optional[str]) -> Record:
    """One event as the simulator's settings say to serve it."""
    out = documented(event, org) if shape == "documented" else dict(event)
    if offset:
        out["created_at"] = with_offset(out.get("created_at"), offset)
    return out
