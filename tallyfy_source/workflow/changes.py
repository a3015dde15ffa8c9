"""Keeping templates, processes and tasks (+ comments) current between sweeps (issue 12).

Per org, each workflow resource keeps in its resource state (committed only with a load):
`last_sweep` (when its last complete full read ran) and `feed` = {"id": newest activity-feed
event id loaded, "day": that event's day}.

- A run where a sweep is due (`sweep_interval_hours`, default 24; 0 = every run; `sweep=True`
  or `full_refresh` force it) does the full read of `workflow.py` (both `archived` walks, missing
  keys confirmed one by one). Before it, it learns the newest feed event id (one request: the
  feed's first page, newest first) and stores that as the feed cursor, so events written while
  the sweep reads are read again by the next run.
- Otherwise the run reads the activity feed from the cursor's day (`created_after`, a day,
  inclusive), newest first, and stops paging at the first event at or below the stored id. The
  feed is read ONCE per org per run and shared by the three resources (`WorkflowFeed`, one per
  source instance, guarded by a lock: the resources run in parallel threads). Each event names
  what changed (auditable and parentable type/id): Run/Process -> that process; Task -> the task
  and its process when the event names it, else the process the loaded task belongs to;
  Thread/Comment -> its task (then as a task); Checklist/Blueprint (Step: its parent) -> that
  template. A task no event and no loaded row places is read once during the feed read
  (`tasks/{id}`): its `run_id` makes its process changed; with none it is a one-off task, and
  that answer is the one the tasks resource uses. Then:
  - each changed process: ONE `GET runs/{id}?with=tasks,tags,tasks.threads,tasks.tags,
    tasks.form_fields&form_fields_values=true`, shared by the processes and tasks resources ->
    the process, all its tasks and their comments; loaded tasks of that process no longer in it
    and loaded comments of its tasks no longer listed are deleted (or flagged); a 404 naming the
    record deletes the process, its tasks and their comments.
  - each changed template: `GET checklists/{id}?with=steps,tags`; 404 -> deleted.
  - each changed one-off task: `GET tasks/{id}?with=tags,threads,form_fields` (read once, see
    above) -> the task with its comments; 404 -> deleted with its comments.
  Rows are shaped by the same functions as the full read (`template_row`, `process_row`,
  `task_row`), so the tables are the same either way.
- What the feed misses (a dropped event; a deleted member/guest/group/tag, which changes task
  owners and tag links without an event) heals at the next sweep.
"""

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Set, Tuple

import dlt
from dlt.sources.helpers.rest_client import RESTClient

from tallyfy_source.api.endpoints import COMMENTS, PROCESSES, TASKS, TEMPLATES, Endpoint
from tallyfy_source.api.single import get_one, side_by_side
from tallyfy_source.read.deletes import loaded_where, removal_rows
from tallyfy_source.read.endpoint_read import ReadOptions, ReadReport
from tallyfy_source.read.unserved import keep_unserved_fields
from tallyfy_source.shape.rows import as_list, shape_row
from tallyfy_source.workflow.comments import CommentsSeen, comment_removals, comments_hints
from tallyfy_source.workflow.events import as_values, record_kind
from tallyfy_source.workflow.feed import day_before, event_id, feed_pages, newest_event, utc_day
from tallyfy_source.workflow.kinds import PROCESS, TEMPLATE, Kind
from tallyfy_source.workflow.rows import process_row, template_row

logger = logging.getLogger("tallyfy_source")

Row = Dict[str, Any]
PROCESS_WITH = {"with": "tasks,tags,tasks.threads,tasks.tags,tasks.form_fields", "form_fields_values": "true"}
_PROCESS_TYPES = {"run", "process"}
_TASK_TYPES = {"task"}
_TEMPLATE_TYPES = {"checklist", "blueprint"}
_CONSUMERS = ("processes", "tasks")  # the resources that use a changed process's answer


