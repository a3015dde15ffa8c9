"""Synthetic processes drawn from a seeded `random.Random`: a process launched from a template
with one task per step and its form answers, played forward (some tasks done, approvals
decided), and the comments, problems and resolutions on its tasks, with their feed events.

Used by the whole history (`generate_workflow.py`) and by the org's mutations
(`launch_process`, `comment_on_task`); it stores nothing, it adds to the `Workflow` it is given.
"""

import random
from datetime import datetime, timedelta
from typing import Any, List, Optional, Tuple

from .draws import hex32
from .lifecycle import STATUS_LABELS, event
from .timestamps import TS_STYLES, format_ts, parse_ts, ts_style
from .vocabulary import COMMENT_TEXTS, FIRST_NAMES, OPTIONS
from .workflow_draws import People, Record, Workflow, between, link_tags, quiet


def _field_value(rng: random.Random, field_type: str, when: datetime) -> Any:
    """An answer: text, a number, a date, a list or an object, by field type."""
    if field_type in ("text", "textarea"):
        return f"{rng.choice(FIRST_NAMES)} {rng.randrange(1000)}"
    if field_type == "number":
        return rng.choice((rng.randrange(1, 10_000), round(rng.uniform(1, 5000), 2)))
    if field_type == "date":
        return format_ts(when + timedelta(days=rng.randrange(-30, 60)))
    if field_type == "email":
        return f"contact{rng.randrange(1000)}@example.org"
    if field_type in ("dropdown", "radio"):
        i = rng.randrange(len(OPTIONS))
        return {"id": i + 1, "text": OPTIONS[i]}
    if field_type == "multiselect":
        return [{"id": i + 1, "text": OPTIONS[i], "selected": True} for i in sorted(rng.sample(range(4), 2))]
    if field_type == "table":
        return [{"item": f"Item {i}", "qty": rng.randrange(1, 9)} for i in range(rng.randrange(1, 4))]
    return [{"name": f"file{rng.randrange(100)}.pdf", "url": f"https://files.example.org/{hex32(rng)}"}]


def launch(rng: random.Random, wf: Workflow, people: People, tmpl: Record, started: datetime,
           now: datetime, fate: str = "open") -> Tuple[Record, List[Record]]:
    """A process launched from `tmpl` at `started` with one task per step, played forward to `now`:
    `fate` is "open" (some tasks done), "complete", or "new" (nothing done yet). Kept in `wf`."""
    style = rng.randrange(len(TS_STYLES))
    rid, starter = hex32(rng), people.member(rng)
    stamp = format_ts(started, style)
    prerun = {f["id"]: _field_value(rng, f["field_type"], started) for f in tmpl["prerun"]}
    steps = wf.steps.get(tmpl["id"], [])
    n = len(steps)
    done = n if fate == "complete" else 0 if fate == "new" else rng.randrange(0, n)
    tasks, deadline, last = [], started, started
    for step in steps:
        deadline = quiet(deadline + timedelta(days=step["deadline"]["value"], hours=rng.randrange(0, 9)))
        tid = hex32(rng)
        task = {"id": tid, "increment_id": wf.next_task, "title": step["title"], "run_id": rid,
                "checklist_id": tmpl["id"], "step_id": step["id"], "alias": step["alias"], "status": "active",
                "status_label": "", "task_type": step["step_type"], "position": step["position"],
                "is_oneoff_task": False, "owners": {k: list(v) for k, v in step["owners"].items()},
                "deadline": format_ts(deadline, style), "started_at": stamp, "created_at": stamp,
                "updated_at": stamp, "completed_at": None, "completer_id": None, "starter_id": starter,
                "archived_at": None, "problem": False, "is_approved": None, "run_status": None}
        wf.next_task += 1
        if step["position"] <= done:
            last = between(rng, last, min(now, last + timedelta(days=rng.randrange(1, 12))))
            who = task["owners"]["users"][0] if task["owners"]["users"] else starter
            task.update(status="completed", completed_at=format_ts(last, style), completer_id=who,
                        updated_at=format_ts(last, style))
            if task["task_type"] == "approval":
                task["is_approved"] = rng.random() < 0.85
            wf.events.append((last, event(last, "completed", who, "Task", tid, "Task", f"completed {task['title']}",
                                          "Run", rid)))
        task["status_label"] = STATUS_LABELS[task["status"]]
        wf.form_values[tid] = [{"id": c["id"], "label": c["label"], "field_type": c["field_type"],
                                "value": _field_value(rng, c["field_type"], last)
                                if task["status"] == "completed" else None} for c in step["captures"]]
        tasks.append(task)
    run = {
        "id": rid, "increment_id": wf.next_run, "checklist_id": tmpl["id"], "checklist_title": tmpl["title"],
        "name": f"{tmpl['title']} - {rng.choice(FIRST_NAMES)} {wf.next_run}", "status": "active",
        "progress": {}, "started_by": starter, "owner_id": starter, "prerun": prerun,
        "prerun_status": "complete" if len(prerun) == len(tmpl["prerun"]) else "pending",
        "prerun_completed_at": stamp, "created_at": stamp, "started_at": stamp, "updated_at": stamp,
        "archived_at": None, "completed_at": None,
        "due_date": format_ts(deadline, style) if rng.random() < 0.8 else None, "due_date_passed": False,
        "late_tasks": 0, "has_open_issue": False, "parent_id": None, "max_task_deadline": None,
        "type": tmpl["type"],
    }
    wf.next_run += 1
    wf.runs.append(run)
    wf.tasks.extend(tasks)
    link_tags(rng, wf, people, "runs", rid, rng.choice((0, 0, 0, 1, 1, 2)))
    wf.events.append((started, event(started, "created", starter, "Run", rid, "Process", f"launched {run['name']}")))
    return run, tasks


