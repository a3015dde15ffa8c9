"""Rules shared by workflow generation and workflow mutations, so both leave the same state:
a process's derived fields (progress, status, lateness, open issues) from its tasks, the shape
of an activity-feed event, and the tag statistics a set of tag links implies.

Derived fields are stored on the record when something changes (not computed when served), so
what a process says is what it said at its last change: like a server's cached columns.
"""

from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional

from .records import TAG_STATS_KEYS
from .timestamps import format_ts, parse_ts

Record = Dict[str, Any]

#: task status -> its label
STATUS_LABELS = {"not-started": "Not started", "active": "To do", "completed": "Completed"}


def is_late(task: Record, now: datetime) -> bool:
    return (task["status"] != "completed" and task["deadline"] is not None
            and parse_ts(task["deadline"]) < now)


def refresh_run(run: Record, tasks: List[Record], threads: Dict[str, List[Record]], now: datetime) -> bool:
    """Recompute `run`'s derived fields from its tasks at `now`; set each task's `run_status`.
    Returns True when the process has just become complete."""
    total = len(tasks)
    done = sum(1 for t in tasks if t["status"] == "completed")
    late = sum(1 for t in tasks if is_late(t, now))
    open_issue = any(c["label"] == "problem" and c["state"] == "open" and c["archived_at"] is None
                     for t in tasks for c in threads.get(t["id"], ()))
    deadlines = [t["deadline"] for t in tasks if t["deadline"]]
    was_complete = run["status"] == "complete"
    complete = total > 0 and done == total
    run["progress"] = {"complete": done, "total": total, "percent": round(100 * done / total) if total else 0}
    run["late_tasks"] = late
    run["has_open_issue"] = open_issue
    run["max_task_deadline"] = max(deadlines, key=parse_ts) if deadlines else None
    run["status"] = "complete" if complete else "problem" if open_issue else "delayed" if late else "active"
    if complete and not was_complete:
        finished = [t["completed_at"] for t in tasks if t["completed_at"]]
        run["completed_at"] = max(finished, key=parse_ts) if finished else format_ts(now)
    elif not complete:
        run["completed_at"] = None
    run["due_date_passed"] = (not complete and run["due_date"] is not None
                              and parse_ts(run["due_date"]) < now)
    for t in tasks:
        t["run_status"] = run["status"]
    return complete and not was_complete


def event(when: datetime, verb: str, actor_id: Optional[int], auditable_type: str, auditable_id: str,
          type_: str, text: str, parentable_type: Optional[str] = None, parentable_id: Optional[str] = None,
          field: Optional[str] = None, old_value: Optional[str] = None) -> Record:
    """An activity-feed event (its integer `id` is set when the feed stores it)."""
    return {
        "id": None, "verb": verb, "actor_id": actor_id, "actor_type": "Member" if actor_id is not None else None,
        "auditable_type": auditable_type, "auditable_id": auditable_id,
        "parentable_type": parentable_type, "parentable_id": parentable_id,
        "type": type_, "description": f"{type_} {verb}", "field": field, "old_value": old_value,
        "created_at": format_ts(when), "text": text,
    }


def tag_statistics(links: Dict[Any, List[Record]], archived: Dict[Any, bool],
                   tag_ids: Iterable[str]) -> Dict[str, Dict[str, int]]:
    """The `/tags?with=statistics` counts the template and process links imply.
    `links`: (kind, subject id) -> association rows; `archived`: (kind, subject id) -> archived."""
    stats = {t: dict.fromkeys(TAG_STATS_KEYS, 0) for t in tag_ids}
    for key, rows in links.items():
        kind = key[0]
        if kind not in ("checklists", "runs"):
            continue
        name = ("archived_" if archived.get(key) else "active_") + ("template" if kind == "checklists" else "process")
        for row in rows:
            if row["tag_id"] in stats:
                stats[row["tag_id"]][name] += 1
    return stats
