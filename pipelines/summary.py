"""The per-table summary printed after a load: rows loaded this run, rows in the table."""

import sys
from typing import Dict, List, Optional

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from tallyfy_source.errors import shown_url


def rows_loaded_this_run(pipeline: dlt.Pipeline) -> Dict[str, int]:
    trace = pipeline.last_trace
    info = trace.last_normalize_info if trace else None
    return dict(info.row_counts) if info else {}


def rows_in_tables(pipeline: dlt.Pipeline, tables: List[str]) -> Dict[str, Optional[int]]:
    """Row counts read back from the destination (None where the table is not there)."""
    existing = [t for t in tables if t in pipeline.default_schema.tables]
    if not existing:
        return {}
    with pipeline.sql_client() as client:
        query = " UNION ALL ".join(
            f"SELECT '{t}', count(*) FROM {client.make_qualified_table_name(t)}" for t in existing
        )
        try:
            return {name: int(count) for name, count in client.execute_sql(query)}
        except DatabaseUndefinedRelation:
            pass  # a declared child table no row has made yet (dlt creates it with its first row)
        counts: Dict[str, Optional[int]] = {}
        for t in existing:
            try:
                counts[t] = int(client.execute_sql(f"SELECT count(*) FROM {client.make_qualified_table_name(t)}")[0][0])
            except DatabaseUndefinedRelation:
                counts[t] = None
        return counts


def data_tables(pipeline: dlt.Pipeline, resources: List[str]) -> List[str]:
    """The tables the selected resources fill (their own, the history and comments tables they
    fill from inside) and the child tables of those, in schema order."""
    schema = pipeline.default_schema
    tables = schema.tables
    names = []
    for table in schema.data_tables():
        name = table["name"]
        root = tables.get(name.split("__")[0], {})
        if root.get("name") in resources or root.get("resource") in resources:
            names.append(name)
    return names


def print_summary(pipeline: dlt.Pipeline, resources: List[str], out=None) -> None:
    out = out or sys.stdout
    tables = data_tables(pipeline, resources)
    loaded = rows_loaded_this_run(pipeline)
    in_table = rows_in_tables(pipeline, tables)
    width = max([len(t) for t in tables] + [5])
    print(f"{'table':<{width}}  {'loaded this run':>15}  {'rows in table':>13}", file=out)
    for table in tables:
        total = in_table.get(table)
        print(f"{table:<{width}}  {loaded.get(table, 0):>15}  {'-' if total is None else total:>13}", file=out)
    client_config = pipeline.destination_client().config
    bucket = getattr(client_config, "bucket_url", None)
    if bucket and "://" in str(bucket):
        bucket = shown_url(str(bucket))  # s3://key:secret@bucket must not be printed
    where = getattr(getattr(client_config, "credentials", None), "database", None) or bucket
    destination = pipeline.destination.destination_name
    print(f"destination: {destination}, dataset: {pipeline.dataset_name}" + (f", at {where}" if where else ""), file=out)
