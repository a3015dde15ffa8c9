"""Flat rows to Arrow tables typed by the declared columns.

Why: dlt normalizes Python dicts one cell at a time (type coercion, timestamp
parsing); for wide rows such as members that is most of a load's local time.
An Arrow table with the declared types skips that work and is written to
Parquet as is. Used for the tables without nested lists (members, tags,
guests); groups keep dlt's own normalizer, which makes their child tables.
"""

import json
from functools import lru_cache
from typing import Any, Callable, Dict, List, Mapping

import pyarrow as pa
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.common.schema.typing import TTableSchemaColumns

from .rows import parse_timestamp

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


def _to_bool(value: Any) -> Any:
    if isinstance(value, str):
        return {"true": True, "false": False, "1": True, "0": False}.get(value.strip().lower())
    return None if value is None else bool(value)


COERCE: Dict[str, Callable[[Any], Any]] = {
    "text": lambda v: v if v is None or isinstance(v, str) else (json.dumps(v) if isinstance(v, (dict, list)) else str(v)),
    "bigint": lambda v: None if v is None or v == "" else int(v),
    "bool": _to_bool,
    "double": lambda v: None if v is None or v == "" else float(v),
    "timestamp": parse_timestamp,
}


def _column(values: List[Any], data_type: str) -> pa.Array:
    arrow_type = ARROW_TYPES[data_type]
    try:
        return pa.array(values, type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        coerce = COERCE[data_type]  # slow path: values in another spelling ("12", "true", ISO text)
        return pa.array([coerce(v) for v in values], type=arrow_type)


def _undeclared(values: List[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return pa.array([None if v is None else json.dumps(v, default=str) for v in values], type=pa.string())


def rows_to_arrow(rows: List[Dict[str, Any]], columns: TTableSchemaColumns) -> pa.Table:
    """One Arrow table: every declared column with its type, plus whatever else the rows carry."""
    flat = [flatten(row) for row in rows]
    names: Dict[str, None] = dict.fromkeys(columns)
    for row in flat:
        names.update(dict.fromkeys(row))
    arrays, fields = [], []
    for name in names:
        values = [row.get(name) for row in flat]
        declared = columns.get(name, {}).get("data_type")
        if declared in ARROW_TYPES:
            array = _column(values, declared)
        else:
            array = _undeclared(values)
            if pa.types.is_null(array.type):
                continue  # nothing known about it yet: dlt would not make the column either
        arrays.append(array)
        fields.append(pa.field(name, array.type, nullable=True))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
