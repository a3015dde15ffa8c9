"""What an activity-feed event says, whichever form the server writes it in.

Tallyfy's API reference ("Get activity feed for a process", its response example) serves an
event with its record types as PHP class names (`auditable_type: "App\\Models\\Task"`) and most
descriptive fields as lists (`verb: ["completed"]`, `actor_id: [67890]`, `actor: [{email, ...}]`).
Other answers (and older servers) use bare words and scalars (`"Task"`, `"completed"`). Both forms
mean the same; this module reads either, so the feed reader and the `activity` table never
depend on which one a server chose.

The `activity` table holds plain columns (the rule is in the README, "The activity table"):
- a one-element list is its element; a list of several values is their texts joined with ", "
  (`actor_id`, `actor_email` and `actor_name` are the first actor's); an empty list is null;
- record and actor types are the class's short name (`App\\Models\\Task` -> `Task`);
- a value that is an object (or a list of objects) is kept as JSON text; `references` is always
  JSON text, in `references_json` (`references` is a reserved word in SQL);
- the Fractal includes `audit`, `parent`, `origin` and the state snapshots are not loaded (the
  connector never asks for them; they are copies of records the other tables hold).
"""

import json
from typing import Any, Dict, List, Optional

from tallyfy_source.shape.rows import unwrap

Row = Dict[str, Any]

#: fields a server may serve as lists (the documented form) or as scalars (the bare form)
LIST_FIELDS = ("verb", "source", "actor_type", "type", "description", "field", "old_value", "text")
#: includes and snapshots that are never loaded
NOT_LOADED = ("audit", "parent", "origin", "audit_state", "parent_state", "actor", "organization_id")


def as_values(value: Any) -> List[Any]:
    """A field's values: a list as it is, a scalar as one value, null as none."""
    if value is None:
        return []
    value = unwrap(value)  # a Fractal include
    return list(value) if isinstance(value, (list, tuple)) else [value]


def short_name(value: Any) -> Optional[str]:
    """`App\\Models\\Task` -> `Task` (a bare word stays as it is; a list: its first value)."""
    values = [v for v in as_values(value) if v is not None and not isinstance(v, (dict, list))]
    if not values:
        return None
    text = str(values[0]).strip()
    for separator in ("\\", "/", "."):
        text = text.rsplit(separator, 1)[-1]
    return text or None


def record_kind(value: Any) -> str:
    """A record type as a lower-case bare word (`"App\\Models\\Run"`, `"Run"`, `["run"]` -> `run`)."""
    return (short_name(value) or "").lower()


def _text(values: List[Any]) -> Optional[str]:
    if not values:
        return None
    if any(isinstance(v, (dict, list)) for v in values):
        return json.dumps(values[0] if len(values) == 1 else values, sort_keys=True, separators=(",", ":"),
                          default=str)
    if len(values) == 1:
        return None if values[0] is None else str(values[0])
    return ", ".join(str(v) for v in values if v is not None) or None


def _integer(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _actor(event: Row) -> Row:
    ids = [i for i in as_values(event.get("actor_id")) if i is not None]
    actors = [a for a in as_values(event.get("actor")) if isinstance(a, dict)]
    first = actors[0] if actors else {}
    name = first.get("full_name") or " ".join(
        str(p) for p in (first.get("first_name"), first.get("last_name")) if p) or None
    return {"actor_id": _integer(ids[0]) if ids else _integer(first.get("id")),
            "actor_type": short_name(event.get("actor_type")),
            "actor_email": first.get("email"), "actor_name": name}


def event_row(event: Row) -> Row:
    """One event as one `activity` row of plain columns (the caller parses `created_at`)."""
    row = {k: v for k, v in event.items() if k not in NOT_LOADED}
    for name in LIST_FIELDS:
        if name in row:
            row[name] = _text(as_values(row[name]))
    row.update(_actor(event))
    if "references" in row:
        refs = as_values(row.pop("references"))
        row["references_json"] = json.dumps(refs, sort_keys=True, separators=(",", ":"), default=str) if refs else None
    for name in ("auditable_type", "parentable_type", "type"):
        if event.get(name) is not None:
            row[name] = short_name(event.get(name))
    for name in ("auditable_id", "parentable_id"):
        if row.get(name) is not None:
            row[name] = str(_text(as_values(row[name])))
    row["id"] = _integer(event.get("id"))
    for name, value in list(row.items()):  # a field the API adds later: never a child table
        if isinstance(value, (dict, list)):
            row[name] = _text(as_values(value)) if isinstance(value, list) else _text([value])
    return row
