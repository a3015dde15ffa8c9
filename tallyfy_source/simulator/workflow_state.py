"""The workflow's state on a synthetic org, and the bookkeeping every workflow mutation shares:
its side data (steps, tag links, comments, form answers, each process's tasks), storing what
generation made, writing feed events (and dropping or holding them on request), keeping tag
statistics and a process's derived fields right, and what a directory delete leaves behind.

The base of the workflow mixins of `SyntheticOrg` (it uses the org's lock, clock, records and
`_bump` from `org_store.py`); the mutations themselves are `task_changes.py` and
`workflow_changes.py`.
"""

from datetime import datetime
from typing import Any, Dict, List, Optional

from .generate_workflow import build
from .lifecycle import event, refresh_run, tag_statistics
from .workflow_draws import People, Workflow

Record = Dict[str, Any]


class WorkflowState:
    """Workflow state, feed and shared helpers (mixed into `SyntheticOrg`)."""

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
    def _people(self) -> "People":
        data = self._data
        active = [m["id"] for m in data["members"].values() if m["status"] == "active"]
        return People(active or list(data["members"]),
                         [e for e, g in data["guests"].items() if g["details"]["status"] != "disabled"],
                         list(data["groups"]), [t for t, r in data["tags"].items() if not r["auto_generated"]])

    def _workflow(self) -> "Workflow":
        return Workflow(next_run=self._wf_next["run"], next_task=self._wf_next["task"])

    def _absorb(self, wf: "Workflow") -> None:
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
        self._absorb(build(rng, self._people(), templates, processes, oneoff_tasks))
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

    # ------------------------------------------------------------------ feed switches, directory deletes
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
