"""Synthetic workflow data drawn from one seeded `random.Random`: templates with steps and
kick-off fields, one-off tasks, and the year of history (`build`) that launches processes from
the templates (`generate_processes.py`: tasks, answers, comments, problems, lateness), archives
some, edits some templates, and writes the activity-feed history of it all.

Everything refers only to members, guests, groups and tags that exist (`People`); the time rules
(history in the year before `BASE_NOW`, no deadline in the day after it) are `workflow_draws.py`'s.
"""

import random
from datetime import datetime, timedelta
from typing import Dict, List, Optional

from .draws import hex32
from .generate_processes import discuss, launch
from .lifecycle import STATUS_LABELS, event, refresh_run
from .timestamps import BASE_NOW, TS_STYLES, format_ts, parse_ts, ts_style
from .vocabulary import FIELD_KINDS, ONEOFF_TITLES, OPTIONS, STEP_TITLES, STEP_TYPES, TEMPLATE_NAMES
from .workflow_draws import YEAR, People, Record, Workflow, between, link_tags, quiet


# ------------------------------------------------------------------ templates
def _captures(rng: random.Random, step_id: str, when: str) -> List[Record]:
    out = []
    for pos in range(1, (rng.randrange(0, 3) if rng.random() < 0.5 else 0) + 1):
        ftype, label = rng.choice(FIELD_KINDS)
        out.append({"id": hex32(rng), "step_id": step_id, "field_type": ftype, "label": label, "position": pos,
                    "required": rng.random() < 0.5,
                    "options": [{"id": i + 1, "text": o} for i, o in enumerate(OPTIONS)]
                    if ftype in ("dropdown", "radio", "multiselect") else [],
                    "columns": [{"label": "item"}, {"label": "qty"}] if ftype == "table" else [],
                    "created_at": when, "last_updated": when})
    return out


def template(rng: random.Random, wf: Workflow, people: People, title: str, created: datetime,
             events: bool = True) -> Record:
    """A template with 3 to 15 steps and 0 to 4 kick-off fields, created at `created`; kept in `wf`."""
    style = rng.randrange(len(TS_STYLES))
    tid, stamp = hex32(rng), format_ts(created, style)
    steps = []
    for pos in range(1, rng.randrange(3, 16) + 1):
        sid = hex32(rng)
        steps.append({"id": sid, "checklist_id": tid, "alias": f"step-{pos}", "title": rng.choice(STEP_TITLES),
                      "summary": None if rng.random() < 0.6 else "See the handbook.", "position": pos,
                      "step_type": rng.choice(STEP_TYPES), "deadline": {"value": rng.randrange(1, 8), "unit": "days"},
                      "owners": people.owners(rng), "captures": _captures(rng, sid, stamp),
                      "created_at": stamp, "last_updated": stamp})
    prerun = []
    for pos in range(1, rng.randrange(0, 5) + 1):
        ftype, label = rng.choice(FIELD_KINDS + [("number", "Amount")] * 2)
        prerun.append({"id": hex32(rng), "alias": f"kickoff-{pos}", "label": label, "field_type": ftype,
                       "required": rng.random() < 0.5, "position": pos})
    owner = people.member(rng)
    rec = {
        "id": tid, "title": title, "summary": None if rng.random() < 0.5 else f"How we run {title.lower()}.",
        "starred": rng.random() < 0.2, "type": rng.choices(("procedure", "form", "document"), (8, 2, 1))[0],
        "status": "draft" if rng.random() < 0.1 else "published", "owner_id": owner, "created_by": owner,
        "steps_count": len(steps), "is_pinned": rng.random() < 0.1, "created_at": stamp, "updated_at": stamp,
        "archived_at": None, "prerun": prerun, "automated_actions": [],
    }
    wf.checklists.append(rec)
    wf.steps[tid] = steps
    link_tags(rng, wf, people, "checklists", tid, rng.choice((0, 0, 1, 1, 2, 3)))
    if events:
        wf.events.append((created, event(created, "created", owner, "Checklist", tid, "Blueprint",
                                         f"created template {title}")))
    return rec


