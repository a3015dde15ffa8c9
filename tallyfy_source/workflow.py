"""Workflow data (issue 12): templates, processes, tasks with their comments, and the activity
feed.

How a sweep reads them (between sweeps, `workflow_incremental.py` follows the activity feed):
- templates (`checklists?with=steps,tags`), processes (`runs?with=tags`) and tasks
  (`tasks?with=tags,threads,form_fields`) are read in full, each list TWICE: once without
  `archived` and once with `archived=only`. We never send a truthy `archived`, whose meaning is
  ambiguous ("archived too" or "archived only"), so the union is every record under either
  reading. A record seen by both walks (archived between them) is kept once (the first copy).
- After both walks of an org finished complete, loaded keys neither saw are suspects, confirmed
  one by one with the single-record GET exactly as the directory's sweep does
  (`reading.EndpointRead.check_missing`): 404 deletes (or flags), 200 reloads.
- Comments arrive in the tasks walk (`with=threads`): a task that was read lists all its
  comments, so a loaded comment of a read task that its list no longer holds is deleted, and
  the comments of a task confirmed deleted go with it. The `tasks` dlt resource fills both the
  `tasks` tables and `comments`.
- activity (`activity-feeds`): from a start date (setting `activity_start_date`, default 90 days
  before the first run, kept per org in the resource state), merged on (org_id, id); between
  sweeps only the new events (newest first, down to the newest id loaded), on a sweep every
  event from the day before the previous sweep's newest one (`activity_rows`).
- kick-off answer labels come from the template's single read (`kickoff.py`).
"""

import json
import logging
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from itertools import chain
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import dlt
from dlt.sources.helpers.rest_client import RESTClient

from .client import describe_failure
from .columns import COLUMNS, PARENT_KEYS, WORKFLOW_CHILD_COLUMNS
from .deletes import last_loaded, loaded_rows, removal_rows
from .endpoints import ACTIVITY, COMMENTS, COMMENTS_TABLE, TASKS, TEMPLATES, Endpoint
from .errors import ConfigError, stops_every_org
from .events import event_row
from .feed import day_before, event_id, feed_pages, utc_day
from .kickoff import KickoffLabels
from .reading import Cursor, EndpointRead, ReadOptions, ReadReport
from .rows import parse_timestamp, shape_row, unify_update_time

logger = logging.getLogger("tallyfy_source")

Row = Dict[str, Any]
ACTIVITY_DEFAULT_DAYS = 90
ARCHIVED_ONLY = {"archived": "only"}
SCALARS = (str, int, float, bool)


# ------------------------------------------------------------------ shaping
def _unwrap(value: Any) -> Any:
    """An include comes as `{"data": x}` or as `x`."""
    if isinstance(value, dict) and set(value) == {"data"}:
        return value["data"]
    return value


def _as_list(value: Any) -> List[Any]:
    value = _unwrap(value)
    return list(value) if isinstance(value, list) else []


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _times(row: Row, table_columns: Dict[str, Any]) -> Row:
    for name, column in table_columns.items():
        if column.get("data_type") == "timestamp" and name in row:
            row[name] = parse_timestamp(row[name])
    return row


def value_columns(value: Any) -> Row:
    """An answer as `value_text` (scalars; the `text` of a choice; choices' texts joined) and
    `value_json` (the raw value, for non-scalars)."""
    if value is None:
        return {"value_text": None, "value_json": None}
    if isinstance(value, bool):
        return {"value_text": "true" if value else "false", "value_json": None}
    if isinstance(value, SCALARS):
        return {"value_text": str(value), "value_json": None}
    text: Optional[str] = None
    if isinstance(value, dict) and isinstance(value.get("text"), SCALARS):
        text = str(value["text"])
    elif isinstance(value, list):
        parts = [str(v.get("text") if v.get("text") is not None else v.get("name")) if isinstance(v, dict) else str(v)
                 for v in value if not isinstance(v, dict) or v.get("text") is not None or v.get("name") is not None]
        text = ", ".join(parts) or None
    return {"value_text": text, "value_json": to_json(value)}


def tag_links(value: Any) -> List[Row]:
    """`tag_id` of each tag item: association rows carry `tag_id`, plain tags only `id`."""
    out = []
    for item in _as_list(value):
        if isinstance(item, dict):
            tag = item.get("tag_id") if item.get("tag_id") is not None else item.get("id")
        else:
            tag = item
        if tag is not None:
            out.append({"tag_id": str(tag)})
    return out


