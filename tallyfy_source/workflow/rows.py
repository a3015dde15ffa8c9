"""Workflow rows: a template, process, task, comment as its table holds it (pure functions, no
I/O). The full read and the feed-driven refresh shape with the same functions, so the tables are
the same either way."""

import json
from typing import Any, Callable, Dict, List, Optional, Tuple

from tallyfy_source.api.endpoints import COMMENTS_TABLE, TASKS, TEMPLATES
from tallyfy_source.shape.columns import COLUMNS, PARENT_KEYS, WORKFLOW_CHILD_COLUMNS
from tallyfy_source.shape.rows import as_list, parse_times, unify_update_time, unwrap

Row = Dict[str, Any]
SCALARS = (str, int, float, bool)


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def value_columns(value: Any) -> Row:
    """An answer as `value_text` (scalars; the `text` of a choice; choices' texts joined) and
    `value_json` (the raw value, for non-scalars)."""
    if value is None:
        return {"value_text": None, "value_json": None}
    if isinstance(value, bool):
        return {"value_text": "true" if value else "false", "value_json": None}
    if isinstance(value, SCALARS):
        return {"value_text": str(value), "value_json": None}
    text: Optional[str] = None
    if isinstance(value, dict) and isinstance(value.get("text"), SCALARS):
        text = str(value["text"])
    elif isinstance(value, list):
        parts = [str(v.get("text") if v.get("text") is not None else v.get("name")) if isinstance(v, dict) else str(v)
                 for v in value if not isinstance(v, dict) or v.get("text") is not None or v.get("name") is not None]
        text = ", ".join(parts) or None
    return {"value_text": text, "value_json": to_json(value)}


def tag_links(value: Any) -> List[Row]:
    """`tag_id` of each tag item: association rows carry `tag_id`, plain tags only `id`."""
    out = []
    for item in as_list(value):
        if isinstance(item, dict):
            tag = item.get("tag_id") if item.get("tag_id") is not None else item.get("id")
        else:
            tag = item
        if tag is not None:
            out.append({"tag_id": str(tag)})
    return out


def step_row(step: Row) -> Row:
    """A template step: scalars as they are, a dict of scalars flattened (`deadline__value`),
    anything deeper (owners, captures) as JSON text in `<field>_json`."""
    out: Row = {}
    for key, value in unify_update_time(dict(step)).items():
        value = unwrap(value)
        if isinstance(value, dict) and all(v is None or isinstance(v, SCALARS) for v in value.values()):
            for sub, inner in value.items():
                out[f"{key}__{sub}"] = inner
        elif isinstance(value, (dict, list)):
            out[f"{key}_json"] = to_json(value)
        else:
            out[key] = value
    return parse_times(out, WORKFLOW_CHILD_COLUMNS["templates"]["steps"])


def with_parent(row: Row, table: str) -> Row:
    """Every child row of `row` carries `org_id` and its parent's id (`columns.PARENT_KEYS`)."""
    key = PARENT_KEYS[table]
    for child in WORKFLOW_CHILD_COLUMNS[table]:
        for item in row.get(child) or ():
            item["org_id"], item[key] = row.get("org_id"), None if row.get("id") is None else str(row["id"])
    return row


def archived_flag(row: Row, archived: Optional[bool] = None) -> Row:
    """`is_archived`: known from the walk that found the record (`archived=only`: True; the walk
    without `archived`: False), else (a single read) from `archived_at`, which list answers may
    leave out (the templates list does)."""
    row["is_archived"] = bool(row.get("archived_at")) if archived is None else (archived or bool(row.get("archived_at")))
    return row


def template_row(row: Row, archived: Optional[bool] = None) -> Row:
    unify_update_time(row)
    archived_flag(row, archived)
    for item_only in TEMPLATES.item_only:
        row.pop(item_only, None)
    row["steps"] = [step_row(s) for s in as_list(row.pop("steps", None)) if isinstance(s, dict)]
    row["tags"] = tag_links(row.pop("tags", None))
    return parse_times(with_parent(row, "templates"), COLUMNS["templates"])


