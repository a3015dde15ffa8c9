"""The workflow family: templates (`checklists`), processes (`runs`), tasks (org-wide and
`/runs/{id}/tasks`) and the activity feed (`activity-feeds`), as the server serves them.

Default orders (the facts leave most open; these are the simulator's choice):
  checklists: pinned first, then newest update first;   runs: newest created first;
  tasks: deadline, earliest first;   /runs/{id}/tasks: position;   activity-feeds: newest first (id).
Sorts honoured always (documented): runs `sort=created_at`, tasks `sort=deadline|newest|problems|
completed_newest|created_at`, checklists `sort_by=name|created_at`, run tasks `position|deadline`,
the feed `sort=created_at`. Update-time sorts (`last_updated`, `updated_at`, checklists
`sort_by=updated`) only while the simulator honours sorting (`honour_sort`).

`archived`: absent or falsy = not archived; `only` = archived only; another truthy value =
archived too, or archived only when the simulator's `archived_reading` is "only". The nested
`/runs/{id}/tasks` shows all the process's tasks. Comments come only as `threads` includes.
The feed shows an event once `feed_lag_seconds` of the org's clock have passed since it happened.
"""

from datetime import timedelta
from typing import Any, Callable, Dict, Optional, Set

from . import feedshape, shapes
from .lifecycle import is_late
from .serving import Query, Record, ServedResource, serve_record
from .switches import Switches
from .timestamps import parse_ts

TRUTHY = ("true", "1", "yes", "on")


# ------------------------------------------------------------------ filters
def _archived_mode(query: Query, settings: Any) -> str:
    value = (query.get("archived") or "").strip().lower()
    if value == "only":
        return "only"
    if value in TRUTHY:
        return getattr(settings, "archived_reading", "too")
    return "not"


def _archived_keep(query: Query, settings: Any) -> Optional[Callable[[Record], bool]]:
    mode = _archived_mode(query, settings)
    if mode == "too":
        return None
    return (lambda r: r["archived_at"] is not None) if mode == "only" else (lambda r: r["archived_at"] is None)


def _all(*keeps: Optional[Callable[[Record], bool]]) -> Optional[Callable[[Record], bool]]:
    keeps = tuple(k for k in keeps if k is not None)
    if not keeps:
        return None
    return lambda r: all(k(r) for k in keeps)


def _day(stamp: Optional[str]) -> str:
    return parse_ts(stamp).date().isoformat() if stamp else ""


def _tagged(org: Any, kind: str, tag_id: str) -> Callable[[Record], bool]:
    return lambda r: any(row["tag_id"] == tag_id for row in org.tag_links.get((kind, r["id"]), ()))


def _checklist_filter(org: Any, query: Query, settings: Any, parent: Optional[str]):
    tag = query.get("tag")
    return _all(_archived_keep(query, settings), _tagged(org, "checklists", tag) if tag else None,
                (lambda r: r["type"] == query["type"]) if query.get("type") else None)


def _run_filter(org: Any, query: Query, settings: Any, parent: Optional[str]):
    status, tag = query.get("status"), query.get("tag")
    if status == "archived":  # the docs' status; MCP says `archived=only`: both work
        status, query = None, dict(query, archived="only")
    return _all(_archived_keep(query, settings), (lambda r: r["status"] == status) if status else None,
                (lambda r: r["checklist_id"] == query["checklist_id"]) if query.get("checklist_id") else None,
                _tagged(org, "runs", tag) if tag else None)


def _task_status(org: Any, status: str) -> Callable[[Record], bool]:
    now = org.now
    soon = now + timedelta(days=7)
    return {
        "complete": lambda t: t["status"] == "completed", "completed": lambda t: t["status"] == "completed",
        "incomplete": lambda t: t["status"] != "completed", "active": lambda t: t["status"] != "completed",
        "inprogress": lambda t: t["status"] == "active", "not-started": lambda t: t["status"] == "not-started",
        "overdue": lambda t: is_late(t, now), "hasproblem": lambda t: bool(t["problem"]),
        "due_soon": lambda t: (t["status"] != "completed" and t["deadline"] is not None
                               and now <= parse_ts(t["deadline"]) < soon),
    }.get(status, lambda t: t["status"] == status)


