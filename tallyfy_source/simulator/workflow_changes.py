"""Workflow mutations of a synthetic org, for tests: each advances the clock, bumps the update
time of what it changes (and of the process a changed task belongs to), keeps the processes'
derived fields and the tags' statistics right, and writes its activity-feed event(s).

A mixin of `SyntheticOrg` (it uses the org's lock, clock, records and `_bump`), kept apart so
the org module stays about data and the directory.

Quirks kept on purpose, as a server's computed columns would behave: a task's `run_status`
follows its process without bumping the task; a deleted member, guest or group leaves task
owners without a bump or an event; a deleted tag leaves its links the same way.
"""

import copy
import json
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional

from . import generate_workflow as gw
from .generate import _hex32
from .lifecycle import STATUS_LABELS, event, refresh_run, tag_statistics
from .timestamps import format_ts, ts_style

Record = Dict[str, Any]
#: what callers may call a tagged kind
_KINDS = {"checklists": "checklists", "checklist": "checklists", "template": "checklists",
          "runs": "runs", "run": "runs", "process": "runs", "tasks": "tasks", "task": "tasks"}
_AUDITABLE = {"checklists": ("Checklist", "Blueprint"), "runs": ("Run", "Process"), "tasks": ("Task", "Task")}


class WorkflowChanges:
    """Workflow state and mutations (mixed into `SyntheticOrg`)."""

    def _init_workflow(self) -> None:
        self.steps: Dict[str, List[Record]] = {}  # template id -> its steps
        self.tag_links: Dict[tuple, List[Record]] = {}  # (kind, id) -> association rows {id, tag_id}
        self.threads: Dict[str, List[Record]] = {}  # task id -> its comments
        self.form_values: Dict[str, List[Record]] = {}  # task id -> its form fields and answers
        self.run_tasks: Dict[str, List[str]] = {}  # run id -> its task ids by position
        self._wf_next = {"run": 1, "task": 1, "event": 1}
        self._drop_events = 0
        self._hold_events = 0
        self._held_events: List[Record] = []

    # ------------------------------------------------------------------ storing
    def _people(self) -> "gw.People":
        data = self._data
        active = [m["id"] for m in data["members"].values() if m["status"] == "active"]
        return gw.People(active or list(data["members"]),
                         [e for e, g in data["guests"].items() if g["details"]["status"] != "disabled"],
                         list(data["groups"]), [t for t, r in data["tags"].items() if not r["auto_generated"]])

    def _workflow(self) -> "gw.Workflow":
        return gw.Workflow(next_run=self._wf_next["run"], next_task=self._wf_next["task"])

    def _absorb(self, wf: "gw.Workflow") -> None:
        """Keep what a generator made: records, side data, links, then its events in time order."""
        d = self._data
        for kind, recs in (("checklists", wf.checklists), ("runs", wf.runs), ("tasks", wf.tasks)):
            for r in recs:
                d[kind][r["id"]] = r
        for t in wf.tasks:
            if t["run_id"] is not None:
                self.run_tasks.setdefault(t["run_id"], []).append(t["id"])
        self.steps.update(wf.steps)
        self.threads.update(wf.threads)
        self.form_values.update(wf.form_values)
        self.tag_links.update(wf.tag_links)
        self._wf_next.update(run=wf.next_run, task=wf.next_task)
        for _, ev in sorted(wf.events, key=lambda pair: pair[0]):
            self._emit(ev)

    def _emit(self, ev: Record) -> None:
        """Store a feed event under the next integer id, unless a dropped event is due."""
        if self._drop_events:
            self._drop_events -= 1
            return
        ev["id"] = self._wf_next["event"]
        self._wf_next["event"] += 1
        if self._hold_events:
            self._hold_events -= 1
            self._held_events.append(ev)
            return
        self._data["activity"][ev["id"]] = ev

    def _generate_workflow(self, rng: Any, templates: int, processes: int, oneoff_tasks: int) -> None:
        self._absorb(gw.build(rng, self._people(), templates, processes, oneoff_tasks))
        self._retally()

    def _retally(self) -> None:
        """Tag statistics := the template and process links (archived or not)."""
        archived = {k: self._data[k[0]][k[1]]["archived_at"] is not None
                    for k in self.tag_links if k[0] in ("checklists", "runs")}
        self.tag_statistics.update(tag_statistics(self.tag_links, archived, self._data["tags"]))

    def _tally(self, kind: str, subject: str, sign: int, only: Optional[str] = None) -> None:
        """Add `sign` to the statistics of the tags linked to a template or process."""
        if kind not in ("checklists", "runs"):
            return
        name = ("archived_" if self._data[kind][subject]["archived_at"] else "active_") + (
            "template" if kind == "checklists" else "process")
        for row in self.tag_links.get((kind, subject), ()):
            stats = self.tag_statistics.get(row["tag_id"])
            if stats is not None and (only is None or row["tag_id"] == only):
                stats[name] = max(0, stats[name] + sign)

    # ------------------------------------------------------------------ helpers
    def _wf(self, kind: str, key: str) -> Record:
        return self._require(kind, key)

    def _touch(self, rec: Record, when: datetime) -> None:
        self._bump(rec, when)

    def _tasks_of(self, run_id: str) -> List[Record]:
        return [self._data["tasks"][t] for t in self.run_tasks.get(run_id, ())]

    def _after_task_change(self, task: Record, when: datetime, actor: Optional[int]) -> None:
        """Bump the task's process and refresh its derived fields (completion writes an event)."""
        if task["run_id"] is None:
            return
        run = self._data["runs"][task["run_id"]]
        self._touch(run, when)
        if refresh_run(run, self._tasks_of(run["id"]), self.threads, when):
            self._emit(event(when, "completed", actor, "Run", run["id"], "Process", f"completed {run['name']}"))

    # ------------------------------------------------------------------ tasks
    def complete_task(self, task_id: str, by: Optional[int] = None, approved: Optional[bool] = None) -> Record:
        with self.lock:
            task, when = self._wf("tasks", task_id), self.tick()
            by = by if by is not None else (task["owners"]["users"] or [None])[0]
            task.update(status="completed", status_label=STATUS_LABELS["completed"], completer_id=by,
                        completed_at=format_ts(when, ts_style(task["created_at"])))
            if task["task_type"] == "approval":
                task["is_approved"] = True if approved is None else approved
            self._touch(task, when)
            self._emit(event(when, "completed", by, "Task", task_id, "Task", f"completed {task['title']}",
                             "Run" if task["run_id"] else None, task["run_id"]))
            self._after_task_change(task, when, by)
            return copy.deepcopy(task)

    def reopen_task(self, task_id: str, by: Optional[int] = None) -> Record:
        with self.lock:
            task, when = self._wf("tasks", task_id), self.tick()
            task.update(status="active", status_label=STATUS_LABELS["active"], completer_id=None,
                        completed_at=None, is_approved=None)
            self._touch(task, when)
            self._emit(event(when, "re-opened", by, "Task", task_id, "Task", f"re-opened {task['title']}",
                             "Run" if task["run_id"] else None, task["run_id"]))
            self._after_task_change(task, when, by)
            return copy.deepcopy(task)

    def reassign_task(self, task_id: str, users: Iterable[int] = (), guests: Iterable[str] = (),
                      groups: Iterable[str] = (), by: Optional[int] = None) -> Record:
        """Replace a task's owners (each must exist in the org)."""
        with self.lock:
            task = self._wf("tasks", task_id)
            owners = {"users": sorted(users), "guests": list(guests), "groups": list(groups)}
            for kind, resource in (("users", "members"), ("guests", "guests"), ("groups", "groups")):
                for key in owners[kind]:
                    self._require(resource, key)
            when, old = self.tick(), json.dumps(task["owners"], sort_keys=True)
            task["owners"] = owners
            self._touch(task, when)
            self._emit(event(when, "owners-updated", by, "Task", task_id, "Task", f"reassigned {task['title']}",
                             "Run" if task["run_id"] else None, task["run_id"], field="owners", old_value=old))
            self._after_task_change(task, when, by)
            return copy.deepcopy(task)

    def comment_on_task(self, task_id: str, content: Optional[str] = None, label: str = "comment",
                        by: Optional[int] = None, resolves: Optional[str] = None) -> Record:
        """A comment (`label`: comment|problem|resolve|improvement|advice). A `resolve` closes
        the problem `resolves` names, or the task's latest open one."""
        if label not in ("comment", "problem", "resolve", "improvement", "advice"):
            raise ValueError(f"unknown comment label {label!r}")
        with self.lock:
            task = self._wf("tasks", task_id)
            problem = None
            if label == "resolve":
                open_ = [c for c in self.threads.get(task_id, ()) if c["label"] == "problem" and c["state"] == "open"]
                problem = next((c for c in open_ if c["id"] == resolves), None) if resolves else (
                    open_[-1] if open_ else None)
                if problem is None:
                    raise ValueError(f"task {task_id} has no open problem to resolve")
            when = self.tick()
            wf = gw.Workflow(threads=self.threads)
            rec = gw.comment(self._rng, wf, task, by, label, when, content, problem)
            self._touch(task, when)
            for _, ev in wf.events:
                self._emit(ev)
            self._after_task_change(task, when, by)
            return copy.deepcopy(rec)

    def add_oneoff_task(self, title: Optional[str] = None, by: Optional[int] = None, **overrides: Any) -> Record:
        """A new one-off task created now (not done); fields can be overridden (e.g. `owners`)."""
        with self.lock:
            when = self.tick()
            wf = self._workflow()
            task = gw.oneoff(self._rng, wf, self._people(), when, when, title, done=False)
            if by is not None:
                task["starter_id"] = by
                wf.events[-1][1]["actor_id"] = by
            task.update(copy.deepcopy(overrides))
            self._absorb(wf)
            return copy.deepcopy(task)

    # ------------------------------------------------------------------ processes
    def launch_process(self, checklist_id: str, name: Optional[str] = None, by: Optional[int] = None) -> Record:
        """A process launched now from a template, one task per step, nothing done yet."""
        with self.lock:
            tmpl = self._wf("checklists", checklist_id)
            when = self.tick()
            wf = self._workflow()
            wf.steps = {checklist_id: self.steps.get(checklist_id, [])}
            run, tasks = gw.launch(self._rng, wf, self._people(), tmpl, when, when, "new")
            wf.steps = {}
            if name:
                run["name"] = name
            if by is not None:
                run.update(started_by=by, owner_id=by)
                for t in tasks:
                    t["starter_id"] = by
                wf.events[-1][1]["actor_id"] = by
            refresh_run(run, tasks, self.threads, when)
            self._absorb(wf)
            self._tally("runs", run["id"], +1)
            return copy.deepcopy(run)

    def _set_archived(self, kind: str, key: str, archived: bool, by: Optional[int]) -> Record:
        with self.lock:
            rec = self._wf(kind, key)
            if (rec["archived_at"] is not None) == archived:
                return copy.deepcopy(rec)
            when = self.tick()
            self._tally(kind, key, -1)
            stamp = format_ts(when, ts_style(rec["created_at"])) if archived else None
            rec["archived_at"] = stamp
            self._touch(rec, when)
            for t in self._tasks_of(key) if kind == "runs" else ():
                t["archived_at"] = stamp
                self._touch(t, when)
            self._tally(kind, key, +1)
            auditable, type_ = _AUDITABLE[kind]
            verb = "archived" if archived else "unarchived"
            self._emit(event(when, verb, by, auditable, key, type_, f"{verb} {rec.get('name') or rec.get('title')}"))
            return copy.deepcopy(rec)

    def archive_process(self, run_id: str, by: Optional[int] = None) -> Record:
        return self._set_archived("runs", run_id, True, by)

    def unarchive_process(self, run_id: str, by: Optional[int] = None) -> Record:
        return self._set_archived("runs", run_id, False, by)

    def delete_process(self, run_id: str, by: Optional[int] = None) -> None:
        """Hard delete: the process, its tasks, their comments and answers vanish (the feed keeps
        their history and gains a `deleted` event)."""
        with self.lock:
            run = self._wf("runs", run_id)
            when = self.tick()
            self._tally("runs", run_id, -1)
            for tid in self.run_tasks.pop(run_id, []):
                self._data["tasks"].pop(tid, None)
                for store in (self.threads, self.form_values):
                    store.pop(tid, None)
                self.tag_links.pop(("tasks", tid), None)
            self.tag_links.pop(("runs", run_id), None)
            del self._data["runs"][run_id]
            self._emit(event(when, "deleted", by, "Run", run_id, "Process", f"deleted {run['name']}"))

    # ------------------------------------------------------------------ templates
    def edit_template(self, checklist_id: str, by: Optional[int] = None, **changes: Any) -> Record:
        """Change template fields (default: a new summary); one `updated` event per changed field."""
        with self.lock:
            tmpl = self._wf("checklists", checklist_id)
            changes = changes or {"summary": f"Revised {self._rng.randrange(10**6)}"}
            if "id" in changes:
                raise ValueError("cannot change the key field 'id'")
            when = self.tick()
            for field, value in changes.items():
                old = tmpl.get(field)
                tmpl[field] = copy.deepcopy(value)
                self._emit(event(when, "updated", by, "Checklist", checklist_id, "Blueprint",
                                 f"edited template {tmpl['title']}", field=field,
                                 old_value=None if old is None else str(old)))
            self._touch(tmpl, when)
            return copy.deepcopy(tmpl)

    def archive_template(self, checklist_id: str, by: Optional[int] = None) -> Record:
        return self._set_archived("checklists", checklist_id, True, by)

    def unarchive_template(self, checklist_id: str, by: Optional[int] = None) -> Record:
        return self._set_archived("checklists", checklist_id, False, by)

    def delete_template(self, checklist_id: str, by: Optional[int] = None) -> None:
        """Hard delete of a template and its steps; its processes stay (naming it still)."""
        with self.lock:
            tmpl = self._wf("checklists", checklist_id)
            when = self.tick()
            self._tally("checklists", checklist_id, -1)
            self.tag_links.pop(("checklists", checklist_id), None)
            self.steps.pop(checklist_id, None)
            del self._data["checklists"][checklist_id]
            self._emit(event(when, "deleted", by, "Checklist", checklist_id, "Blueprint",
                             f"deleted template {tmpl['title']}"))

    # ------------------------------------------------------------------ tags
    def retag(self, kind: str, subject_id: str, tag_id: str, add: bool = True, by: Optional[int] = None) -> Record:
        """Link (or unlink) a tag to a template, process or task; returns the association row."""
        kind = _KINDS[kind]
        with self.lock:
            rec = self._wf(kind, subject_id)
            self._require("tags", tag_id)
            rows = self.tag_links.setdefault((kind, subject_id), [])
            row = next((r for r in rows if r["tag_id"] == tag_id), None)
            if (row is not None) == add:
                raise ValueError(f"tag {tag_id} is {'already' if add else 'not'} on {kind} {subject_id}")
            when = self.tick()
            if add:
                row = {"id": _hex32(self._rng), "tag_id": tag_id}
                rows.append(row)
                self._tally(kind, subject_id, +1, only=tag_id)
            else:
                self._tally(kind, subject_id, -1, only=tag_id)
                rows.remove(row)
            if not rows:
                del self.tag_links[(kind, subject_id)]
            self._touch(rec, when)
            auditable, _ = _AUDITABLE[kind]
            parent = ("Run", rec["run_id"]) if kind == "tasks" and rec["run_id"] else (None, None)
            self._emit(event(when, "updated", by, auditable, subject_id, "Tag",
                             f"{'added' if add else 'removed'} tag {self._data['tags'][tag_id]['title']}",
                             *parent, field="tags", old_value=None if add else tag_id))
            return dict(row)

    # ------------------------------------------------------------------ switches, directory deletes
    def drop_next_events(self, n: int = 1) -> None:
        """The next `n` changes write no feed event (missed events)."""
        with self.lock:
            self._drop_events += n

    def hold_next_events(self, n: int = 1) -> None:
        """The next `n` events get their ids (in order) but the feed shows them only after
        `release_held_events()`: events that show up late, behind newer ones."""
        with self.lock:
            self._hold_events += n

    def release_held_events(self) -> List[int]:
        """The held events show up now (the clock does not move); returns their ids."""
        with self.lock:
            released, self._held_events = self._held_events, []
            for ev in released:
                self._data["activity"][ev["id"]] = ev
            self.mutations += 1  # what the server has sorted is stale
            return [ev["id"] for ev in released]

    def _forget(self, kind: str, key: Any) -> None:
        """A deleted member (`users`), guest or group leaves every task's owners (no bump)."""
        for t in self._data["tasks"].values():
            if key in t["owners"][kind]:
                t["owners"][kind] = [x for x in t["owners"][kind] if x != key]

    def _untag(self, tag_id: str) -> None:
        """A deleted tag leaves every link (no bump)."""
        for key in list(self.tag_links):
            self.tag_links[key] = [r for r in self.tag_links[key] if r["tag_id"] != tag_id]
            if not self.tag_links[key]:
                del self.tag_links[key]
