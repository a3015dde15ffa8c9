"""History that accumulates from the loads themselves, at no extra request (issue 19).

`members_history`: a version per change of a member's role or status (`read/validity.py`).

`tag_statistics_history`: every run reads every tag with its usage counts (`with=statistics`),
so each run also records those four counts per tag for the UTC day it read them, merged on
(org_id, tag_id, snapshot_date): the last load of a day wins, a rerun (or a rerun after a
killed run, which committed nothing) adds no duplicate, and days accumulate. Tags deleted
upstream simply stop getting rows; their history stays.
"""

from datetime import datetime
from typing import Any, Dict, List, Optional

import dlt

from tallyfy_source.api.endpoints import MEMBERS, Endpoint
from tallyfy_source.read.merge import variant_hints
from tallyfy_source.read.validity import ValidityHistory
from tallyfy_source.shape.columns import _cols
from tallyfy_source.shape.rows import unwrap

Row = Dict[str, Any]
TAG_STATISTICS_HISTORY = "tag_statistics_history"
STAT_KEYS = ("active_template", "archived_template", "active_process", "archived_process")

HISTORY_COLUMNS = _cols(
    org_id="text", tag_id="text", snapshot_date="date", loaded_at="timestamp", title="text",
    **{key: "bigint" for key in STAT_KEYS},
)


def _count(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def tag_statistics_rows(tags: List[Row], now: datetime) -> List[Row]:
    """One history row per tag of a page, its counts as the API served them (wrapped or bare
    `statistics`, or already flattened as `statistics__*`)."""
    out = []
    for tag in tags:
        stats = tag.get("statistics")
        stats = unwrap(stats)
        stats = stats if isinstance(stats, dict) else {}
        out.append({"org_id": tag.get("org_id"), "tag_id": str(tag.get("id")), "snapshot_date": now.date(),
                    "loaded_at": now, "title": tag.get("title"),
                    **{key: _count(stats.get(key, tag.get(f"statistics__{key}"))) for key in STAT_KEYS}})
    return out


def history_hints(rows: List[Row]) -> Any:
    """History rows go to their own merged table from inside the tags resource."""
    return dlt.mark.with_hints(rows, variant_hints(TAG_STATISTICS_HISTORY, HISTORY_COLUMNS,
                                                   ["org_id", "tag_id", "snapshot_date"]), create_table_variant=True)


MEMBER_HISTORY = ValidityHistory(
    table="members_history", key="member_id", key_type="bigint",
    fields=lambda row: [{"role": row.get("role"), "status": row.get("status")}],
    columns={"role": "text", "status": "text"},
)


def validity_history(endpoint: Endpoint) -> Optional[ValidityHistory]:
    """The validity history a directory endpoint's rows keep (members only)."""
    return MEMBER_HISTORY if endpoint is MEMBERS else None
