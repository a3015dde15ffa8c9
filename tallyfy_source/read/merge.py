"""The merge resource every table is loaded through: (org_id, key) primary key, the declared
columns with the deletion markers, nested hints for child tables, read side by side with the
other resources within one request budget."""

from typing import Any, Callable, Dict, Iterator, Optional

import dlt
from dlt.extract.hints import make_nested_hints
from dlt.sources import DltResource

from tallyfy_source.api.endpoints import Endpoint
from tallyfy_source.read.deletes import DELETED_COLUMN, MISSING_SINCE_COLUMN
from tallyfy_source.shape.columns import COLUMNS, GROUP_GUEST_COLUMNS, GROUP_MEMBER_COLUMNS, WORKFLOW_CHILD_COLUMNS

#: the deletion markers every merged table declares (`deletes.py`)
DELETE_COLUMNS = {
    DELETED_COLUMN: {"name": DELETED_COLUMN, "data_type": "bool", "nullable": True, "hard_delete": True},
    MISSING_SINCE_COLUMN: {"name": MISSING_SINCE_COLUMN, "data_type": "timestamp", "nullable": True},
}

NESTED_HINTS = {
    "groups": {
        "members": make_nested_hints(columns=GROUP_MEMBER_COLUMNS),
        "guests": make_nested_hints(columns=GROUP_GUEST_COLUMNS),
    },
    **{table: {field: make_nested_hints(columns=columns) for field, columns in children.items()}
       for table, children in WORKFLOW_CHILD_COLUMNS.items()},
}


def table_columns(endpoint: Endpoint) -> Dict[str, Any]:
    """Declared columns of an endpoint's root table, deletion markers included."""
    return {**COLUMNS[endpoint.resource], **DELETE_COLUMNS}


def merged_resource(rows: Callable[..., Iterator[Any]], endpoint: Endpoint, *args: Any,
                    selected: bool = True, columns: Optional[Dict[str, Any]] = None) -> DltResource:
    """One merge resource of `rows(*args)`: (org_id, key), declared columns, parallelized."""
    return dlt.resource(
        rows,
        name=endpoint.resource,
        primary_key=list(endpoint.primary_key),
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=columns or table_columns(endpoint),
        nested_hints=NESTED_HINTS.get(endpoint.resource),
        parallelized=True,
        selected=selected,
    )(*args)


def variant_hints(table_name: str, columns: Dict[str, Any], primary_key: Any) -> Dict[str, Any]:
    """Hints of a second table a resource fills from inside (`dlt.mark.with_hints`): merged on
    its own key, only its own columns (a variant starts from a copy of the resource's hints)."""
    return dlt.mark.make_hints(table_name=table_name, primary_key=primary_key,
                               write_disposition={"disposition": "merge", "strategy": "delete-insert"},
                               columns=columns, nested_hints={})


def own_variant(resource: DltResource, table_name: str) -> DltResource:
    """Declare a second table the resource fills from inside (`variant_hints`,
    `validity.ValidityHistory.hints`) with nothing of the resource's own hints: dlt starts a
    variant from a copy of them, so without this reset it would carry every column of the
    resource (always null), its primary key and its deletion marker."""
    resource.apply_hints(table_name=table_name, columns={}, nested_hints={}, create_table_variant=True)
    return resource
