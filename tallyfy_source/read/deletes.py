"""Finding records deleted upstream: a full key sweep compared with what the tables hold.

Tallyfy hard-deletes groups and tags and removes members without a trace a
cursor could see, so the only way to find them is to read every key (a sweep)
and compare with the keys already loaded. A key missing from a sweep is only a
suspicion (the org changes while it is read); `reading.EndpointRead.check_missing`
confirms each one with a single-record request first. What to do with a
confirmed deletion:
- "delete" (default): emit a tombstone; dlt's `hard_delete` merge removes the
  root row and its child rows;
- "flag": re-emit the last loaded row (with its child lists) with
  `missing_since` set to when it was first found missing.
"""

import json
import logging
import threading
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence

import dlt
from dlt.destinations.exceptions import DestinationUndefinedEntity

from tallyfy_source.api.endpoints import Endpoint

logger = logging.getLogger("tallyfy_source")

DELETED_COLUMN = "_tallyfy_deleted"  # hard_delete hint: True rows are removed by the merge
MISSING_SINCE_COLUMN = "missing_since"
DELETE_MODES = ("delete", "flag")


BATCH = 5_000  # loaded rows fetched at a time while scanning an org's table

#: every read of the destination holds this: the resources run in parallel threads, and dlt's
#: `pipeline.sql_client()` swaps a config context in a container the threads share; two at once
#: fail the load with `ContainerInjectableContextMangled` (seen when the processes and tasks
#: resources both read loaded rows between sweeps)
DESTINATION_READS = threading.RLock()


def _own_dataset(pipeline: Any) -> Any:
    """The pipeline's dataset on a schema object of our own. Never the pipeline's live schema
    (`pipeline.sql_client()` builds on it): dlt resets that one in place while a load extracts
    (`Schema.replace_schema_content`), and a resource thread reading it at that moment failed
    the load with "'NoneType' object has no attribute 'max_length'" (seen once in CI, in a run
    between sweeps), or would see its tables missing."""
    return pipeline.dataset(schema=dlt.Schema(pipeline.default_schema_name))


@contextmanager
def destination_client(pipeline: Any) -> Iterator[Any]:
    """The pipeline's SQL client, one thread at a time (`DESTINATION_READS`)."""
    with DESTINATION_READS, _own_dataset(pipeline).sql_client as client:
        yield client


def stored_child_tables(job_client: Any, schema_name: str, table: str) -> List[str]:
    """The child tables of `table` (one level down) in the schema the destination last stored:
    the tables that can hold rows. Empty when nothing was stored yet."""
    try:
        stored = job_client.get_stored_schema(schema_name)
    except DestinationUndefinedEntity:
        return []
    if stored is None:
        return []
    prefix = f"{table}__"
    return [t for t in json.loads(stored.schema)["tables"] if t.startswith(prefix) and "__" not in t[len(prefix):]]


def stored_columns(client: Any, table: str) -> Optional[List[str]]:
    """The table's columns as the destination holds them; None when it holds no such table.

    Asked of the destination, not of the pipeline's schema in memory: while a load extracts,
    dlt updates that schema in place, and a resource thread reading it can find a loaded table
    missing for a moment (seen: `processes` absent between sweeps, so nothing was deleted and
    no unserved field kept)."""
    try:
        with client.execute_query(f"SELECT * FROM {client.make_qualified_table_name(table)} WHERE 1 = 0") as cursor:
            return [c[0] for c in cursor.description]
    except DestinationUndefinedEntity:
        return None