@dataclass
class Changes:
    """What the feed says changed since a cursor, and where the cursor may move."""

    templates: Set[str] = field(default_factory=set)
    processes: Set[str] = field(default_factory=set)
    oneoff_tasks: Set[str] = field(default_factory=set)  # tasks with no process
    task_answers: Dict[str, Optional[Row]] = field(default_factory=dict)  # tasks already read (None: 404)
    newest_id: int = 0
    newest_day: Optional[str] = None
    requests: int = 0
    events: int = 0


# ------------------------------------------------------------------ the shared feed
class WorkflowFeed:
    """One source instance's feed reads and changed-process answers, shared by the workflow
    resources (parallel threads) under one lock."""

    def __init__(self, clients: Mapping[str, RESTClient], options: ReadOptions):
        self.clients = clients  # each org's client (its token's session and budget)
        self.options = options
        self.lock = threading.RLock()
        self._changes: Dict[Tuple[str, int, str], Changes] = {}
        self._newest: Dict[str, Tuple[int, str]] = {}
        self._answers: Dict[Tuple[str, str], "_Pending"] = {}
        self._consumers: Optional[Set[str]] = None
        self._failed: Dict[str, BaseException] = {}  # org -> why its feed could not be read
        self._failed_processes: Dict[Tuple[str, str], BaseException] = {}  # asked once per run

    # ---------------------------------------------------------------- the feed
    def newest(self, org_id: str, report: ReadReport) -> Tuple[int, str]:
        """(newest event id, its day) right now: one request, the feed's first page."""
        with self.lock:
            hit = self._newest.get(org_id)
            if hit is not None:
                return hit
            if org_id in self._failed:  # one failed feed request per org and run is enough
                raise self._failed[org_id]
            try:
                newest, day, requests = newest_event(self.clients[org_id], org_id, self.options.per_page)
            except Exception as error:
                self._failed[org_id] = error
                raise
            report.requests += requests
            self._newest[org_id] = (newest, day)
            return newest, day

    def changes(self, org_id: str, after_id: int, after_day: str, report: ReadReport) -> Changes:
        """The changes the feed shows after event `after_id` (read from `after_day`)."""
        with self.lock:
            key = (org_id, after_id, after_day)
            hit = self._changes.get(key)
            if hit is not None:
                return hit
            if org_id in self._failed:
                raise self._failed[org_id]
            try:
                changes = self._read(org_id, after_id, after_day)
            except Exception as error:
                self._failed[org_id] = error
                raise
            report.requests += changes.requests
            self._changes[key] = changes
            self._newest.setdefault(org_id, (changes.newest_id, changes.newest_day or after_day))
            return changes

    def _read(self, org_id: str, after_id: int, after_day: str) -> Changes:
        changes = Changes(newest_id=after_id, newest_day=after_day)
        tasks: Dict[str, Optional[str]] = {}  # task id -> its process when an event names it
        for page in feed_pages(self.clients[org_id], org_id, day_before(after_day), self.options.per_page, after_id):
            changes.requests += 1
            for event in page:
                event_id_ = event_id(event)
                if event_id_ is None or event_id_ <= after_id:
                    continue
                changes.events += 1
                if event_id_ > changes.newest_id:
                    changes.newest_id = event_id_
                    changes.newest_day = utc_day(event.get("created_at")) or after_day
                _note(event, changes, tasks)
        # tasks the events did not place in a process: the process the loaded task belongs to,
        # else the task read now (a process task never loaded brings in its process; the read
        # is the one the tasks resource would make, so it costs nothing extra)
        unplaced = [t for t, run in tasks.items() if not run]
        known = {str(r["id"]): r.get("run_id") for r in loaded_where("tasks", org_id, "id", unplaced, "delete")}
        for task_id, run in tasks.items():
            run = run or known.get(task_id)
            if not run:
                asked = ReadReport(TASKS.resource, org_id)
                answer = get_one(self.clients[org_id], TASKS, org_id, task_id, TASKS.params, asked)
                changes.requests += asked.requests
                run = answer.get("run_id") if answer is not None else None
                if not run:
                    changes.task_answers[task_id] = answer
            if run:
                changes.processes.add(str(run))
            else:
                changes.oneoff_tasks.add(task_id)
        return changes

    # ---------------------------------------------------------------- changed processes
    def consumers(self) -> Set[str]:
        if self._consumers is None:
            try:
                selected = set(dlt.current.source().selected_resources)
                self._consumers = {c for c in _CONSUMERS if c in selected} or set(_CONSUMERS)
            except Exception:
                self._consumers = set(_CONSUMERS)
        return self._consumers

    def process(self, org_id: str, process_id: str, consumer: str, report: ReadReport) -> Optional[Row]:
        """The changed process with its tasks (None: deleted upstream); fetched once (by the first
        consumer to ask, the others wait for that answer), kept until every selected consumer
        took it. Fetches of different processes run side by side (`single.side_by_side`)."""
        key = (org_id, process_id)
        with self.lock:
            if key in self._failed_processes:  # asked already: the other consumer fails too
                raise self._failed_processes[key]
            pending = self._answers.get(key)
            fetch_here = pending is None
            if fetch_here:
                pending = self._answers[key] = _Pending(set(self.consumers()))
        if fetch_here:
            try:
                pending.answer = get_one(self.clients[org_id], PROCESSES, org_id, process_id, PROCESS_WITH, report)
            except Exception as error:
                pending.error = error
                with self.lock:
                    self._failed_processes[key] = error
                    self._answers.pop(key, None)
                raise
            finally:
                pending.done.set()
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        with self.lock:
            pending.left.discard(consumer)
            if not pending.left:
                self._answers.pop(key, None)
        return pending.answer


