"""What the tables must hold, computed from the simulator's records independently of the source."""

from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Tuple

TIMESTAMP_FIELDS = {
    "created_at", "updated_at", "last_updated", "last_login_at", "last_accessed_at", "activated_at",
    "approved_at", "disabled_at", "deleted_at", "last_step_created_at",
}


def _ts(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None  # an unreadable time is loaded as null (with a warning)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def full_read_requests(resource: str, collection: Any, per_page: int = 100, concurrent: bool = True) -> int:
    """List requests of one full read: each page once, and for members and groups read
    concurrently over three pages or more, page 1 once more at the end (see reading.py)."""
    pages = max(1, -(-len(records(collection)) // per_page))
    return pages + (1 if concurrent and resource in ("members", "groups") and pages > 2 else 0)


def records(collection: Any) -> List[Dict[str, Any]]:
    return list(collection.values()) if isinstance(collection, dict) else list(collection)


def _flatten(prefix: str, value: Dict[str, Any], out: Dict[str, Any]) -> None:
    if set(value) == {"data"} and isinstance(value["data"], dict):
        value = value["data"]  # an included relation's envelope
    for key, inner in value.items():
        name = f"{prefix}__{key.lower()}"
        if isinstance(inner, dict):
            _flatten(name, inner, out)
        else:
            out[name] = _ts(inner) if key in TIMESTAMP_FIELDS else inner


def table_row(record: Dict[str, Any], org_id: str) -> Dict[str, Any]:
    """An API record as a root-table row: lists removed (child tables), objects flattened."""
    row: Dict[str, Any] = {"org_id": org_id}
    for key, value in record.items():
        if isinstance(value, list):
            continue
        name = "updated_at" if key == "last_updated" else key.lower()
        if isinstance(value, dict):
            _flatten(name, value, row)
        else:
            row[name] = _ts(value) if key in TIMESTAMP_FIELDS else value
    return row


def keyed(rows: Iterable[Dict[str, Any]], key: Tuple[str, ...]) -> Dict[tuple, Dict[str, Any]]:
    return {tuple(r[k] for k in key): r for r in rows}


def assert_rows_match(table_rows: List[Dict[str, Any]], expected_rows: List[Dict[str, Any]], key: Tuple[str, ...]) -> None:
    """Same keys, no duplicates, and every expected field equal (columns only the table has must be null)."""
    got = keyed(table_rows, key)
    assert len(got) == len(table_rows), "duplicate keys in the table"
    want = keyed(expected_rows, key)
    assert set(got) == set(want), f"missing {sorted(set(want) - set(got))[:5]}, extra {sorted(set(got) - set(want))[:5]}"
    for k, expected in want.items():
        actual = got[k]
        for column, value in expected.items():
            if value is None and column not in actual:
                continue  # an undeclared field that is null everywhere makes no column
            assert column in actual, f"column {column} missing from table"
            assert actual[column] == value, f"{k} {column}: table has {actual[column]!r}, API has {value!r}"
        for column in set(actual) - set(expected):
            assert actual[column] is None, f"{k} {column}: table has {actual[column]!r}, API has no such field"
