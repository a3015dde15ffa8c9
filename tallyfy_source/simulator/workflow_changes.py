"""Workflow mutations of a synthetic org, for tests: each advances the clock, bumps the update
time of what it changes (and of the process a changed task belongs to), keeps the processes'
derived fields and the tags' statistics right, and writes its activity-feed event(s).

This module: processes (launch, archive, delete), templates (edit, archive, delete) and tag links
(`retag`). `WorkflowChanges` is the whole workflow mixin of `SyntheticOrg`: the task mutations
come from `task_changes.py`, the state, feed and bookkeeping they share from `workflow_state.py`.

Quirks kept on purpose, as a server's computed columns would behave: a task's `run_status`
follows its process without bumping the task; a deleted member, guest or group leaves task
owners without a bump or an event; a deleted tag leaves its links the same way.
"""

import copy
from typing import Any, Dict, Optional

from .draws import hex32
from .generate_processes import launch
from .lifecycle import event, refresh_run
from .task_changes import TaskChanges
from .timestamps import format_ts, ts_style

Record = Dict[str, Any]
#: what callers may call a tagged kind
_KINDS = {"checklists": "checklists", "checklist": "checklists", "template": "checklists",
          "runs": "runs", "run": "runs", "process": "runs", "tasks": "tasks", "task": "tasks"}
_AUDITABLE = {"checklists": ("Checklist", "Blueprint"), "runs": ("Run", "Process"), "tasks": ("Task", "Task")}


class WorkflowChanges(TaskChanges):
    """Workflow mutations (mixed into `SyntheticOrg`): tasks (`TaskChanges`), processes,
    templates and tag links."""

    # ------------------------------------------------------------------ processes
    def launch_process(self, checklist_id: str, name: Optional[str] = None, by: Optional[int] = None) -> Record:
        """A process launched now from a template, one task per step, nothing done yet."""
        with self.lock:
            tmpl = self._wf("checklists", checklist_id)
            when = self.tick()
            wf = self._workflow()
            wf.steps = {checklist_id: self.steps.get(checklist_id, [])}
            run, tasks = launch(self._rng, wf, self._people(), tmpl, when, when, "new")
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
                row = {"id": hex32(self._rng), "tag_id": tag_id}
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
