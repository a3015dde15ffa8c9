"""Synthetic workflow data drawn from one seeded `random.Random`: templates with steps and
kick-off fields, processes launched from them (one task per step, with answers, comments,
problems, lateness, archiving), one-off tasks, tag links, and the activity-feed history of it all.

Everything refers only to members, guests, groups and tags that exist (`People`). History lies
in the year before `BASE_NOW`; no deadline falls in the day after it, so the clock a test
advances (seconds per change) never makes a task late behind the data's back.
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Tuple

from .generate import _hex32
from .lifecycle import STATUS_LABELS, event, refresh_run
from .timestamps import BASE_NOW, TS_STYLES, format_ts, parse_ts, ts_style
from .vocabulary import (COMMENT_TEXTS, FIELD_KINDS, FIRST_NAMES, ONEOFF_TITLES, OPTIONS, STEP_TITLES, STEP_TYPES,
                         TEMPLATE_NAMES)

Record = Dict[str, Any]
YEAR = 365 * 86400
#: no generated deadline falls in [BASE_NOW, BASE_NOW + QUIET)
QUIET = timedelta(days=1)


@dataclass
class People:
    """Whom workflow records may name: members, guests, groups and (non-automatic) tags that exist."""

    members: List[int]
    guests: List[str]
    groups: List[str]
    tags: List[str]

    def owners(self, rng: random.Random) -> Record:
        users = rng.sample(self.members, min(len(self.members), rng.choice((1, 1, 1, 2)))) if self.members else []
        guests = [rng.choice(self.guests)] if self.guests and rng.random() < 0.12 else []
        groups = [rng.choice(self.groups)] if self.groups and rng.random() < 0.15 else []
        return {"users": sorted(users), "guests": guests, "groups": groups}

    def member(self, rng: random.Random) -> Optional[int]:
        return rng.choice(self.members) if self.members else None


@dataclass
class Workflow:
    """What generation hands the org to keep."""

    checklists: List[Record] = field(default_factory=list)
    steps: Dict[str, List[Record]] = field(default_factory=dict)
    runs: List[Record] = field(default_factory=list)
    tasks: List[Record] = field(default_factory=list)
    threads: Dict[str, List[Record]] = field(default_factory=dict)
    form_values: Dict[str, List[Record]] = field(default_factory=dict)
    tag_links: Dict[Tuple[str, str], List[Record]] = field(default_factory=dict)
    events: List[Tuple[datetime, Record]] = field(default_factory=list)
    next_run: int = 1
    next_task: int = 1


def _ts(when: Optional[datetime], style: int) -> Optional[str]:
    return format_ts(when, style) if when is not None else None


def _quiet(when: datetime) -> datetime:
    """Deadlines keep out of the day after `BASE_NOW` (see the module docstring)."""
    return when + 2 * QUIET if BASE_NOW <= when < BASE_NOW + QUIET else when


def _between(rng: random.Random, a: datetime, b: datetime) -> datetime:
    span = int((b - a).total_seconds())
    return a + timedelta(seconds=rng.randrange(span)) if span > 1 else a


def link_tags(rng: random.Random, wf: Workflow, people: People, kind: str, subject: str, k: int) -> None:
    if people.tags and k:
        wf.tag_links[(kind, subject)] = [{"id": _hex32(rng), "tag_id": t}
                                         for t in rng.sample(people.tags, min(k, len(people.tags)))]


# ------------------------------------------------------------------ templates
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
    return [{"name": f"file{rng.randrange(100)}.pdf", "url": f"https://files.example.org/{_hex32(rng)}"}]


def _captures(rng: random.Random, step_id: str, when: str) -> List[Record]:
    out = []
    for pos in range(1, (rng.randrange(0, 3) if rng.random() < 0.5 else 0) + 1):
        ftype, label = rng.choice(FIELD_KINDS)
        out.append({"id": _hex32(rng), "step_id": step_id, "field_type": ftype, "label": label, "position": pos,
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
    tid, stamp = _hex32(rng), format_ts(created, style)
    steps = []
    for pos in range(1, rng.randrange(3, 16) + 1):
        sid = _hex32(rng)
        steps.append({"id": sid, "checklist_id": tid, "alias": f"step-{pos}", "title": rng.choice(STEP_TITLES),
                      "summary": None if rng.random() < 0.6 else "See the handbook.", "position": pos,
                      "step_type": rng.choice(STEP_TYPES), "deadline": {"value": rng.randrange(1, 8), "unit": "days"},
                      "owners": people.owners(rng), "captures": _captures(rng, sid, stamp),
                      "created_at": stamp, "last_updated": stamp})
    prerun = []
    for pos in range(1, rng.randrange(0, 5) + 1):
        ftype, label = rng.choice(FIELD_KINDS + [("number", "Amount")] * 2)
        prerun.append({"id": _hex32(rng), "alias": f"kickoff-{pos}", "label": label, "field_type": ftype,
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


# ------------------------------------------------------------------ processes
def launch(rng: random.Random, wf: Workflow, people: People, tmpl: Record, started: datetime,
           now: datetime, fate: str = "open") -> Tuple[Record, List[Record]]:
    """A process launched from `tmpl` at `started` with one task per step, played forward to `now`:
    `fate` is "open" (some tasks done), "complete", or "new" (nothing done yet). Kept in `wf`."""
    style = rng.randrange(len(TS_STYLES))
    rid, starter = _hex32(rng), people.member(rng)
    stamp = format_ts(started, style)
    prerun = {f["id"]: _field_value(rng, f["field_type"], started) for f in tmpl["prerun"]}
    steps = wf.steps.get(tmpl["id"], [])
    n = len(steps)
    done = n if fate == "complete" else 0 if fate == "new" else rng.randrange(0, n)
    tasks, deadline, last = [], started, started
    for step in steps:
        deadline = _quiet(deadline + timedelta(days=step["deadline"]["value"], hours=rng.randrange(0, 9)))
        tid = _hex32(rng)
        task = {"id": tid, "increment_id": wf.next_task, "title": step["title"], "run_id": rid,
                "checklist_id": tmpl["id"], "step_id": step["id"], "alias": step["alias"], "status": "active",
                "status_label": "", "task_type": step["step_type"], "position": step["position"],
                "is_oneoff_task": False, "owners": {k: list(v) for k, v in step["owners"].items()},
                "deadline": format_ts(deadline, style), "started_at": stamp, "created_at": stamp,
                "updated_at": stamp, "completed_at": None, "completer_id": None, "starter_id": starter,
                "archived_at": None, "problem": False, "is_approved": None, "run_status": None}
        wf.next_task += 1
        if step["position"] <= done:
            last = _between(rng, last, min(now, last + timedelta(days=rng.randrange(1, 12))))
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
    rec = {"id": _hex32(rng), "content": content or rng.choice(COMMENT_TEXTS[label]), "author_id": author,
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


def _discuss(rng: random.Random, wf: Workflow, people: People, run: Record, tasks: List[Record],
             now: datetime) -> datetime:
    """Comments, problems (some resolved) on a process's tasks; returns its last activity time."""
    last = parse_ts(run["created_at"])
    for task in tasks:
        created = parse_ts(task["created_at"])
        if rng.random() < 0.25:
            for _ in range(rng.randrange(1, 4)):
                when = _between(rng, created, now - timedelta(minutes=5))
                comment(rng, wf, task, people.member(rng),
                        rng.choices(("comment", "improvement", "advice"), (8, 1, 1))[0], when)
                last = max(last, when)
        if task["status"] != "completed" and rng.random() < 0.04:
            when = _between(rng, created, now - timedelta(minutes=5))
            problem = comment(rng, wf, task, people.member(rng), "problem", when)
            if rng.random() < 0.4:
                when = _between(rng, when, now - timedelta(minutes=1))
                comment(rng, wf, task, people.member(rng), "resolve", when, resolves=problem)
            last = max(last, when)
        threads = wf.threads.get(task["id"])
        if threads:
            newest = max(parse_ts(c["updated_at"]) for c in threads)
            if newest > parse_ts(task["updated_at"]):
                task["updated_at"] = format_ts(newest, ts_style(task["created_at"]))
    return last