def step_row(step: Row) -> Row:
    """A template step: scalars as they are, a dict of scalars flattened (`deadline__value`),
    anything deeper (owners, captures) as JSON text in `<field>_json`."""
    out: Row = {}
    for key, value in unify_update_time(dict(step)).items():
        value = _unwrap(value)
        if isinstance(value, dict) and all(v is None or isinstance(v, SCALARS) for v in value.values()):
            for sub, inner in value.items():
                out[f"{key}__{sub}"] = inner
        elif isinstance(value, (dict, list)):
            out[f"{key}_json"] = to_json(value)
        else:
            out[key] = value
    return _times(out, WORKFLOW_CHILD_COLUMNS["templates"]["steps"])


def with_parent(row: Row, table: str) -> Row:
    """Every child row of `row` carries `org_id` and its parent's id (`columns.PARENT_KEYS`)."""
    key = PARENT_KEYS[table]
    for child in WORKFLOW_CHILD_COLUMNS[table]:
        for item in row.get(child) or ():
            item["org_id"], item[key] = row.get("org_id"), None if row.get("id") is None else str(row["id"])
    return row


def archived_flag(row: Row, archived: Optional[bool] = None) -> Row:
    """`is_archived`: known from the walk that found the record (`archived=only`: True; the walk
    without `archived`: False), else (a single read) from `archived_at`, which list answers may
    leave out (the templates list does)."""
    row["is_archived"] = bool(row.get("archived_at")) if archived is None else (archived or bool(row.get("archived_at")))
    return row


def template_row(row: Row, archived: Optional[bool] = None) -> Row:
    unify_update_time(row)
    archived_flag(row, archived)
    for item_only in TEMPLATES.item_only:
        row.pop(item_only, None)
    row["steps"] = [step_row(s) for s in _as_list(row.pop("steps", None)) if isinstance(s, dict)]
    row["tags"] = tag_links(row.pop("tags", None))
    return _times(with_parent(row, "templates"), COLUMNS["templates"])


def kickoff_answers(prerun: Any, labels: Optional[Callable[[], Dict[str, str]]] = None) -> List[Row]:
    """Kick-off answers keyed by field (timeline) id, as rows; the labels are the template's
    (`kickoff.KickoffLabels`), asked for only when there is an answer."""
    if isinstance(prerun, dict):
        pairs = list(prerun.items())
    else:
        pairs = [(p.get("field_id", p.get("id")), p.get("value")) for p in _as_list(prerun) if isinstance(p, dict)]
    names = labels() if labels is not None and pairs else {}
    return [{"field_id": None if k is None else str(k), "label": None if k is None else names.get(str(k)),
             **value_columns(v)} for k, v in pairs]


def process_row(row: Row, labels: Optional[Callable[[Any], Dict[str, str]]] = None,
                archived: Optional[bool] = None) -> Row:
    """A process's row; `labels(template_id)` gives its template's kick-off field labels."""
    unify_update_time(row)
    archived_flag(row, archived)
    row["template_id"] = row.get("checklist_id")  # checklist_id is kept too
    template = row["template_id"]
    row["kickoff_answers"] = kickoff_answers(_unwrap(row.pop("prerun", None)),
                                             None if labels is None else lambda: labels(template))
    row["tags"] = tag_links(row.pop("tags", None))
    return _times(with_parent(row, "processes"), COLUMNS["processes"])


def _owner(who: Any, key: str) -> Any:
    """One owner as its id: the org-wide task list serves members as objects `{id, full_name}`,
    get-task and the SDK as bare ids; guests may come as `{email, ...}`, groups as `{id, ...}`."""
    if isinstance(who, dict):
        who = who.get(key) if who.get(key) is not None else who.get("id")
    return who