@dataclass
class _Pending:
    """One changed process's answer: being fetched until `done`, then kept for `left` consumers."""

    left: Set[str]
    answer: Optional[Row] = None
    error: Optional[BaseException] = None
    done: threading.Event = field(default_factory=threading.Event)


def _note(event: Row, changes: Changes, tasks: Dict[str, Optional[str]]) -> None:
    """Record what one event names: its auditable record and its parent, each a type (a class
    name like `App\\Models\\Run` or a bare word, scalar or list: `events.record_kind`) and an id."""
    pairs = [(record_kind(event.get(f"{side}_type")), _first(event.get(f"{side}_id")))
             for side in ("auditable", "parentable")]
    run = next((str(i) for t, i in pairs if t in _PROCESS_TYPES and i is not None), None)
    for kind, ident in pairs:
        if ident is None:
            continue
        ident = str(ident)
        if kind in _PROCESS_TYPES:
            changes.processes.add(ident)
        elif kind in _TEMPLATE_TYPES:
            changes.templates.add(ident)
        elif kind in _TASK_TYPES:
            tasks[ident] = tasks.get(ident) or run


def _first(value: Any) -> Any:
    values = [v for v in as_values(value) if v is not None]
    return values[0] if values else None


# ------------------------------------------------------------------ one resource, one org
def refetched(keys: Set[str], fetch: Callable[[str], Optional[Row]], shape: Callable[[Row], Row], endpoint: Endpoint,
              org_id: str, report: ReadReport, mode: str, now: datetime, workers: int = 1) -> Iterator[Any]:
    """Each changed record asked for by itself (`workers` side by side): its shaped rows in
    batches of 100 (fields the single read does not serve keep their loaded values:
    `unserved.py`), then the rows that remove (or flag) those answering with a 404 that names
    them (`fetch` gives None)."""
    found, gone = [], []
    for key, raw in side_by_side(fetch, sorted(keys), workers):
        if raw is None:
            gone.append(key)
            continue
        found.append(shape(raw))
        if len(found) >= 100:
            report.rows_read += len(found)
            yield keep_unserved_fields(endpoint, org_id, found, mode)
            found = []
    report.rows_read += len(found)
    if found:
        yield keep_unserved_fields(endpoint, org_id, found, mode)
    removed = removal_rows(endpoint, org_id, loaded_where(endpoint.resource, org_id, "id", gone, mode), mode, now)
    report.missing += len(removed)
    if removed:
        yield removed


