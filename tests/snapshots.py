"""Every row of every data table of a DuckDB file, comparable between two loads.

dlt's bookkeeping ids differ from load to load, so they are left out; a child
row is identified by its parent's key and its list position instead.
"""

from typing import Dict, List

import duckdb

Snapshot = Dict[str, List[tuple]]


def snapshot(db_path: str, dataset: str = "tallyfy") -> Snapshot:
    """table -> sorted rows (without `_dlt_*` columns; child rows carry the parent key)."""
    out: Snapshot = {}
    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = [name for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE'"
            " AND NOT starts_with(table_name, '_dlt') ORDER BY table_name", [dataset]).fetchall()]
        for table in tables:
            columns = [name for (name,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ?"
                " AND table_name = ? ORDER BY ordinal_position", [dataset, table]).fetchall()]
            data = [f'c."{c}"' for c in columns if not c.startswith("_dlt_")]
            if "__" in table:
                parent = table.rsplit("__", 1)[0]
                query = (f"SELECT {', '.join(data)}, p.org_id, p.id, c._dlt_list_idx"
                         f" FROM {dataset}.{table} c JOIN {dataset}.{parent} p ON c._dlt_parent_id = p._dlt_id")
            else:
                query = f"SELECT {', '.join(data)} FROM {dataset}.{table} c"
            out[table] = sorted((tuple(r) for r in con.execute(query).fetchall()), key=repr)
    return out


def assert_same_tables(got: Snapshot, want: Snapshot) -> None:
    assert sorted(got) == sorted(want), "different tables"
    for table in want:
        assert len(got[table]) == len(want[table]), f"{table}: {len(got[table])} rows, want {len(want[table])}"
        assert got[table] == want[table], f"{table}: rows differ"