def kickoff_answers(prerun: Any, labels: Optional[Callable[[], Dict[str, str]]] = None) -> List[Row]:
    """Kick-off answers keyed by field (timeline) id, as rows; the labels are the template's
    (`kickoff.KickoffLabels`), asked for only when there is an answer."""
    if isinstance(prerun, dict):
        pairs = list(prerun.items())
    else:
        pairs = [(p.get("field_id", p.get("id")), p.get("value")) for p in as_list(prerun) if isinstance(p, dict)]
    names = labels() if labels is not None and pairs else {}
    return [{"field_id": None if k is None else str(k), "label": None if k is None else names.get(str(k)),
             **value_columns(v)} for k, v in pairs]


def process_row(row: Row, labels: Optional[Callable[[Any], Dict[str, str]]] = None,
                archived: Optional[bool] = None) -> Row:
    """A process's row; `labels(template_id)` gives its template's kick-off field labels."""
    unify_update_time(row)
    archived_flag(row, archived)
    row["template_id"] = row.get("checklist_id")  # checklist_id is kept too
    template = row["template_id"]
    row["kickoff_answers"] = kickoff_answers(unwrap(row.pop("prerun", None)),
                                             None if labels is None else lambda: labels(template))
    row["tags"] = tag_links(row.pop("tags", None))
    return parse_times(with_parent(row, "processes"), COLUMNS["processes"])


def _owner(who: Any, key: str) -> Any:
    """One owner as its id: the org-wide task list serves members as objects `{id, full_name}`,
    get-task and the SDK as bare ids; guests may come as `{email, ...}`, groups as `{id, ...}`."""
    if isinstance(who, dict):
        who = who.get(key) if who.get(key) is not None else who.get("id")
    return who


def _member_id(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def assignees(owners: Any) -> List[Row]:
    owners = unwrap(owners)
    owners = owners if isinstance(owners, dict) else {}
    out: List[Row] = []
    for kind, field, source, key in (("member", "member_id", "users", "id"), ("guest", "guest_email", "guests", "email"),
                                     ("group", "group_id", "groups", "id")):
        for who in as_list(owners.get(source)):
            value = _owner(who, key)
            if value is None:
                continue
            value = _member_id(value) if kind == "member" else str(value)
            out.append({"kind": kind, "member_id": None, "guest_email": None, "group_id": None, field: value})
    return out


def form_field_rows(value: Any) -> List[Row]:
    return [{"field_id": None if f.get("id") is None else str(f.get("id")), "label": f.get("label"),
             "field_type": f.get("field_type"), **value_columns(f.get("value"))}
            for f in as_list(value) if isinstance(f, dict)]


def comment_row(comment: Row, task: Row, org_id: str) -> Row:
    row = unify_update_time(dict(comment))
    row["task_id"] = row.get("task_id") or task.get("id")
    row["process_id"] = task.get("run_id")
    row["org_id"] = org_id
    return parse_times(row, COLUMNS[COMMENTS_TABLE])


def task_row(row: Row, archived: Optional[bool] = None) -> Tuple[Row, List[Row]]:
    """A task's row (with its child lists) and its comments' rows."""
    unify_update_time(row)
    archived_flag(row, archived)
    for item_only in TASKS.item_only:
        row.pop(item_only, None)
    row["assignees"] = assignees(row.pop("owners", None))
    row["tags"] = tag_links(row.pop("tags", None))
    row["form_fields"] = form_field_rows(row.pop("form_fields", None))
    with_parent(row, "tasks")
    threads = [c for c in as_list(row.pop("threads", None)) if isinstance(c, dict)]
    parse_times(row, COLUMNS["tasks"])
    return row, [comment_row(c, row, row["org_id"]) for c in threads]

