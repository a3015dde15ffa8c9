"""Fields a single-record read does not serve keep the values the list read loaded.

Tallyfy's list pages and single-record pages serve different field sets (docs, response
examples): list-processes shows `due_soon, collaborators, can_add_oot` that get-process does
not, list-templates `steps_count, is_pinned` that get-template does not, the org-wide task list
`status_label, started_at, ...` that a process's `tasks` include may leave out. A full read
(sweep) fills a table from the lists; between sweeps a changed record is read by itself. Its row
would turn those columns NULL, so a field the single answer does not carry at all (absent, not
null) keeps its loaded value, child lists included. A record first loaded from a single read
has them NULL until the next sweep reads it from its list (the README says so).
"""

from typing import Any, Dict, List

from dlt.common.normalizers.naming.snake_case import NamingConvention

from tallyfy_source.api.endpoints import Endpoint
from tallyfy_source.read.deletes import DELETED_COLUMN, MISSING_SINCE_COLUMN, child_lists, loaded_where

Row = Dict[str, Any]
_OURS = (DELETED_COLUMN, MISSING_SINCE_COLUMN)
_NAMING = NamingConvention()  # the source's naming (dlt's default, snake_case): served names -> columns


def _top_field(column: str) -> str:
    """The served field a loaded column came from (`progress__complete` -> `progress`)."""
    return column.split("__", 1)[0]


def keep_unserved_fields(endpoint: Endpoint, org_id: str, rows: List[Row], mode: str) -> List[Row]:
    """`rows` (shaped from single reads) with every loaded column whose field they do not carry
    set to its loaded value; one destination read per call."""
    if not rows:
        return rows
    table, key = endpoint.resource, endpoint.key
    loaded = {str(r[key]): r for r in loaded_where(table, org_id, key, [r[key] for r in rows], mode)}
    if not loaded:
        return rows
    normalize = _NAMING.normalize_identifier
    lists = child_lists(table, [r["_dlt_id"] for r in loaded.values()], endpoint.child_lists)
    for row in rows:
        old = loaded.get(str(row[key]))
        if old is None:
            continue
        served = {normalize(name) for name in row}
        for column, value in old.items():
            if column.startswith("_dlt_") or column in _OURS or "__v_" in column or _top_field(column) in served:
                continue
            row[column] = value
        for field, by_parent in lists.items():
            if field not in served:
                row[field] = by_parent.get(old["_dlt_id"], [])
    return rows
