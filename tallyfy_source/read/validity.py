"""Validity history: which values a record had when, kept by the loads themselves (issue 19).

A history table holds one row per version of a few chosen fields of a record, with `valid_from`
and `valid_to` (NULL: the current version). dlt's `scd2` merge strategy writes it: a version whose
row hash is already the active one changes nothing, a new one retires the active version of the
same record and starts its own. `merge_key` = (org_id, record key) limits retiring to the records
the load carries, so a load that reads only changed records (between sweeps) leaves every other
record's active version alone. A record deleted upstream gets a last version with `removed` true
and its fields NULL (both deletion modes). Lists (a process's tags) go to a link table of their
own (one row per link and version), which joins on (org_id, key) like any other table.

The times are those of the load (dlt's load package time), not of the change: a version starts
when a load first saw it. A record changed twice between two loads keeps only the second.
Each record gets at most one version per load (the last row read of it), emitted when its org's
read ends: two versions of one key in one load would both stay active.
"""

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import dlt

from tallyfy_source.read.deletes import DELETED_COLUMN, MISSING_SINCE_COLUMN
from tallyfy_source.shape.columns import _cols

Row = Dict[str, Any]
VALIDITY_COLUMNS = ["valid_from", "valid_to"]
REMOVED_COLUMN = "removed"


@dataclass(frozen=True)
class ValidityHistory:
    """What one history table keeps of a root table's rows: `table`; `key`, its column for the
    record's key (`member_id`), read from the row's `source_key`; `fields(row)`, the tracked
    values of a live row as one or more rows (a link table gives one per link, and one of NULLs
    when the record has none: a version with no link must still retire the links before it);
    `columns`, their declared types; `removed`: the table has a `removed` column."""

    table: str
    key: str
    key_type: str
    fields: Callable[[Row], List[Row]]
    columns: Dict[str, str]
    source_key: str = "id"
    removed: bool = True

    def hints(self) -> Any:
        flag = {REMOVED_COLUMN: "bool"} if self.removed else {}
        columns = _cols(org_id="text", **{self.key: self.key_type}, **self.columns, **flag,
                        valid_from="timestamp", valid_to="timestamp")
        return dlt.mark.make_hints(
            table_name=self.table, primary_key=[], merge_key=["org_id", self.key],
            write_disposition={"disposition": "merge", "strategy": "scd2", "validity_column_names": VALIDITY_COLUMNS},
            columns=columns, nested_hints={},
        )

    def version(self, row: Row) -> Optional[List[Row]]:
        """The rows of the version a loaded row (a record read, a tombstone, a flagged row)
        stands for; None for a row without a key."""
        key = row.get(self.source_key)
        if key is None:
            return None
        removed = bool(row.get(DELETED_COLUMN)) or row.get(MISSING_SINCE_COLUMN) is not None
        tracked = [{name: None for name in self.columns}] if removed else self.fields(row)
        flag = {REMOVED_COLUMN: removed} if self.removed else {}
        return [{"org_id": row.get("org_id"), self.key: key, **values, **flag} for values in tracked]


class OrgVersions:
    """One org's versions during its read: `see` each item the read yields (a list of row dicts;
    anything else, such as another table's hinted rows or an Arrow table, is not this table's),
    `rows()` once the read is over."""

    def __init__(self, history: ValidityHistory):
        self.history = history
        self.latest: Dict[Any, Row] = {}

    def see(self, item: Any) -> Any:
        if isinstance(item, list):
            for row in item:
                if isinstance(row, dict):
                    version = self.history.version(row)
                    if version is not None:
                        self.latest[str(row.get(self.history.source_key))] = version
        return item

    def rows(self) -> Iterator[Any]:
        if self.latest:
            rows = [r for version in self.latest.values() for r in version]
            yield dlt.mark.with_hints(rows, self.history.hints(), create_table_variant=True)



def tracked(histories: Sequence[ValidityHistory], items: Iterator[Any]) -> Iterator[Any]:
    """`items` as they come, then the versions they carried for each history (one org's read)."""
    orgs = [OrgVersions(history) for history in histories]
    for item in items:
        for versions in orgs:
            versions.see(item)
        yield item
    for versions in orgs:
        yield from versions.rows()


def nested_value(row: Row, field_name: str, part: str) -> Any:
    """A nested field's part whether the row holds it as a dict (`progress`: {"percent": 40})
    or already flattened (`progress__percent`, as a row read back from the table is)."""
    value = row.get(field_name)
    if isinstance(value, dict):
        return value.get(part)
    return row.get(f"{field_name}__{part}")


def sorted_values(items: Any, name: str) -> List[Any]:
    """The `name` of each item of a list of dicts, sorted (order is not a change), no NULLs."""
    values = {str(item.get(name)) for item in (items or ()) if isinstance(item, dict) and item.get(name) is not None}
    return sorted(values)