def _member_id(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def assignees(owners: Any) -> List[Row]:
    owners = _unwrap(owners)
    owners = owners if isinstance(owners, dict) else {}
    out: List[Row] = []
    for kind, field, source, key in (("member", "member_id", "users", "id"), ("guest", "guest_email", "guests", "email"),
                                     ("group", "group_id", "groups", "id")):
        for who in _as_list(owners.get(source)):
            value = _owner(who, key)
            if value is None:
                continue
            value = _member_id(value) if kind == "member" else str(value)
            out.append({"kind": kind, "member_id": None, "guest_email": None, "group_id": None, field: value})
    return out


def form_field_rows(value: Any) -> List[Row]:
    return [{"field_id": None if f.get("id") is None else str(f.get("id")), "label": f.get("label"),
             "field_type": f.get("field_type"), **value_columns(f.get("value"))}
            for f in _as_list(value) if isinstance(f, dict)]


def comment_row(comment: Row, task: Row, org_id: str) -> Row:
    row = unify_update_time(dict(comment))
    row["task_id"] = row.get("task_id") or task.get("id")
    row["process_id"] = task.get("run_id")
    row["org_id"] = org_id
    return _times(row, COLUMNS[COMMENTS_TABLE])


def task_row(row: Row, archived: Optional[bool] = None) -> Tuple[Row, List[Row]]:
    """A task's row (with its child lists) and its comments' rows."""
    unify_update_time(row)
    archived_flag(row, archived)
    for item_only in TASKS.item_only:
        row.pop(item_only, None)
    row["assignees"] = assignees(row.pop("owners", None))
    row["tags"] = tag_links(row.pop("tags", None))
    row["form_fields"] = form_field_rows(row.pop("form_fields", None))
    with_parent(row, "tasks")
    threads = [c for c in _as_list(row.pop("threads", None)) if isinstance(c, dict)]
    _times(row, COLUMNS["tasks"])
    return row, [comment_row(c, row, row["org_id"]) for c in threads]


# ------------------------------------------------------------------ reading
def comments_hints(rows: List[Row]) -> Any:
    """Comment rows go to their own merged table from inside the tasks resource."""
    from .source import DELETE_COLUMNS  # the deletion markers every merged table declares

    return dlt.mark.with_hints(rows, dlt.mark.make_hints(
        table_name=COMMENTS_TABLE, primary_key=["org_id", "id"],
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns={**COLUMNS[COMMENTS_TABLE], **DELETE_COLUMNS}, nested_hints={}), create_table_variant=True)


class WorkflowRead:
    """One org's read of one workflow list: both `archived` walks, their union, the sweep."""

    def __init__(self, client: RESTClient, endpoint: Endpoint, org_id: str, options: ReadOptions):
        self.endpoint = endpoint
        self.org_id = org_id
        self.options = options
        self.labels: Optional[Callable[[Any], Dict[str, str]]] = None  # processes: a template's kick-off labels
        archived = replace(endpoint, params={**endpoint.params, **ARCHIVED_ONLY})
        self.walks = [EndpointRead(client, endpoint, org_id, options, Cursor(), True),
                      EndpointRead(client, archived, org_id, options, Cursor(), True)]
        self.read_tasks: Set[str] = set()  # tasks whose full comment list was read
        self.seen_comments: Set[str] = set()
        self.gone_tasks: List[str] = []
        self.suspects: Dict[str, str] = {}  # keys the token may not confirm (see source.confirm_missing)

    @property
    def reports(self) -> List[ReadReport]:
        return [w.report for w in self.walks]

    def shape(self, rows: List[Row], archived: Optional[bool] = None) -> Iterator[Any]:
        """Shaped rows of one page (tasks: then the comments of those tasks); `archived`: what
        the walk that found them says (None: a single read)."""
        if self.endpoint.resource == "processes":
            yield [process_row(r, self.labels, archived) for r in rows]
            return
        if self.endpoint.resource != "tasks":
            yield [template_row(r, archived) for r in rows]
            return
        tasks, comments = [], []
        for raw in rows:
            task, its_comments = task_row(raw, archived)
            tasks.append(task)
            self.read_tasks.add(str(task["id"]))
            self.seen_comments.update(str(c["id"]) for c in its_comments)
            comments.extend(its_comments)
        yield tasks
        if comments:
            yield comments_hints(comments)

    def rows(self, now: datetime) -> Iterator[Any]:
        first, second = self.walks
        for rows in first.rows():
            yield from self.shape(rows, archived=False)
        for rows in second.rows():
            fresh = [r for r in rows if str(r.get("id")) not in first.seen]  # seen by both: keep one
            if fresh:
                yield from self.shape(fresh, archived=True)
        second.report.mode = "full, archived=only"
        if first.may_sweep and second.may_sweep:
            yield from self.sweep(now)
        if self.endpoint.resource == "tasks":
            yield from self.comment_removals(now)

    def sweep(self, now: datetime) -> Iterator[Any]:
        """Keys neither walk saw, confirmed one by one (source.confirm_missing)."""
        from .source import confirm_missing

        first, second = self.walks
        found, removals = confirm_missing(first, now, seen=chain(first.seen, second.seen), suspects=self.suspects)
        if found:
            yield from self.shape(found)
        if removals:
            yield removals
        self.gone_tasks = [str(r["id"]) for r in removals]

    def comment_removals(self, now: datetime) -> Iterator[Any]:
        """Loaded comments of a read task that its list no longer holds, and comments of tasks
        confirmed deleted."""
        mode = self.options.deleted_records
        gone_tasks = set(self.gone_tasks)

        def goes(c: Row) -> bool:
            task = str(c.get("task_id"))
            return task in gone_tasks or (task in self.read_tasks and str(c["id"]) not in self.seen_comments)

        # (id, task_id) of the org's loaded comments, streamed; only those that go are kept
        gone = loaded_rows(COMMENTS, self.org_id, mode, ["id", "task_id"], goes)
        if gone:
            yield comments_hints(removal_rows(COMMENTS, self.org_id, last_loaded(COMMENTS, self.org_id, gone, mode),
                                              mode, now))


def kickoff_labels(client: RESTClient, endpoint: Endpoint, org_id: str, kept: Row, report: ReadReport,
                   reread_all: bool = False, changed: Sequence[str] = ()) -> Optional[KickoffLabels]:
    """The processes resource's template labels for one org (None for the other resources)."""
    if endpoint.resource != "processes":
        return None
    return KickoffLabels(client, org_id, kept.get("labels"), report, reread_all=reread_all, changed=changed)


def workflow_rows(client: RESTClient, endpoint: Endpoint, org_ids: Sequence[str], options: ReadOptions,
                  reports: Optional[List[ReadReport]] = None, feed: Any = None) -> Iterator[Any]:
    """Every org's read of one workflow list: the full read when a sweep is due, else the
    changes the activity feed names (see `workflow_incremental.py`)."""
    from .source import READ_FAILURES, sweep_is_due
    from .workflow_incremental import WorkflowFeed, incremental_rows

    feed = feed or WorkflowFeed(client, options)
    state = dlt.current.resource_state().setdefault("orgs", {})
    for org_id in org_ids:
        now = datetime.now(timezone.utc)
        kept = dict(state.get(org_id) or {})
        cursor = kept.get("feed")
        full = (options.full_refresh or options.sweep or not cursor
                or sweep_is_due(kept.get("last_sweep"), options.sweep_interval_hours, now))
        if not full:
            report = ReadReport(endpoint.resource, org_id, mode="incremental (activity feed)")
            if reports is not None:
                reports.append(report)
            try:
                changes = feed.changes(org_id, int(cursor["id"]), cursor["day"], report)
                labels = kickoff_labels(client, endpoint, org_id, kept, report, changed=changes.templates)
                yield from incremental_rows(feed, endpoint, org_id, changes, now, report, labels)
            except READ_FAILURES as error:
                if stops_every_org(error):
                    raise
                report.error = describe_failure(error)
                logger.error("%s of org %s failed, other orgs go on: %s", endpoint.resource, org_id, report.error)
                continue
            if changes.newest_id > int(cursor["id"]):
                kept["feed"] = {"id": changes.newest_id, "day": changes.newest_day or cursor["day"]}
            if labels is not None:
                kept["labels"] = labels.known
            state[org_id] = kept
            logger.info("%s of org %s: incremental read, %d requests, %d changed rows read, %d deleted upstream",
                        endpoint.resource, org_id, report.requests, report.rows_read, report.missing)
            continue
        read = WorkflowRead(client, endpoint, org_id, options)
        read.suspects = kept["suspects"] = dict(kept.get("suspects") or {})
        read.labels = labels = kickoff_labels(client, endpoint, org_id, kept, read.walks[0].report, reread_all=True)
        if reports is not None:
            reports.extend(read.reports)
        try:
            newest_id, newest_day = feed.newest(org_id, read.walks[0].report)
            yield from read.rows(now)
        except READ_FAILURES as error:
            if stops_every_org(error):
                raise
            failed = next((w.report for w in read.walks if not w.finished), read.walks[0].report)
            failed.error = describe_failure(error)
            logger.error("%s of org %s failed, other orgs go on: %s", endpoint.resource, org_id, failed.error)
            continue
        if all(w.report.clean for w in read.walks):
            kept["feed"] = {"id": newest_id, "day": newest_day}
        # else rows moved between pages while a walk read (a change landed): a record not loaded
        # yet may have slid onto a page already read and be missed, while its events are older
        # than newest_id. The cursor stays (none yet: the next run reads in full again), so the
        # next run reads the feed from there and refetches what it names, the missed record too.
        if labels is not None:
            kept["labels"] = labels.known
        if (all(w.may_sweep for w in read.walks) and not any(r.unconfirmed for r in read.reports)
                and all(r.clean for r in read.reports)):
            kept["last_sweep"] = now.isoformat()
        else:  # not a complete sweep (a walk saw the org move, a key unconfirmed): the next run sweeps
            kept.pop("last_sweep", None)
        state[org_id] = kept
        for report in read.reports:
            logger.info("%s of org %s: %s read, %d requests, %d rows read, %d deleted upstream", endpoint.resource,
                        org_id, report.mode, report.requests, report.rows_read, report.missing)


# ------------------------------------------------------------------ the activity feed
def check_start_date(value: Any) -> Optional[str]:
    """`activity_start_date`: a day `YYYY-MM-DD`, or None for the default."""
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ConfigError(f"activity_start_date {value!r} is not a day: use YYYY-MM-DD") from None


def activity_row(row: Row) -> Row:
    """One feed event as plain columns (`events.event_row`), its times parsed."""
    return _times(event_row(row), COLUMNS["activity"])


def activity_rows(client: RESTClient, org_ids: Sequence[str], options: ReadOptions,
                  reports: Optional[List[ReadReport]] = None, start_date: Optional[str] = None) -> Iterator[Any]:
    """Feed events from the org's start day, merged on (org_id, id).

    Between sweeps: the new events only, newest first from the day before the newest event
    loaded, down to the newest id loaded (`feed.feed_pages`; 1 request when nothing happened).
    A sweep (`sweep_interval_hours`, as the workflow resources; the first run; `sweep` or
    `full_refresh`) reads every event from the day before the newest one the previous sweep
    loaded (`full_refresh`: from the start day), so an event that shows up in the feed after
    newer ones, less than a day late, is loaded by the next sweep at the latest."""
    from .source import READ_FAILURES, sweep_is_due

    state = dlt.current.resource_state().setdefault("orgs", {})
    for org_id in org_ids:
        now = datetime.now(timezone.utc)
        kept = dict(state.get(org_id) or {})
        start = kept.get("start") or start_date or (now.date() - timedelta(days=ACTIVITY_DEFAULT_DAYS)).isoformat()
        newest_id = None if options.full_refresh else kept.get("newest_id")
        sweep = (newest_id is None or options.sweep
                 or sweep_is_due(kept.get("last_sweep"), options.sweep_interval_hours, now))
        since = start if options.full_refresh else kept.get("swept_day" if sweep else "newest_day")
        after = max(start, day_before(since)) if since else start
        if sweep:
            endpoint = replace(ACTIVITY, params={**ACTIVITY.params, "created_after": after})
            read = EndpointRead(client, endpoint, org_id, options, Cursor(), True)
            report, pages = read.report, read.rows()
        else:
            report = ReadReport(ACTIVITY.resource, org_id, mode="new events (newest first)")
            pages = _counted(feed_pages(client, org_id, after, options.per_page, int(newest_id)), report)
        if reports is not None:
            reports.append(report)
        newest: Optional[datetime] = None
        top = int(newest_id or 0)
        try:
            for rows in pages:
                shaped = [activity_row(r) for r in rows if event_id(r) is not None]
                times = [r["created_at"] for r in shaped if r.get("created_at") is not None]
                if times:
                    newest = max([newest, *times]) if newest else max(times)
                top = max([top, *(event_id(r) for r in shaped)])
                if shaped:
                    yield shaped
        except READ_FAILURES as error:
            if stops_every_org(error):
                raise
            report.error = describe_failure(error)
            logger.error("activity of org %s failed, other orgs go on: %s", org_id, report.error)
            continue
        if sweep and not report.clean:
            # events moved between pages while the sweep read (an event written between two pages
            # requested side by side can push one past both): the stored window stays, and the
            # next run sweeps it again
            kept.update(start=start)
            kept.pop("last_sweep", None)
            state[org_id] = kept
            logger.info("activity of org %s: events moved while the sweep read; the next run sweeps again", org_id)
            continue
        newest_day = max(after, kept.get("newest_day") or after, utc_day(newest) if newest else after)
        kept.update(start=start, newest_day=newest_day, newest_id=top)
        if sweep:
            kept.update(last_sweep=now.isoformat(), swept_day=newest_day)
        state[org_id] = kept
        logger.info("activity of org %s: from %s, %d requests, %d events", org_id, after, report.requests,
                    report.rows_read)


def _counted(pages: Iterator[Any], report: ReadReport) -> Iterator[List[Row]]:
    """Pages of a walk that is not an `EndpointRead`, counted in its report and shaped as
    `EndpointRead.rows()` shapes them (with org_id)."""
    for page in pages:
        report.requests += 1
        report.rows_read += len(page)
        yield [shape_row(dict(r), report.org_id, ACTIVITY.incremental) for r in page]
