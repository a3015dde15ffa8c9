"""Every row of every data table of a DuckDB file or PostgreSQL database, comparable between loads.

dlt's bookkeeping ids differ from load to load, so they are left out; a child
row is identified by its parent's key and its list position instead.
"""

import contextlib
from typing import Any, Callable, Dict, Iterator, List

import duckdb

Snapshot = Dict[str, List[tuple]]


@contextlib.contextmanager
def _query(target: Any) -> Iterator[Callable[..., List[tuple]]]:
    """query(sql, *params) on a DuckDB file path, or on a `postgresql://` DSN; `?` marks params."""
    if str(target).startswith("postgresql://"):
        import psycopg2

        connection = psycopg2.connect(str(target))
        try:
            cursor = connection.cursor()

            def query(sql: str, *params: Any) -> List[tuple]:
                cursor.execute(sql.replace("?", "%s"), params)
                return cursor.fetchall()

            yield query
        finally:
            connection.close()
    else:
        with duckdb.connect(str(target), read_only=True) as con:
            yield lambda sql, *params: con.execute(sql, list(params)).fetchall()


#: columns that say when a load ran (two loads of the same data differ there, by design): the tag
#: counts' load time, and the validity history's bounds (each version's rows are still compared)
LOAD_TIMES = {("tag_statistics_history", "loaded_at")} | {
    (table, bound) for table in ("members_history", "processes_history", "process_tags_history")
    for bound in ("valid_from", "valid_to")}


def snapshot(target: Any, dataset: str = "tallyfy") -> Snapshot:
    """table -> sorted rows (without `_dlt_*` columns; child rows carry the parent key)."""
    out: Snapshot = {}
    with _query(target) as query:
        tables = [name for (name,) in query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE'"
            " AND substr(table_name, 1, 4) <> '_dlt' ORDER BY table_name", dataset)]
        for table in tables:
            columns = [name for (name,) in query(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ?"
                " AND table_name = ? ORDER BY ordinal_position", dataset, table)]
            data = [f'c."{c}"' for c in columns if not c.startswith("_dlt_") and (table, c) not in LOAD_TIMES]
            if "__" in table:
                parent = table.rsplit("__", 1)[0]
                sql = (f"SELECT {', '.join(data)}, p.org_id, p.id, c._dlt_list_idx"
                       f" FROM {dataset}.{table} c JOIN {dataset}.{parent} p ON c._dlt_parent_id = p._dlt_id")
            else:
                sql = f"SELECT {', '.join(data)} FROM {dataset}.{table} c"
            out[table] = sorted((tuple(r) for r in query(sql)), key=repr)
    return out


def assert_same_tables(got: Snapshot, want: Snapshot) -> None:
    assert sorted(got) == sorted(want), "different tables"
    for table in want:
        assert len(got[table]) == len(want[table]), f"{table}: {len(got[table])} rows, want {len(want[table])}"
        assert got[table] == want[table], f"{table}: rows differ"
