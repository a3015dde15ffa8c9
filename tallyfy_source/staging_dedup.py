"""DuckDB merges that drop duplicate staged rows by key first, instead of dlt's window.

Why this exists: dlt's delete-insert merge keeps one staged row per primary key with
`ROW_NUMBER() OVER (PARTITION BY key)` over every column of the table, and one per row key
in each nested table the same way. DuckDB's window operator holds those rows in memory: on
a 200,000-task org the publish needed more than 96 MB with it (it ran out at a 64 MB
`memory_limit` and had to be lifted): of a publish's memory, the part that grew fastest with
the org, and with the width of its rows. dlt has no option for a cheaper dedup, only the
`x-stage-data-deduplicated` hint that skips its own. So before dlt's merge SQL this job
deletes the extra staged copies itself: a GROUP BY on the key columns alone finds the keys
staged more than once, and only their rows are compared. Then the hint tells dlt's SQL that
staging holds one row per key. The same 200,000-task publish now runs under 56 MB, and a
merge's memory no longer grows with the width of its rows: 300,000 rows of 400 characters
merged under 24 MB this way, where dlt's window needed more than 32 MB.

Which copy stays: the one staged last (DuckDB's `rowid`); within one load file that is the
one read last. dlt kept an arbitrary one. PostgreSQL keeps dlt's own dedup (its window
spills to disk under `work_mem`).
"""

from typing import Any, List, Sequence

try:  # dlt internals, pinned like those in destinations.py
    from dlt.common.schema.utils import get_columns_names_with_prop
    from dlt.destinations.sql_jobs import SqlMergeFollowupJob
except ImportError:  # pragma: no cover - only on a dlt that moved them: dlt's own merge then
    SqlMergeFollowupJob = None  # type: ignore[assignment,misc]

#: whether this dlt has what `KeyDedupMergeJob` builds on (else DuckDB keeps dlt's merge)
AVAILABLE = SqlMergeFollowupJob is not None

#: dlt's hint that staged rows are already one per key (read by its delete-insert SQL)
DEDUPLICATED_HINT = "x-stage-data-deduplicated"


def drop_extra_copies_sql(staging_table: str, key_columns: Sequence[str]) -> str:
    """DELETE every staged row of `staging_table` but the last one staged per key.

    `key_columns` are escaped identifiers. Only keys staged more than once reach the join,
    so a load without duplicates deletes nothing and joins nothing."""
    keys = ", ".join(key_columns)
    match = " AND ".join(f"s.{column} = d.{column}" for column in key_columns)
    return (
        f"DELETE FROM {staging_table} WHERE rowid IN ("
        f"SELECT s.rowid FROM {staging_table} AS s JOIN ("
        f"SELECT {keys}, max(rowid) AS _dlt_keep FROM {staging_table} GROUP BY {keys} HAVING count(*) > 1"
        f") AS d ON {match} WHERE s.rowid <> d._dlt_keep);"
    )


class KeyDedupMergeJob(SqlMergeFollowupJob or object):  # type: ignore[misc,valid-type]
    """dlt's delete-insert merge SQL, preceded by `drop_extra_copies_sql` for the root table
    (by primary key) and each nested table (by row key), with dlt's own dedup switched off."""

    @classmethod
    def gen_merge_sql(cls, table_chain: Sequence[Any], sql_client: Any) -> List[str]:
        root = table_chain[0]
        primary_key = get_columns_names_with_prop(root, "primary_key")
        if not primary_key or root.get(DEDUPLICATED_HINT):
            return super().gen_merge_sql(table_chain, sql_client)  # nothing of dlt's to replace
        escape = sql_client.escape_column_name
        dedup = [drop_extra_copies_sql(staging_name(root, sql_client), [escape(c) for c in primary_key])]
        for nested in table_chain[1:]:
            row_key = cls.get_row_key_col(table_chain, nested, sql_client.fully_qualified_dataset_name(),
                                          sql_client.fully_qualified_dataset_name(staging=True))
            dedup.append(drop_extra_copies_sql(staging_name(nested, sql_client), [escape(row_key)]))
        chain = [{**root, DEDUPLICATED_HINT: True}, *table_chain[1:]]
        return dedup + super().gen_merge_sql(chain, sql_client)


def staging_name(table: Any, sql_client: Any) -> str:
    """The qualified name of `table`'s copy in the staging dataset."""
    return sql_client.get_qualified_table_names(table["name"])[1]


class DedupsStagingByKey:
    """Job client mix-in: merges through `KeyDedupMergeJob` (DuckDB's rowid: DuckDB only)."""

    def _create_merge_followup_jobs(self, table_chain: Sequence[Any]) -> List[Any]:
        return [KeyDedupMergeJob.from_table_chain(table_chain, self.sql_client)]  # type: ignore[attr-defined]
