"""Declared column types for every documented field.

Declaring them means a column that is null in today's data still exists with
the right type, ids keep one stable type, and no variant columns appear.
Names are as dlt normalizes them (`UTC_offset` -> `utc_offset`, included
objects flattened with `__`).
"""

from typing import Dict

from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns


def _cols(**types: str) -> TTableSchemaColumns:
    return {name: TColumnSchema(name=name, data_type=t, nullable=True) for name, t in types.items()}  # type: ignore[typeddict-item]


TS = "timestamp"

MEMBER_COLUMNS = _cols(
    org_id="text", id="bigint", email="text", username="text", first_name="text",
    last_name="text", full_name="text", profile_pic="text", job_title="text",
    job_description="text", team="text", timezone="text", utc_offset="text", locale="text",
    phone="text", role="text", status="text", type="text", date_format="text",
    last_known_ip="text", last_known_country="text", invited_by="bigint",
    active="bool", is_active="bool", is_suspended="bool",
    created_at=TS, updated_at=TS, last_login_at=TS, last_accessed_at=TS,
    activated_at=TS, approved_at=TS, disabled_at=TS,
    stats__steps_created="bigint", stats__tasks_completed="bigint",
    stats__processes_launched="bigint", stats__checklists_created="bigint",
    stats__last_step_created_at=TS,
)

GROUP_COLUMNS = _cols(
    org_id="text", id="text", name="text", description="text", logo="text",
    created_at=TS, updated_at=TS, deleted_at=TS,
)
GROUP_MEMBER_COLUMNS = _cols(value="bigint")
GROUP_GUEST_COLUMNS = _cols(value="text")

TAG_COLUMNS = _cols(
    org_id="text", id="text", title="text", color="text", auto_generated="bool",
    created_at=TS, deleted_at=TS,
    statistics__active_template="bigint", statistics__archived_template="bigint",
    statistics__active_process="bigint", statistics__archived_process="bigint",
)

GUEST_COLUMNS = _cols(
    org_id="text", id="bigint", email="text", first_name="text", last_name="text",
    link="text", created_at=TS, deleted_at=TS, last_accessed_at=TS,
    details__status="text", details__company_name="text", details__timezone="text",
    details__disabled_at=TS,
)

COLUMNS: Dict[str, TTableSchemaColumns] = {
    "members": MEMBER_COLUMNS,
    "groups": GROUP_COLUMNS,
    "tags": TAG_COLUMNS,
    "guests": GUEST_COLUMNS,
}