def _loaded_rows(table: str, org_id: str, where_missing_since_null: bool, columns: Optional[Sequence[str]] = None,
                 keep: Optional[Callable[[Dict[str, Any]], bool]] = None) -> List[Dict[str, Any]]:
    """Rows of one org currently in the destination (empty when the table is not there yet):
    only `columns` (default all), and only those `keep` accepts, fetched BATCH at a time so
    that memory holds what is kept, not the org's whole table."""
    try:
        pipeline = dlt.current.pipeline()
        if not pipeline.default_schema_name:  # nothing was ever loaded by this pipeline
            return []
        with destination_client(pipeline) as client:
            declared = stored_columns(client, table)
            if not declared:
                return []
            qualified = client.make_qualified_table_name(table)
            condition = f" AND {client.escape_column_name(MISSING_SINCE_COLUMN)} IS NULL" if (
                where_missing_since_null and MISSING_SINCE_COLUMN in declared) else ""
            selected = ", ".join(client.escape_column_name(c) for c in columns) if columns else "*"
            query = f"SELECT {selected} FROM {qualified} WHERE org_id = %s{condition}"
            out: List[Dict[str, Any]] = []
            with client.execute_query(query, org_id) as cursor:
                names = [c[0] for c in cursor.description]
                while True:
                    batch = cursor.fetchmany(BATCH)
                    if not batch:
                        break
                    rows = (dict(zip(names, values)) for values in batch)
                    out.extend(rows if keep is None else (row for row in rows if keep(row)))
            return out
    except DestinationUndefinedEntity:  # dlt's typed "no such table/dataset": nothing loaded yet
        return []
    except Exception as error:  # nothing to compare with means nothing deleted: safe, but say so
        logger.warning("could not read loaded keys of %s for org %s: %s", table, org_id, error)
        return []


def loaded_where(table: str, org_id: str, column: str, values: Sequence[Any], mode: str) -> List[Dict[str, Any]]:
    """The org's loaded rows of `table` whose `column` is one of `values` (flag mode: not
    flagged yet), asked 500 values at a time; empty when the table or column is not there yet."""
    values = list(values)
    if not values:
        return []
    try:
        pipeline = dlt.current.pipeline()
        if not pipeline.default_schema_name:  # nothing was ever loaded by this pipeline
            return []
        out: List[Dict[str, Any]] = []
        with destination_client(pipeline) as client:
            columns = stored_columns(client, table)
            if not columns or column not in columns:
                return []
            qualified = client.make_qualified_table_name(table)
            flagged = f" AND {client.escape_column_name(MISSING_SINCE_COLUMN)} IS NULL" if (
                mode == "flag" and MISSING_SINCE_COLUMN in columns) else ""
            for start in range(0, len(values), 500):
                chunk = values[start:start + 500]
                marks = ", ".join(["%s"] * len(chunk))
                query = (f"SELECT * FROM {qualified} WHERE org_id = %s"
                         f" AND {client.escape_column_name(column)} IN ({marks}){flagged}")
                with client.execute_query(query, org_id, *chunk) as cursor:
                    names = [c[0] for c in cursor.description]
                    out.extend(dict(zip(names, row)) for row in cursor.fetchall())
        return out
    except DestinationUndefinedEntity:
        return []


def child_lists(table: str, parent_ids: List[str], fields: Iterable[str] = ()) -> Dict[str, Dict[str, List[Any]]]:
    """{child field: {parent _dlt_id: [items in list order]}}: a scalar list's values (a child
    table whose one column is `value`), or an object list's rows without dlt's columns. The
    child tables asked are `fields` (the endpoint's declared lists, always) and those the
    destination's stored schema shows (lists the API serves beyond the documented ones)."""
    out: Dict[str, Dict[str, List[Any]]] = {}
    if not parent_ids:
        return out
    pipeline = dlt.current.pipeline()
    prefix = f"{table}__"
    # one connection: the stored schema names the child tables, its SQL client reads them
    with DESTINATION_READS, _own_dataset(pipeline).destination_client as job_client:
        client = job_client.sql_client
        stored = stored_child_tables(job_client, pipeline.default_schema_name, table)
        for child in sorted(set(stored) | {prefix + f for f in fields}):
            placeholders = ", ".join(["%s"] * len(parent_ids))
            query = (
                f"SELECT * FROM {client.make_qualified_table_name(child)}"
                f" WHERE _dlt_parent_id IN ({placeholders}) ORDER BY _dlt_parent_id, _dlt_list_idx"
            )
            lists: Dict[str, List[Any]] = {pid: [] for pid in parent_ids}
            try:
                with client.execute_query(query, *parent_ids) as cursor:
                    names = [c[0] for c in cursor.description]
                    for values in cursor.fetchall():
                        record = dict(zip(names, values))
                        item = {k: v for k, v in record.items() if not k.startswith("_dlt_")}
                        lists[record["_dlt_parent_id"]].append(item["value"] if set(item) == {"value"} else item)
            except DestinationUndefinedEntity:  # declared in the schema, never created: no rows yet
                pass
            out[child[len(prefix):]] = lists
    return out


