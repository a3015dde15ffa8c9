"""The task mutations of a synthetic org, for tests: complete, reopen, reassign, comment on
(problems and their resolution too) and add one-off tasks. Each advances the clock, bumps the
task and its process, refreshes the process's derived fields and writes its feed event(s).

A mixin of `SyntheticOrg` on top of `WorkflowState` (`workflow_state.py`); processes, templates
and tag links change in `workflow_changes.py`.
"""

import copy
import json
from typing import Any, Dict, Iterable, Optional

from .generate_processes import comment
from .generate_workflow import oneoff
from .lifecycle import STATUS_LABELS, event
from .timestamps import format_ts, ts_style
from .workflow_draws import Workflow
from .workflow_state import WorkflowState

Record = Dict[str, Any]


class TaskChanges(WorkflowState):
    """Task mutations (mixed into `SyntheticOrg`)."""

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
            wf = Workflow(threads=self.threads)
            rec = comment(self._rng, wf, task, by, label, when, content, problem)
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
            task = oneoff(self._rng, wf, self._people(), when, when, title, done=False)
            if by is not None:
                task["starter_id"] = by
                wf.events[-1][1]["actor_id"] = by
            task.update(copy.deepcopy(overrides))
            self._absorb(wf)
            return copy.deepcopy(task)