def comment(rng: random.Random, wf: Workflow, task: Record, author: Optional[int], label: str,
            when: datetime, content: Optional[str] = None, resolves: Optional[Record] = None) -> Record:
    """A comment on `task` at `when` (a `resolve` closes the problem it answers); kept in `wf`."""
    stamp = format_ts(when)
    rec = {"id": hex32(rng), "content": content or rng.choice(COMMENT_TEXTS[label]), "author_id": author,
           "author_type": "member", "task_id": task["id"], "label": label,
           "state": "open" if label == "problem" else None, "created_at": stamp, "updated_at": stamp,
           "archived_at": None, "resolve_id": resolves["id"] if resolves else None}
    wf.threads.setdefault(task["id"], []).append(rec)
    if resolves is not None:
        resolves.update(state="resolved", updated_at=stamp)
    task["problem"] = any(c["label"] == "problem" and c["state"] == "open" for c in wf.threads[task["id"]])
    verb = {"problem": "issue-reported", "resolve": "issue-resolved"}.get(label, "commented")
    wf.events.append((when, event(when, verb, author, "Thread", rec["id"], "Comment", rec["content"],
                                  "Task", task["id"])))
    return rec


def discuss(rng: random.Random, wf: Workflow, people: People, run: Record, tasks: List[Record],
             now: datetime) -> datetime:
    """Comments, problems (some resolved) on a process's tasks; returns its last activity time."""
    last = parse_ts(run["created_at"])
    for task in tasks:
        created = parse_ts(task["created_at"])
        if rng.random() < 0.25:
            for _ in range(rng.randrange(1, 4)):
                when = between(rng, created, now - timedelta(minutes=5))
                comment(rng, wf, task, people.member(rng),
                        rng.choices(("comment", "improvement", "advice"), (8, 1, 1))[0], when)
                last = max(last, when)
        if task["status"] != "completed" and rng.random() < 0.04:
            when = between(rng, created, now - timedelta(minutes=5))
            problem = comment(rng, wf, task, people.member(rng), "problem", when)
            if rng.random() < 0.4:
                when = between(rng, when, now - timedelta(minutes=1))
                comment(rng, wf, task, people.member(rng), "resolve", when, resolves=problem)
            last = max(last, when)
        threads = wf.threads.get(task["id"])
        if threads:
            newest = max(parse_ts(c["updated_at"]) for c in threads)
            if newest > parse_ts(task["updated_at"]):
                task["updated_at"] = format_ts(newest, ts_style(task["created_at"]))
    return last