def unseen(seen_keys: Iterable[Any], key: str) -> Callable[[Dict[str, Any]], bool]:
    """Is a loaded row's key missing from `seen_keys`? Compared as text: the table holds typed
    ids, and an API that sends "123" for 123 must not make every record look deleted."""
    seen = {str(k) for k in seen_keys}
    return lambda row: str(row.get(key)) not in seen


def absent(loaded: Iterable[Dict[str, Any]], seen_keys: Iterable[Any], key: str) -> List[Dict[str, Any]]:
    """Loaded rows whose key the sweep did not see (see `unseen`)."""
    keep = unseen(seen_keys, key)
    return [row for row in loaded if keep(row)]


def loaded_rows(endpoint: Endpoint, org_id: str, mode: str, columns: Optional[Sequence[str]] = None,
                keep: Optional[Callable[[Dict[str, Any]], bool]] = None) -> List[Dict[str, Any]]:
    """The org's rows a sweep compares with (in "flag" mode, those not flagged yet): `columns`
    only, those `keep` accepts (see `_loaded_rows`)."""
    return _loaded_rows(endpoint.resource, org_id, mode == "flag", columns, keep)


def absent_keys(endpoint: Endpoint, org_id: str, mode: str, seen_keys: Iterable[Any]) -> List[Any]:
    """The loaded keys (as typed in the table) a sweep did not see: only the key column is
    read, and only the absent keys are kept."""
    key = endpoint.key
    return [row[key] for row in loaded_rows(endpoint, org_id, mode, [key], unseen(seen_keys, key))]


def last_loaded(endpoint: Endpoint, org_id: str, rows: List[Dict[str, Any]], mode: str) -> List[Dict[str, Any]]:
    """What `removal_rows` needs of rows read with their key only: the key is enough for a
    tombstone; "flag" re-emits the last loaded row, read again (whole) for those keys alone."""
    if mode != "flag" or not rows:
        return rows
    return loaded_where(endpoint.resource, org_id, endpoint.key, [row[endpoint.key] for row in rows], mode)


def removal_rows(endpoint: Endpoint, org_id: str, gone: List[Dict[str, Any]], mode: str, now: datetime) -> List[Dict[str, Any]]:
    """Rows that make the tables forget (or flag) records confirmed deleted upstream."""
    if not gone:
        return []
    key = endpoint.key
    logger.info("%s of org %s: %d records deleted upstream (%s)", endpoint.resource, org_id, len(gone), mode)
    if mode == "delete":
        return [{"org_id": org_id, key: row[key], DELETED_COLUMN: True} for row in gone]
    lists = child_lists(endpoint.resource, [row["_dlt_id"] for row in gone], endpoint.child_lists) if (
        endpoint.child_lists) else {}
    flagged = []
    for row in gone:
        restored = {k: v for k, v in row.items() if not k.startswith("_dlt_")}
        for field, by_parent in lists.items():
            restored[field] = by_parent.get(row["_dlt_id"], [])
        restored[MISSING_SINCE_COLUMN] = now
        flagged.append(restored)
    return flagged