# ------------------------------------------------------------------ one-off tasks
def oneoff(rng: random.Random, wf: Workflow, people: People, created: datetime, now: datetime,
           title: Optional[str] = None, done: Optional[bool] = None) -> Record:
    """A task outside any process, created at `created`; kept in `wf`."""
    style = rng.randrange(len(TS_STYLES))
    tid, creator = hex32(rng), people.member(rng)
    stamp = format_ts(created, style)
    deadline = quiet(created + timedelta(days=rng.randrange(1, 30)))
    task = {"id": tid, "increment_id": wf.next_task, "title": title or rng.choice(ONEOFF_TITLES), "run_id": None,
            "checklist_id": None, "step_id": None, "alias": None, "status": "active", "status_label": "",
            "task_type": "task", "position": 0, "is_oneoff_task": True, "owners": people.owners(rng),
            "deadline": format_ts(deadline, style), "started_at": stamp, "created_at": stamp, "updated_at": stamp,
            "completed_at": None, "completer_id": None, "starter_id": creator, "archived_at": None,
            "problem": False, "is_approved": None, "run_status": None}
    wf.next_task += 1
    if done if done is not None else rng.random() < 0.4:
        when = between(rng, created, now - timedelta(minutes=1))
        task.update(status="completed", completed_at=format_ts(when, style), completer_id=creator,
                    updated_at=format_ts(when, style))
        wf.events.append((when, event(when, "completed", creator, "Task", tid, "Task", f"completed {task['title']}")))
    task["status_label"] = STATUS_LABELS[task["status"]]
    wf.tasks.append(task)
    wf.form_values[tid] = []
    link_tags(rng, wf, people, "tasks", tid, 1 if rng.random() < 0.1 else 0)
    wf.events.append((created, event(created, "created", creator, "Task", tid, "Task", f"created {task['title']}")))
    return task


# ------------------------------------------------------------------ the whole history
def build(rng: random.Random, people: People, templates: int, processes: int, oneoff_tasks: int) -> Workflow:
    """A year of workflow history ending at `BASE_NOW`."""
    wf, now = Workflow(), BASE_NOW
    start = now - timedelta(seconds=YEAR)
    titles: Dict[str, int] = {}
    for _ in range(templates):
        base = rng.choice(TEMPLATE_NAMES)
        titles[base] = titles.get(base, 0) + 1
        title = base if titles[base] == 1 else f"{base} {titles[base]}"
        template(rng, wf, people, title, between(rng, start, start + timedelta(days=120)))
    launchable = [t for t in wf.checklists if t["status"] == "published" and wf.steps[t["id"]]] or wf.checklists
    for _ in range(processes if launchable else 0):
        tmpl = rng.choice(launchable)
        created = parse_ts(tmpl["created_at"])
        started = between(rng, created + timedelta(hours=1), now - timedelta(hours=2))
        age = (now - started).days
        fate = "complete" if rng.random() < (0.75 if age > 90 else 0.3) else "new" if rng.random() < 0.1 else "open"
        run, tasks = launch(rng, wf, people, tmpl, started, now, fate)
        last = max([discuss(rng, wf, people, run, tasks, now)] + [parse_ts(t["updated_at"]) for t in tasks])
        run["updated_at"] = format_ts(last, ts_style(run["created_at"]))
        refresh_run(run, tasks, wf.threads, now)
        if rng.random() < (0.35 if run["status"] == "complete" else 0.05):
            when = between(rng, last, now - timedelta(minutes=1))
            stamp = format_ts(when, ts_style(run["created_at"]))
            run.update(archived_at=stamp, updated_at=stamp)
            for t in tasks:
                t.update(archived_at=stamp, updated_at=stamp)
            wf.events.append((when, event(when, "archived", run["started_by"], "Run", run["id"], "Process",
                                          f"archived {run['name']}")))
    for t in wf.checklists:  # a few templates edited, some archived, after their launches
        if rng.random() < 0.4:
            when = between(rng, parse_ts(t["created_at"]), now - timedelta(hours=1))
            t["updated_at"] = format_ts(when, ts_style(t["created_at"]))
            wf.events.append((when, event(when, "updated", t["owner_id"], "Checklist", t["id"], "Blueprint",
                                          f"edited template {t['title']}", field="summary")))
        if rng.random() < 0.1:
            when = max(now - timedelta(hours=rng.randrange(1, 48)), parse_ts(t["updated_at"]) + timedelta(seconds=1))
            stamp = format_ts(when, ts_style(t["created_at"]))
            t.update(archived_at=stamp, updated_at=stamp)
            wf.events.append((when, event(when, "archived", t["owner_id"], "Checklist", t["id"], "Blueprint",
                                          f"archived template {t['title']}")))
    for _ in range(oneoff_tasks):
        oneoff(rng, wf, people, between(rng, start, now - timedelta(hours=1)), now)
    return wf
