"""The documented form of each served record: what a response example of Tallyfy's docs shows on
that route (docs repository `tallyfy/documentation`, folder
`src/content/docs/pro/integrations/open-api/code-samples/`), and the variants the switches
(`switches.py`) select. Each function reshapes a served copy in place, after the update-time
rename and the includes (`serving.serve_record`); stored records keep one internal form.
"""

from typing import Any, Dict, Optional

Record = Dict[str, Any]
Ctx = Dict[str, Any]


def rewrap(out: Record, key: str, documented_wrapped: bool, ctx: Ctx) -> None:
    """Serve the include `key` (stored wrapped as {"data": ...}) wrapped or bare per the switch."""
    if key not in out:
        return
    value = out[key]
    inner = value["data"] if isinstance(value, dict) and set(value) == {"data"} else value
    out[key] = {"data": inner} if ctx["_sw"].wrapped(documented_wrapped) else inner


# ------------------------------------------------------------------ directory
def member(org: Any, rec: Record, out: Record, ctx: Ctx) -> None:
    """members/list-members, get-member: `stats` and `groups` includes wrapped."""
    rewrap(out, "stats", True, ctx)
    rewrap(out, "groups", True, ctx)


def group(org: Any, rec: Record, out: Record, ctx: Ctx) -> None:
    """groups/list-groups: `members` integers; groups/get-group: strings."""
    sw = ctx["_sw"]
    if sw.as_str(bool(ctx["_single"]), sw.group_member_ids):
        out["members"] = [str(m) for m in out["members"]]
    rewrap(out, "users", True, ctx)
    rewrap(out, "assets", True, ctx)


def tag(org: Any, rec: Record, out: Record, ctx: Ctx) -> None:
    """tags/list-tags, get-tag: `statistics` wrapped."""
    rewrap(out, "statistics", True, ctx)


def guest_stats(stats: Record) -> Record:
    """guests/list-guests: the `stats` keys of the response example."""
    return {"assigned_tasks": stats.get("active_tasks", 0), "tasks_completed": stats.get("completed_tasks", 0),
            "last_task_completed_at": stats.get("last_task_completed_at"),
            "one_off_tasks_completed": 0, "last_one_off_task_completed_at": None}


def guest(org: Any, rec: Record, out: Record, ctx: Ctx) -> None:
    """guests/list-guests, get-guest: `stats` bare, with the documented keys."""
    if "stats" in out:
        value = out["stats"]
        out["stats"] = {"data": guest_stats(value.get("data", value))}
        rewrap(out, "stats", False, ctx)


# ------------------------------------------------------------------ templates
_TEMPLATE_ITEM = {"webhook": None, "guidance": None, "folder_id": None, "kickoff_title": None,
                  "kickoff_description": None, "is_public": False, "icon": None, "is_public_kickoff": False,
                  "default_process_name_format": None, "explanation_video": None}


def step(org: Any, rec: Record, out: Record, ctx: Ctx) -> None:
    """A step's `captures`: the bare list the SDK parses (wrapped only when the switch says so)."""
    if isinstance(out.get("captures"), dict):
        out["captures"] = out["captures"]["data"]
    if ctx["_sw"].include_wrapping == "wrapped":
        out["captures"] = {"data": out["captures"]}


def checklist(org: Any, rec: Record, out: Record, ctx: Ctx) -> None:
    """templates/list-templates: owner ids as strings, no `archived_at`, includes wrapped;
    templates/get-template: owner ids as integers, the single read's extra fields, `prerun` items
    with `checklist_id`, `steps`/`tags` bare, tags as plain tags."""
    sw, single = ctx["_sw"], bool(ctx["_single"])
    conv = str if sw.as_str(not single, sw.template_owner_ids) else int
    for f in ("owner_id", "created_by"):
        if out.get(f) is not None:
            out[f] = conv(out[f])
    if single:
        for k, v in _TEMPLATE_ITEM.items():
            out.setdefault(k, v)
        out.setdefault("alias", out["title"].lower().replace(" ", "-"))
        out["prerun"] = [dict(f, checklist_id=rec["id"]) for f in out.get("prerun") or ()]
    elif not sw.template_list_archived_at:
        out.pop("archived_at", None)
    if "steps" in out:
        steps = out["steps"]["data"]
        for s in steps:
            step(org, s, s, ctx)
        rewrap(out, "steps", not single, ctx)
    if "tags" in out:
        if sw.template_tags == "documented":
            tags = [org.lookup("tags", row["tag_id"]) for row in out["tags"]["data"]]
            out["tags"] = {"data": [{"id": t["id"], "title": t["title"], "color": t["color"]}
                                    for t in tags if t is not None]}
        rewrap(out, "tags", not single, ctx)


# ------------------------------------------------------------------ processes
def run(org: Any, rec: Record, out: Record, ctx: Ctx) -> None:
    """processes/list-processes, get-process: `summary, whole_progress, starred, is_public, users,
    groups` (list: `due_soon, collaborators, can_add_oot`); includes wrapped."""
    out.setdefault("summary", "")
    out["whole_progress"] = dict(rec["progress"])
    out.setdefault("starred", False)
    out.setdefault("is_public", False)
    out.setdefault("users", [])
    out.setdefault("groups", [])
    if not ctx["_single"]:
        out.setdefault("due_soon", False)
        out.setdefault("collaborators", [])
        out.setdefault("can_add_oot", True)
    rewrap(out, "tasks", True, ctx)
    rewrap(out, "tags", True, ctx)
    rewrap(out, "checklist", not ctx["_single"], ctx)


# ------------------------------------------------------------------ tasks
def _owner_objects(org: Any, ids) -> list:
    out = []
    for mid in ids:
        m = org.lookup("members", mid)
        out.append({"id": mid, "full_name": m["full_name"] if m is not None else None})
    return out


def task(org: Any, rec: Record, out: Record, ctx: Ctx, org_wide: Optional[bool] = None) -> None:
    """tasks/list-org-tasks: `owners.users` as objects `{id, full_name}`; tasks/get-task and
    list-process-tasks: integers. Every task: `is_completable, everyone_must_complete`; the
    single read: `can_complete_only_assignees, max_assignable, webhook, top_secret`."""
    sw, single = ctx["_sw"], bool(ctx["_single"])
    org_wide = (not single) if org_wide is None else org_wide
    objects = org_wide if sw.task_owners == "documented" else sw.task_owners == "objects"
    if objects:
        out["owners"] = dict(out["owners"], users=_owner_objects(org, rec["owners"]["users"]))
    out["is_completable"] = rec["status"] != "completed"
    out.setdefault("everyone_must_complete", False)
    if single:
        out.setdefault("can_complete_only_assignees", False)
        out.setdefault("max_assignable", 1)
        out.setdefault("webhook", None)
        out.setdefault("top_secret", False)
    for key in ("tags", "threads", "form_fields", "run"):
        rewrap(out, key, True, ctx)


def run_task(org: Any, rec: Record, out: Record, ctx: Ctx) -> None:
    """tasks/list-process-tasks (`runs/{id}/tasks`): owners integers, `step` bare; the single
    read `runs/{run}/tasks/{task}` as get-task (`step` wrapped)."""
    task(org, rec, out, ctx, org_wide=False)
    rewrap(out, "step", bool(ctx["_single"]), ctx)


def org_task(org: Any, rec: Record, out: Record, ctx: Ctx) -> None:
    task(org, rec, out, ctx)
    rewrap(out, "step", True, ctx)
