"""The merge resource every table is loaded through: (org_id, key) primary key, the declared
columns with the deletion markers, nested hints for child tables, read side by side with the
other resources within one request budget."""

from typing import Any, Callable, Dict, Iterator, List, Optional

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


#: resource name -> the tables it fills from inside (`own_variant`), for `apply_file_format`
VARIANTS: Dict[str, List[str]] = {}


def own_variant(resource: DltResource, table_name: str) -> DltResource:
    """Declare a second table the resource fills from inside (`variant_hints`,
    `validity.ValidityHistory.hints`) with nothing of the resource's own hints: dlt starts a
    variant from a copy of them, so without this reset it would carry every column of the
    resource (always null), its primary key and its deletion marker. The copy made now also
    misses the file format `pipeline.run(loader_file_format=...)` sets later on the resource
    alone: `apply_file_format` sets it on both."""
    resource.apply_hints(table_name=table_name, columns={}, nested_hints={}, create_table_variant=True)
    tables = VARIANTS.setdefault(resource.name, [])
    if table_name not in tables:
        tables.append(table_name)
    return resource


def apply_file_format(source: Any, file_format: Optional[str]) -> Any:
    """`source` with every table its resources fill written as `file_format` (None: dlt's choice),
    the tables they fill from inside too (`pipeline.run(loader_file_format=...)` reaches only
    a resource's own table: on DuckDB the others fell back to SQL insert files, which took the
    load step of a 50,000-task org from 460 MB to 1.6 GB)."""
    if file_format:
        for resource in source.resources.values():
            resource.apply_hints(file_format=file_format)
            for table in VARIANTS.get(resource.name, ()):
                resource.apply_hints(table_name=table, file_format=file_format, create_table_variant=True)
    return source
