"""The workflow's validity history (`read/validity.py`), kept by the processes resource:
- `processes_history`: a version per change of a process's status, archival or progress;
- `process_tags_history`: the tags a process carried and when, one row per tag and version (a
  row with `tag_id` NULL: a period in which it carried none, or was deleted).
"Which tags were on which processes at time T" is
`WHERE tag_id IS NOT NULL AND valid_from <= T AND (valid_to IS NULL OR valid_to > T)`."""

from typing import Any, Dict, List

from tallyfy_source.read.validity import ValidityHistory, nested_value, sorted_values

Row = Dict[str, Any]
PROGRESS = ("complete", "total", "percent")


def process_fields(row: Row) -> List[Row]:
    return [{"status": row.get("status"), "is_archived": row.get("is_archived"),
             **{f"progress__{part}": nested_value(row, "progress", part) for part in PROGRESS}}]


def process_tags(row: Row) -> List[Row]:
    return [{"tag_id": tag} for tag in sorted_values(row.get("tags"), "tag_id")] or [{"tag_id": None}]


PROCESS_HISTORY = ValidityHistory(
    table="processes_history", key="process_id", key_type="text", fields=process_fields,
    columns={"status": "text", "is_archived": "bool", **{f"progress__{part}": "bigint" for part in PROGRESS}},
)
PROCESS_TAGS_HISTORY = ValidityHistory(
    table="process_tags_history", key="process_id", key_type="text", fields=process_tags,
    columns={"tag_id": "text"}, removed=False,
)
PROCESS_HISTORIES = (PROCESS_HISTORY, PROCESS_TAGS_HISTORY)