# ------------------------------------------------------------------ one-off tasks
def oneoff(rng: random.Random, wf: Workflow, people: People, created: datetime, now: datetime,
           title: Optional[str] = None, done: Optional[bool] = None) -> Record:
    """A task outside any process, created at `created`; kept in `wf`."""
    style = rng.randrange(len(TS_STYLES))
    tid, creator = _hex32(rng), people.member(rng)
    stamp = format_ts(created, style)
    deadline = _quiet(created + timedelta(days=rng.randrange(1, 30)))
    task = {"id": tid, "increment_id": wf.next_task, "title": title or rng.choice(ONEOFF_TITLES), "run_id": None,
            "checklist_id": None, "step_id": None, "alias": None, "status": "active", "status_label": "",
            "task_type": "task", "position": 0, "is_oneoff_task": True, "owners": people.owners(rng),
            "deadline": format_ts(deadline, style), "started_at": stamp, "created_at": stamp, "updated_at": stamp,
            "completed_at": None, "completer_id": None, "starter_id": creator, "archived_at": None,
            "problem": False, "is_approved": None, "run_status": None}
    wf.next_task += 1
    if done if done is not None else rng.random() < 0.4:
        when = _between(rng, created, now - timedelta(minutes=1))
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
        template(rng, wf, people, title, _between(rng, start, start + timedelta(days=120)))
    launchable = [t for t in wf.checklists if t["status"] == "published" and wf.steps[t["id"]]] or wf.checklists
    for _ in range(processes if launchable else 0):
        tmpl = rng.choice(launchable)
        created = parse_ts(tmpl["created_at"])
        started = _between(rng, created + timedelta(hours=1), now - timedelta(hours=2))
        age = (now - started).days
        fate = "complete" if rng.random() < (0.75 if age > 90 else 0.3) else "new" if rng.random() < 0.1 else "open"
        run, tasks = launch(rng, wf, people, tmpl, started, now, fate)
        last = max([_discuss(rng, wf, people, run, tasks, now)] + [parse_ts(t["updated_at"]) for t in tasks])
        run["updated_at"] = format_ts(last, ts_style(run["created_at"]))
        refresh_run(run, tasks, wf.threads, now)
        if rng.random() < (0.35 if run["status"] == "complete" else 0.05):
            when = _between(rng, last, now - timedelta(minutes=1))
            stamp = format_ts(when, ts_style(run["created_at"]))
            run.update(archived_at=stamp, updated_at=stamp)
            for t in tasks:
                t.update(archived_at=stamp, updated_at=stamp)
            wf.events.append((when, event(when, "archived", run["started_by"], "Run", run["id"], "Process",
                                          f"archived {run['name']}")))
    for t in wf.checklists:  # a few templates edited, some archived, after their launches
        if rng.random() < 0.4:
            when = _between(rng, parse_ts(t["created_at"]), now - timedelta(hours=1))
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
        oneoff(rng, wf, people, _between(rng, start, now - timedelta(hours=1)), now)
    return wf