def incremental_rows(feed: WorkflowFeed, kind: Kind, org_id: str, changes: Changes, now: datetime,
                     report: ReadReport, labels: Optional[Callable[[Any], Dict[str, str]]] = None) -> Iterator[Any]:
    """The rows (and removal rows) that bring one kind of one org up to the changes (`labels`:
    the processes' kick-off labels, `kickoff.KickoffLabels`)."""
    client, mode, workers = feed.clients[org_id], feed.options.deleted_records, feed.options.concurrency
    endpoint = kind.endpoint
    if kind is TEMPLATE:
        yield from refetched(changes.templates, lambda key: get_one(client, TEMPLATES, org_id, key, TEMPLATES.params, report),
                             lambda raw: template_row(shape_row(raw, org_id, False)), TEMPLATES, org_id, report, mode, now,
                             workers)
    elif kind is PROCESS:
        yield from refetched(changes.processes, lambda key: feed.process(org_id, key, endpoint.resource, report),
                             lambda raw: process_row(shape_row({k: v for k, v in raw.items() if k != "tasks"}, org_id, False),
                                                     labels),
                             PROCESSES, org_id, report, mode, now, workers)
    else:
        yield from _changed_tasks(feed, org_id, changes, now, report)


def _changed_tasks(feed: WorkflowFeed, org_id: str, changes: Changes, now: datetime, report: ReadReport) -> Iterator[Any]:
    """Tasks (+ comments) of the changed processes (from the process's answer, shared with the
    processes resource) and the changed one-off tasks; then what goes: tasks of a read process no
    longer in it, tasks of deleted processes, deleted tasks, and their comments (`comments.py`)."""
    client, mode, workers = feed.clients[org_id], feed.options.deleted_records, feed.options.concurrency
    seen = CommentsSeen()
    read_processes: Dict[str, Set[str]] = {}  # process id -> its task ids as served
    for key, raw in side_by_side(lambda key: feed.process(org_id, key, TASKS.resource, report),
                                 sorted(changes.processes), workers):
        if raw is None:
            seen.gone_processes.add(key)
            continue
        served = [shape_row(dict(t), org_id, False) for t in as_list(raw.get("tasks")) if isinstance(t, dict)]
        tasks, comments = seen.shape_tasks(served)
        read_processes[key] = {str(t["id"]) for t in tasks}
        report.rows_read += len(tasks)
        if tasks:
            yield keep_unserved_fields(TASKS, org_id, tasks, mode)
        if comments:
            yield comments_hints(comments)
    seen.read_processes = set(read_processes)
    gone_tasks: List[str] = []
    for key, raw in side_by_side(lambda key: changes.task_answers[key] if key in changes.task_answers else get_one(
            client, TASKS, org_id, key, TASKS.params, report), sorted(changes.oneoff_tasks), workers):
        if raw is None:
            gone_tasks.append(key)
            continue
        tasks, comments = seen.shape_tasks([shape_row(raw, org_id, False)])
        report.rows_read += len(tasks)
        yield keep_unserved_fields(TASKS, org_id, tasks, mode)
        if comments:
            yield comments_hints(comments)
    runs = list(read_processes) + sorted(seen.gone_processes)
    loaded_tasks = loaded_where(TASKS.resource, org_id, "run_id", runs, mode)
    drop = [t for t in loaded_tasks if str(t.get("run_id")) in seen.gone_processes
            or str(t["id"]) not in read_processes.get(str(t.get("run_id")), {str(t["id"])})]
    drop += loaded_where(TASKS.resource, org_id, "id", gone_tasks, mode)
    removed = removal_rows(TASKS, org_id, drop, mode, now)
    report.missing += len(removed)
    if removed:
        yield removed
    seen.gone_tasks = {str(t["id"]) for t in drop}
    comments_loaded = loaded_where(COMMENTS.resource, org_id, "process_id", runs, mode) + loaded_where(
        COMMENTS.resource, org_id, "task_id", sorted(seen.read_tasks | seen.gone_tasks), mode)
    yield from comment_removals(org_id, comments_loaded, seen, mode, now)
