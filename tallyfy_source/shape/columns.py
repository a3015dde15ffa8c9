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
GROUP_MEMBER_COLUMNS = _cols(value="bigint", org_id="text", group_id="text")
GROUP_GUEST_COLUMNS = _cols(value="text", org_id="text", group_id="text")

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
    details__disabled_at=TS, details__last_accessed_at=TS, details__reactivated_at=TS,
)

COLUMNS: Dict[str, TTableSchemaColumns] = {
    "members": MEMBER_COLUMNS,
    "groups": GROUP_COLUMNS,
    "tags": TAG_COLUMNS,
    "guests": GUEST_COLUMNS,
}

# ------------------------------------------------------------------ workflow (issue 12)
# Ids are 32-char hex text; member ids (owners, authors, completers) are integers like
# `members.id`; values of JSON kind are stored as JSON text (`*_json`).
TEMPLATE_COLUMNS = _cols(
    org_id="text", id="text", title="text", summary="text", starred="bool", type="text",
    status="text", owner_id="bigint", created_by="bigint", steps_count="bigint",
    is_pinned="bool", created_at=TS, updated_at=TS, archived_at=TS, is_archived="bool",
)
TEMPLATE_STEP_COLUMNS = _cols(
    id="text", checklist_id="text", alias="text", title="text", summary="text", position="bigint",
    step_type="text", deadline__value="bigint", deadline__unit="text", owners_json="text",
    captures_json="text", created_at=TS, updated_at=TS,
)
TAG_LINK_COLUMNS = _cols(tag_id="text")

PROCESS_COLUMNS = _cols(
    org_id="text", id="text", increment_id="bigint", template_id="text", checklist_id="text",
    checklist_title="text", name="text", status="text", type="text",
    progress__complete="bigint", progress__total="bigint", progress__percent="bigint",
    started_by="bigint", owner_id="bigint", prerun_status="text", prerun_completed_at=TS,
    created_at=TS, started_at=TS, updated_at=TS, archived_at=TS, completed_at=TS, due_date=TS,
    due_date_passed="bool", late_tasks="bigint", has_open_issue="bool", parent_id="text",
    max_task_deadline=TS, is_archived="bool",
)
KICKOFF_ANSWER_COLUMNS = _cols(field_id="text", label="text", value_text="text", value_json="text")

TASK_COLUMNS = _cols(
    org_id="text", id="text", increment_id="bigint", title="text", run_id="text", checklist_id="text",
    step_id="text", alias="text", status="text", status_label="text", task_type="text",
    position="bigint", is_oneoff_task="bool", deadline=TS, started_at=TS, created_at=TS,
    updated_at=TS, completed_at=TS, completer_id="bigint", starter_id="bigint", archived_at=TS,
    problem="bool", is_approved="bool", run_status="text", is_archived="bool",
)
TASK_ASSIGNEE_COLUMNS = _cols(kind="text", member_id="bigint", guest_email="text", group_id="text")
TASK_FORM_FIELD_COLUMNS = _cols(field_id="text", label="text", field_type="text", value_text="text",
                                value_json="text")

COMMENT_COLUMNS = _cols(
    org_id="text", id="text", task_id="text", process_id="text", author_id="bigint",
    author_type="text", label="text", state="text", content="text", resolve_id="text",
    created_at=TS, updated_at=TS, archived_at=TS,
)

# one plain column per field, whichever form the server serves (lists, class names): events.py
ACTIVITY_COLUMNS = _cols(
    org_id="text", id="bigint", verb="text", source="text", actor_id="bigint", actor_type="text",
    actor_email="text", actor_name="text",
    auditable_type="text", auditable_id="text", parentable_type="text", parentable_id="text",
    type="text", description="text", field="text", old_value="text", text="text", references_json="text",
    undoable="bool", created_at=TS,
)

#: the parent's id every child row carries beside `org_id`, so a join never needs dlt's
#: `_dlt_parent_id` -> `_dlt_id` (issue 19): `processes__tags.process_id = processes.id`
PARENT_KEYS = {"templates": "template_id", "processes": "process_id", "tasks": "task_id", "groups": "group_id"}


def _with_parent(table: str, columns: TTableSchemaColumns) -> TTableSchemaColumns:
    return {**columns, **_cols(org_id="text", **{PARENT_KEYS[table]: "text"})}


#: child tables of the workflow roots: table -> declared columns
WORKFLOW_CHILD_COLUMNS: Dict[str, Dict[str, TTableSchemaColumns]] = {
    table: {child: _with_parent(table, columns) for child, columns in children.items()}
    for table, children in {
        "templates": {"steps": TEMPLATE_STEP_COLUMNS, "tags": TAG_LINK_COLUMNS},
        "processes": {"kickoff_answers": KICKOFF_ANSWER_COLUMNS, "tags": TAG_LINK_COLUMNS},
        "tasks": {"assignees": TASK_ASSIGNEE_COLUMNS, "tags": TAG_LINK_COLUMNS,
                  "form_fields": TASK_FORM_FIELD_COLUMNS},
    }.items()
}

COLUMNS.update({
    "templates": TEMPLATE_COLUMNS,
    "processes": PROCESS_COLUMNS,
    "tasks": TASK_COLUMNS,
    "comments": COMMENT_COLUMNS,
    "activity": ACTIVITY_COLUMNS,
})
