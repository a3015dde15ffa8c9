"""Row shaping: what the API sends, made into what the tables hold.

- `with=` includes arrive wrapped as `{"data": ...}`: unwrapped, so dlt flattens
  `stats: {...}` into `stats__*` columns.
- The update time arrives as `updated_at` or `last_updated`: one `updated_at`.
- Every row carries the `org_id` it was read from (part of every primary key).
"""

import logging
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from dlt.common.time import ensure_pendulum_datetime

from tallyfy_source.api.endpoints import UPDATE_TIME_SPELLINGS

logger = logging.getLogger("tallyfy_source")


def unwrap(value: Any) -> Any:
    """THE unwrap: an include (a Fractal relation) comes as `{"data": x}` or as `x`; this is `x`."""
    if isinstance(value, dict) and len(value) == 1 and "data" in value:
        return value["data"]
    return value


def as_list(value: Any) -> List[Any]:
    """An include that holds a list, unwrapped; anything else is an empty list."""
    value = unwrap(value)
    return list(value) if isinstance(value, list) else []


def unwrap_includes(row: Dict[str, Any]) -> Dict[str, Any]:
    """Replace every `{"data": x}` value (an included relation) by `x`."""
    for key, value in row.items():
        row[key] = unwrap(value)
    return row


def parse_times(row: Dict[str, Any], table_columns: Dict[str, Any]) -> Dict[str, Any]:
    """The row's values of the table's declared timestamp columns, parsed (`parse_timestamp`)."""
    for name, column in table_columns.items():
        if column.get("data_type") == "timestamp" and name in row:
            row[name] = parse_timestamp(row[name])
    return row


def unify_update_time(row: Dict[str, Any]) -> Dict[str, Any]:
    """Move `last_updated` to `updated_at`, whichever spelling the server used."""
    canonical, alternative = UPDATE_TIME_SPELLINGS
    if alternative in row:
        value = row.pop(alternative)
        if row.get(canonical) is None:
            row[canonical] = value
    return row


def parse_timestamp(value: Any) -> Optional[datetime]:
    """ISO 8601 as Tallyfy writes it (`Z`, `.000Z`, `+00:00`, `.000000Z`) to an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:  # not ISO 8601 as documented: let dlt's lenient parser try
        try:
            parsed = ensure_pendulum_datetime(str(value))
        except Exception:
            logger.warning("unreadable timestamp %r stored as null", value)
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def shape_row(row: Dict[str, Any], org_id: str, has_update_time: bool) -> Dict[str, Any]:
    """One API record as one root-table row."""
    unwrap_includes(row)
    if has_update_time:
        unify_update_time(row)
        row["updated_at"] = parse_timestamp(row.get("updated_at"))
    row["org_id"] = org_id
    return row


def keyed_list_items(row: Dict[str, Any], fields: Any, parent_key: str) -> Dict[str, Any]:
    """A list of plain values (a group's `members` ids, `guests` emails) as child rows that carry
    `org_id` and the parent's id beside the `value`, so the child table joins its parent without
    dlt's `_dlt_parent_id` (issue 19). Member ids served as digit strings (the single-group page)
    become integers."""
    for field in fields:
        values = row.get(field)
        if not isinstance(values, list):
            continue
        parent = None if row.get("id") is None else str(row["id"])
        items = []
        for v in values:
            if isinstance(v, dict):  # a child row already (a flagged row read back from the table)
                v = v.get("value")
            if isinstance(v, str) and v.isdigit() and field == "members":
                v = int(v)
            items.append({"value": v, "org_id": row.get("org_id"), parent_key: parent})
        row[field] = items
    return row