def _created_keep(spec: str) -> Callable[[Record], bool]:
    """`created=YYYY-MM-DD` (that day) or `A:B` (days A to B, inclusive)."""
    low, _, high = spec.partition(":")
    high = high or low
    return lambda r: low <= _day(r["created_at"]) <= high


def _task_filter(org: Any, query: Query, settings: Any, parent: Optional[str]):
    status, tag = query.get("status"), query.get("tag")
    tag_ids = {t for t, rec in org._data["tags"].items() if rec["title"] == tag} if tag else set()
    oneoff = (query.get("is_oneoff") or "").lower()
    return _all(_archived_keep(query, settings), _task_status(org, status) if status else None,
                _created_keep(query["created"]) if query.get("created") else None,
                (lambda r: r["is_oneoff_task"] == (oneoff in TRUTHY)) if oneoff else None,
                (lambda r: any(row["tag_id"] in tag_ids for row in org.tag_links.get(("tasks", r["id"]), ())))
                if tag else None)


def _run_task_filter(org: Any, query: Query, settings: Any, parent: Optional[str]):
    status = query.get("status")
    return _all(lambda r: r["run_id"] == parent, _task_status(org, status) if status else None)


def _feed_filter(org: Any, query: Query, settings: Any, parent: Optional[str]):
    lag = timedelta(seconds=getattr(settings, "feed_lag_seconds", 0) or 0)
    now = org.now
    after, before = query.get("created_after"), query.get("created_before")
    exact = {name: query[name] for name in ("type", "verb", "entity_id", "actor_type", "field", "actor_id", "source")
             if query.get(name)}
    entity = (query.get("entity_type") or "").lower()
    search = (query.get("search") or "").casefold()
    return _all(
        (lambda e: parse_ts(e["created_at"]) + lag <= now) if lag else None,
        (lambda e: _day(e["created_at"]) >= after) if after else None,
        (lambda e: _day(e["created_at"]) <= before) if before else None,
        (lambda e: all(feedshape.matches(e, k, v) for k, v in exact.items())) if exact else None,
        (lambda e: e["auditable_type"].lower() == entity) if entity else None,
        (lambda e: search in e["text"].casefold()) if search else None)


# ------------------------------------------------------------------ includes
def _tags(org: Any, kind: str, rec: Record) -> Dict[str, Any]:
    return {"data": [dict(row) for row in org.tag_links.get((kind, rec["id"]), ())]}


