"""Flat rows to Arrow tables typed by the declared columns.

Why: dlt normalizes Python dicts one cell at a time (type coercion, timestamp
parsing); for wide rows such as members that is most of a load's local time.
An Arrow table with the declared types skips that work and is written to
Parquet as is. Used for the tables without nested lists (members, tags,
guests); groups keep dlt's own normalizer, which makes their child tables.

A value that cannot be read as its column's declared type (an email in a
bigint id, "maybe" in a bool) is stored as null with one warning per column
and batch: one odd cell must never cost the whole run.
"""

import json
import logging
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import pyarrow as pa
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.common.time import ensure_pendulum_datetime

from tallyfy_source.shape.columns import COLUMNS
from tallyfy_source.shape.rows import parse_timestamp

logger = logging.getLogger("tallyfy_source")

ARROW_TYPES: Dict[str, pa.DataType] = {
    "text": pa.string(),
    "bigint": pa.int64(),
    "bool": pa.bool_(),
    "double": pa.float64(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
_naming = NamingConvention()


@lru_cache(maxsize=4096)
def column_name(key: str) -> str:
    return _naming.normalize_identifier(key)


def flatten(row: Mapping[str, Any], prefix: str = "", out: Dict[str, Any] = None) -> Dict[str, Any]:
    """Nested objects become `parent__child` columns, as dlt would name them."""
    out = {} if out is None else out
    for key, value in row.items():
        name = f"{prefix}__{column_name(key)}" if prefix else column_name(key)
        if isinstance(value, dict):
            flatten(value, name, out)
        else:
            out[name] = value
    return out


class OddValue(ValueError):
    """A value that cannot be read as its column's declared type: stored as null."""


_BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False}
_INT64 = (-(2**63), 2**63 - 1)


def _to_bool(value: Any) -> Any:
    if isinstance(value, str):
        if value.strip().lower() not in _BOOL_TEXT:
            raise OddValue(value)
        return _BOOL_TEXT[value.strip().lower()]
    if value is None or isinstance(value, (bool, int, float)):
        return None if value is None else bool(value)
    raise OddValue(value)


def _to_int(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, float) and not value.is_integer():
        raise OddValue(value)  # a fraction in an id or a count: not silently truncated
    number = int(value)
    if not _INT64[0] <= number <= _INT64[1]:
        raise OddValue(value)
    return number


def _to_float(value: Any) -> Any:
    return None if value is None or value == "" else float(value)


def _to_timestamp(value: Any) -> Any:
    """Like `parse_timestamp`, but an unreadable value raises (one warning per column, not per value)."""
    if value is None or value == "" or isinstance(value, datetime):
        return parse_timestamp(value)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise OddValue(value)
    parsed = _iso_timestamp(value) if isinstance(value, str) else None
    if parsed is None:
        parsed = ensure_pendulum_datetime(value)  # raises on what it cannot read either
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _iso_timestamp(text: str) -> Optional[datetime]:
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return None


def _to_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)


COERCE: Dict[str, Callable[[Any], Any]] = {
    "text": _to_text,
    "bigint": _to_int,
    "bool": _to_bool,
    "double": _to_float,
    "timestamp": _to_timestamp,
}
_ARROW_FAILURES = (pa.ArrowException, TypeError, ValueError, OverflowError)

# pyarrow imports pandas (when installed) the first time it converts a datetime. Done inside a
# parallel resource's thread, that import races with dlt's `is_pandas_frame` in the other
# threads, which finds a half-initialised `pandas` in sys.modules and fails the load with
# "partially initialized module 'pandas' has no attribute 'DataFrame'". Converting one datetime
# here, at import time in the main thread, takes the import out of the threads.
pa.array([datetime(2026, 1, 1, tzinfo=timezone.utc)], type=pa.timestamp("us", tz="UTC"))
_COERCE_FAILURES = (OddValue, TypeError, ValueError, OverflowError, ArithmeticError)


def _column(values: List[Any], data_type: str, where: Callable[[], str]) -> pa.Array:
    """Fast path: Arrow reads the values as they are. Slow path (another spelling such as "12",
    "true" or ISO text, or an odd value): each value coerced, and what cannot be is null."""
    arrow_type = ARROW_TYPES[data_type]
    try:
        return pa.array(values, type=arrow_type)
    except _ARROW_FAILURES:
        pass
    coerced, odd = _coerce_all(values, COERCE[data_type])
    try:
        array = pa.array(coerced, type=arrow_type)
    except _ARROW_FAILURES:  # rare: a value coerced but still out of Arrow's range
        array = _without_misfits(values, coerced, arrow_type, odd)
    if odd:
        _warn_odd(where(), data_type, odd)
    return array


def _coerce_all(values: List[Any], coerce: Callable[[Any], Any]) -> Tuple[List[Any], List[Any]]:
    """(coerced values, the odd ones); an odd value's place holds None."""
    coerced: List[Any] = []
    odd: List[Any] = []
    for value in values:
        try:
            coerced.append(coerce(value))
        except _COERCE_FAILURES:
            coerced.append(None)
            odd.append(value)
    return coerced, odd


def _without_misfits(values: List[Any], coerced: List[Any], arrow_type: pa.DataType, odd: List[Any]) -> pa.Array:
    """The array with every value Arrow refuses set to None (and added to `odd`)."""
    for i, value in enumerate(coerced):
        if not _fits(value, arrow_type):
            odd.append(values[i])
            coerced[i] = None
    return pa.array(coerced, type=arrow_type)


def _fits(value: Any, arrow_type: pa.DataType) -> bool:
    try:
        pa.scalar(value, type=arrow_type)
        return True
    except _ARROW_FAILURES:
        return False


def _warn_odd(where: str, data_type: str, odd: List[Any]) -> None:
    """One line per column and batch: where, how many, and one example (type and a short repr)."""
    example = odd[0]
    text = example if isinstance(example, str) else repr(example)
    shown = repr(text[:40]) + ("..." if len(text) > 40 else "")
    count = f"{len(odd)} value{'s' if len(odd) != 1 else ''}"
    logger.warning(
        "%s: %s not readable as %s stored as null (e.g. %s %s)", where, count, data_type, type(example).__name__, shown
    )


def table_of(columns: TTableSchemaColumns) -> str:
    """The table whose declared columns these are (the source passes them without a name)."""
    for table, declared in COLUMNS.items():
        if all(columns.get(name) is column for name, column in declared.items()):
            return table
    return "?"


def _undeclared(values: List[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except _ARROW_FAILURES:
        return pa.array([None if v is None else json.dumps(v, default=str) for v in values], type=pa.string())


def rows_to_arrow(rows: List[Dict[str, Any]], columns: TTableSchemaColumns, table: Optional[str] = None) -> pa.Table:
    """One Arrow table: every declared column with its type, plus whatever else the rows carry.

    `table` names the table in warnings about odd values (default: found from `columns`).
    """
    flat = [flatten(row) for row in rows]
    names: Dict[str, None] = dict.fromkeys(columns)
    for row in flat:
        names.update(dict.fromkeys(row))
    arrays, fields = [], []
    for name in names:
        values = [row.get(name) for row in flat]
        declared = columns.get(name, {}).get("data_type")
        if declared in ARROW_TYPES:
            array = _column(values, declared, lambda name=name: f"{table or table_of(columns)}.{name}")
        else:
            array = _undeclared(values)
            if pa.types.is_null(array.type):
                continue  # nothing known about it yet: dlt would not make the column either
        arrays.append(array)
        fields.append(pa.field(name, array.type, nullable=True))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