def _task_includes(org: Any, rec: Record, include: Set[str], ctx: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if "tags" in include:
        out["tags"] = _tags(org, "tasks", rec)
    if "threads" in include or "comments" in include:
        out["threads"] = {"data": [dict(c) for c in org.threads.get(rec["id"], ())]}
    if "form_fields" in include or (ctx.get("_query") or {}).get("form_fields_values") == "true":
        out["form_fields"] = {"data": [dict(f) for f in org.form_values.get(rec["id"], ())]}
    if "run" in include and rec["run_id"] is not None:
        run = org.lookup("runs", rec["run_id"])
        out["run"] = {"data": serve_record(RUNS, org, run, set(), None, dict(ctx, _single=False, _include=set()))}
    if "step" in include and rec["step_id"] is not None:
        step = next((s for s in org.steps.get(rec["checklist_id"], ()) if s["id"] == rec["step_id"]), None)
        if step is not None:
            out["step"] = {"data": _step(step)}
    return out


def _step(s: Record) -> Record:
    """A stored step as an include or a `/steps` row (captures wrapped; `shapes.step` decides)."""
    return dict(s, owners={k: list(v) for k, v in s["owners"].items()}, deadline=dict(s["deadline"]),
                captures={"data": [dict(c) for c in s["captures"]]})


def _checklist_includes(org: Any, rec: Record, include: Set[str], ctx: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if "steps" in include:
        out["steps"] = {"data": [_step(s) for s in org.steps.get(rec["id"], ())]}
    if "tags" in include:
        out["tags"] = _tags(org, "checklists", rec)
    return out


def _run_includes(org: Any, rec: Record, include: Set[str], ctx: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if "tags" in include:
        out["tags"] = _tags(org, "runs", rec)
    if "tasks" in include:
        nested = {w[6:] for w in include if w.startswith("tasks.")}
        sub = dict(ctx, _single=False, _include=nested)
        out["tasks"] = {"data": [serve_record(RUN_TASKS, org, t, nested, None, sub) for t in org._tasks_of(rec["id"])]}
    if "checklist" in include:
        tmpl = org.lookup("checklists", rec["checklist_id"])
        sub = dict(ctx, _single=False, _include=set())
        out["checklist"] = {"data": serve_record(CHECKLISTS, org, tmpl, set(), None, sub) if tmpl else {}}
    return out


# ------------------------------------------------------------------ the served resources
CHECKLISTS = ServedResource(
    resource="checklists", path="checklists", model="Checklist", default_per_page=10,
    sort_params=("sort_by", "sort"),
    sort_fields={"name": "title", "title": "title", "created_at": "created_at", "updated": "updated_at",
                 "updated_at": "updated_at", "last_updated": "updated_at"},
    default_sort=("is_pinned", "updated_at"), default_descending=True,
    documented_sorts=("name", "title", "created_at"),
    search_fields=("title", "summary"), view_filter=_checklist_filter, includes=_checklist_includes,
    item_only=("prerun", "automated_actions"), nested=True, shape=shapes.checklist,
)
RUNS = ServedResource(
    resource="runs", path="runs", model="Run", default_per_page=10, sort_params=("sort",),
    sort_fields={"created_at": "created_at", "last_updated": "updated_at", "updated_at": "updated_at",
                 "name": "name"},
    default_sort="created_at", default_descending=True, documented_sorts=("created_at",),
    search_fields=("name",), view_filter=_run_filter, includes=_run_includes, nested=True, shape=shapes.run,
)
_TASK_SORTS = {"deadline": "deadline", "newest": "-created_at", "problems": "-problem",
               "completed_newest": "-completed_at", "created_at": "created_at"}
TASKS = ServedResource(
    resource="tasks", path="tasks", model="Task", default_per_page=10, sort_params=("sort",),
    sort_fields=dict(_TASK_SORTS, last_updated="updated_at", updated_at="updated_at"),
    default_sort="deadline", documented_sorts=tuple(_TASK_SORTS),
    search_fields=("title",), view_filter=_task_filter, includes=_task_includes, nested=True,
    shape=shapes.org_task,
)
#: `/runs/{run}/tasks`: one process's tasks (not registered by path: `families.NESTED` routes it)
RUN_TASKS = ServedResource(
    resource="tasks", path="runs/tasks", model="Task", default_per_page=10, sort_params=("sort",),
    sort_fields={"position": "position", "deadline": "deadline", "last_updated": "updated_at"},
    default_sort="position", documented_sorts=("position", "deadline"),
    search_fields=("title",), view_filter=_run_task_filter, includes=_task_includes, nested=True,
    shape=shapes.run_task, item_lookup=lambda org, run, key: _task_of_run(org, run, key),
)


def _task_of_run(org: Any, run_id: Optional[str], key: Any) -> Optional[Record]:
    rec = org.lookup("tasks", key)
    return rec if rec is not None and rec["run_id"] == run_id else None


def _feed_shape(org: Any, rec: Record, out: Record, ctx: Dict[str, Any]) -> None:
    def render(kind: str, r: Record) -> Record:
        return serve_record(BY_KIND[kind], org, r, set(), None, dict(ctx, _single=False, _include=set()))
    feedshape.documented(org, rec, out, ctx, render)


def _event_key(segment: str) -> Any:
    return int(segment) if segment.isdigit() else None


ACTIVITY = ServedResource(
    resource="activity", path="activity-feeds", model="ActivityFeed", default_per_page=20,
    sort_params=("sort",), sort_fields={"created_at": "id", "id": "id"},
    default_sort="id", default_descending=True, documented_sorts=("created_at", "id"),
    search_fields=("text", "description"), item_key=_event_key, view_filter=_feed_filter, shape=_feed_shape,
)

#: this family's resources, in the order `families.py` registers them
SERVED = (CHECKLISTS, RUNS, TASKS, ACTIVITY)
BY_KIND = {"checklists": CHECKLISTS, "runs": RUNS, "tasks": TASKS}
#: (parent path, child path) -> (parent resource, how the child list is served)
NESTED = {("runs", "tasks"): ("runs", RUN_TASKS)}

