"""What the report shows, read from the reporting views of a loaded dataset.

Why plain `SELECT columns FROM view` and the arithmetic in Python: the views already hold every
rule (overdue, on time, launches); weekly buckets and top-N lists written in SQL would differ
between DuckDB, PostgreSQL and the warehouses, while a few thousand rows are cheap to fold here.

Two ways in: a DuckDB file opened read-only (no dlt state needed, so a file copied from
elsewhere works), or any SQL destination through a dlt pipeline's `sql_client()`.
"""

import os
import re
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from tallyfy_source.errors import ConfigError, TallyfyError

from .report_tags import TagTrend, tag_trend

#: the views the report reads, and the columns it needs from each
COLUMNS: Dict[str, Tuple[str, ...]] = {
    "tag_usage": ("org_id", "title", "active_templates", "archived_templates", "active_processes",
                  "archived_processes", "total_usage", "usage_class"),
    "member_directory": ("org_id", "member_id", "status"),
    "group_summary": ("org_id", "group_id"),
    "template_usage": ("org_id", "template_id", "title", "is_archived", "launches", "active_processes",
                       "completed_processes", "archived_processes", "launches_last_30_days"),
    "process_cycle_times": ("org_id", "process_id", "is_completed", "is_archived"),
    "task_performance": ("org_id", "task_id", "title", "template_title", "step_id", "is_open", "is_overdue",
                         "completed_at", "completed_on_time"),
    "member_workload": ("org_id", "member_id", "full_name", "email", "open_tasks", "overdue_tasks"),
    "tag_activity": ("org_id", "tag_id", "title", "month_start", "processes_launched"),
    # a table, not a view: one row per tag and load day (tag usage over time; report_tags.py)
    "tag_statistics_history": ("org_id", "tag_id", "title", "snapshot_date", "active_template", "archived_template",
                               "active_process", "archived_process"),
}
#: what proves the views were made (the history table alone does not)
VIEWS_READ = frozenset(COLUMNS) - {"tag_statistics_history"}

LOAD_HINT = "load it first: `make demo` (the simulator's org) or `tallyfy-load` (your org)"

Query = Callable[[str], Optional[List[Dict[str, Any]]]]  # view name -> its rows (None: no such view)


class NotLoaded(ConfigError):
    """No data to report on: the file is missing or no load has made the views."""


class FileInUse(TallyfyError):
    """DuckDB lets no reader in while a writer holds the file (a load in progress)."""


@contextmanager
def duckdb_views(path: str, dataset: str) -> Iterator[Query]:
    """Rows of the views in `dataset` of the DuckDB file at `path`, opened read-only."""
    import duckdb

    if not os.path.isfile(path):
        raise NotLoaded(f"no DuckDB file at {path}: {LOAD_HINT}, or point --duckdb-file at a loaded file")
    try:
        connection = duckdb.connect(path, read_only=True)
    except duckdb.IOException as error:
        if "lock" not in str(error).lower():
            raise
        holder = re.search(r"\(PID (\d+)\)", str(error))
        raise FileInUse(f"{path} is open for writing by another process"
                        f"{f' (pid {holder.group(1)})' if holder else ''}, a load or a notebook:"
                        " run the report when it ends") from None
    try:
        found = {name for (name,) in connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [dataset]).fetchall()}
        if not found & VIEWS_READ:
            raise NotLoaded(f"{path} has no reporting views in dataset {dataset!r} (never loaded?): {LOAD_HINT}")

        def query(view: str) -> Optional[List[Dict[str, Any]]]:
            if view not in found:
                return None
            columns = COLUMNS[view]
            quoted = ", ".join(f'"{c}"' for c in columns)
            rows = connection.execute(f'SELECT {quoted} FROM "{dataset}"."{view}"').fetchall()
            return [dict(zip(columns, row)) for row in rows]

        yield query
    finally:
        connection.close()


@contextmanager
def destination_views(pipeline: Any) -> Iterator[Query]:
    """Rows of the views through a dlt pipeline's SQL client (PostgreSQL, BigQuery, ...)."""
    from dlt.destinations.exceptions import DatabaseUndefinedRelation

    with pipeline.sql_client() as client:
        def query(view: str) -> Optional[List[Dict[str, Any]]]:
            columns = COLUMNS[view]
            quoted = ", ".join(client.escape_column_name(c) for c in columns)
            try:
                rows = client.execute_sql(f"SELECT {quoted} FROM {client.make_qualified_table_name(view)}")
            except DatabaseUndefinedRelation:
                return None
            return [dict(zip(columns, row)) for row in rows or []]

        yield query


# ------------------------------------------------------------------ what the report holds

@dataclass
class Bar:
    """One labelled row of a bar chart or table: `label` and `hover` are org text (unescaped)."""
    label: str
    values: Dict[str, float]
    hover: str = ""


@dataclass
class TrendPoint:
    start: date
    on_time: int
    with_deadline: int

    @property
    def share(self) -> float:
        return self.on_time / self.with_deadline


@dataclass
class ReportData:
    headline: List[Tuple[str, str]] = field(default_factory=list)  # (label, value)
    tags: Optional[List[Bar]] = None  # None: the view is not loaded
    trend: Optional[List[TrendPoint]] = None
    trend_period: str = "week"
    overdue: Optional[List[Bar]] = None
    templates: Optional[List[Bar]] = None
    late_steps: Optional[List[Bar]] = None
    tag_trend: Optional[TagTrend] = None  # None: neither the history nor tag_activity is loaded
    orgs: List[str] = field(default_factory=list)


TOP = 20


def read_report(query: Query, now: Optional[datetime] = None) -> ReportData:
    """Every section's numbers; raises NotLoaded when no view exists at all."""
    rows = {view: query(view) for view in COLUMNS}
    if all(rows[view] is None for view in VIEWS_READ):
        raise NotLoaded(f"no reporting views found (never loaded?): {LOAD_HINT}")
    data = ReportData()
    data.orgs = sorted({r["org_id"] for view_rows in rows.values() for r in view_rows or []})
    data.headline = headline(rows)
    if rows["tag_usage"] is not None:
        data.tags = tag_bars(rows["tag_usage"])
    data.tag_trend = tag_trend(rows["tag_statistics_history"], rows["tag_activity"], unique_labels)
    tasks = rows["task_performance"]
    if tasks is not None:
        data.trend, data.trend_period = on_time_trend(tasks, now or datetime.now(timezone.utc))
        data.late_steps = late_steps(tasks)
    if rows["member_workload"] is not None:
        data.overdue = overdue_by_member(rows["member_workload"])
    if rows["template_usage"] is not None:
        data.templates = template_bars(rows["template_usage"])
    return data


def _count(rows: Optional[List[Dict[str, Any]]], keep: Callable[[Dict[str, Any]], bool] = lambda r: True) -> Optional[int]:
    return None if rows is None else sum(1 for r in rows if keep(r))


def headline(rows: Dict[str, Optional[List[Dict[str, Any]]]]) -> List[Tuple[str, str]]:
    tasks = rows["task_performance"]
    numbers = [
        ("active members", _count(rows["member_directory"], lambda r: r["status"] == "active")),
        ("groups", _count(rows["group_summary"])),
        ("tags in use", _count(rows["tag_usage"], lambda r: r["usage_class"] == "active")),
        ("templates", _count(rows["template_usage"], lambda r: not r["is_archived"])),
        ("processes running", _count(rows["process_cycle_times"],
                                     lambda r: not r["is_completed"] and not r["is_archived"])),
        ("open tasks", _count(tasks, lambda r: r["is_open"])),
        ("overdue tasks", _count(tasks, lambda r: r["is_overdue"])),
    ]
    shown = [(label, f"{value:,}") for label, value in numbers if value is not None]
    if tasks is not None:
        judged = [r["completed_on_time"] for r in tasks if r["completed_on_time"] is not None]
        if judged:
            shown.append(("completed on time", f"{sum(judged) / len(judged):.0%}"))
    return shown


def unique_labels(labels: Sequence[str], width: int = 48) -> List[str]:
    """Shortened labels, made distinct: a category axis would merge two tags of the same title."""
    seen: Counter = Counter()
    out = []
    for label in labels:
        text = " ".join(str(label if label is not None else "(untitled)").split())
        text = text if len(text) <= width else text[: width - 1] + "…"
        seen[text] += 1
        out.append(text if seen[text] == 1 else f"{text} ({seen[text]})")
    return out


def _bars(rows: List[Dict[str, Any]], label: Callable[[Dict[str, Any]], str], values: Sequence[str],
          hover: Callable[[Dict[str, Any]], str]) -> List[Bar]:
    labels = unique_labels([label(r) for r in rows])
    return [Bar(text, {v: float(r[v] or 0) for v in values}, hover(r)) for text, r in zip(labels, rows)]


def tag_bars(rows: List[Dict[str, Any]]) -> List[Bar]:
    used = sorted((r for r in rows if (r["total_usage"] or 0) > 0), key=lambda r: (-r["total_usage"], r["title"] or ""))
    return _bars(used[:TOP], lambda r: r["title"],
                 ("active_processes", "active_templates", "archived_processes", "archived_templates"),
                 lambda r: r["title"] or "")


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def on_time_trend(rows: List[Dict[str, Any]], now: datetime) -> Tuple[List[TrendPoint], str]:
    """Share of tasks with a deadline completed by it, per week of completion (per month when
    the completions span more than half a year)."""
    done = [(r["completed_at"], bool(r["completed_on_time"])) for r in rows
            if r["completed_on_time"] is not None and r["completed_at"] is not None]
    if not done:
        return [], "week"
    days = [_as_date(when) for when, _ in done]
    monthly = (max(days) - min(days)).days > 183
    bucket = (lambda d: d.replace(day=1)) if monthly else week_start
    counts: Dict[date, List[int]] = defaultdict(lambda: [0, 0])
    for day, (_, on_time) in zip(days, done):
        counts[bucket(day)][0] += on_time
        counts[bucket(day)][1] += 1
    return [TrendPoint(start, *counts[start]) for start in sorted(counts)], "month" if monthly else "week"


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(timezone.utc) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()


def overdue_by_member(rows: List[Dict[str, Any]]) -> List[Bar]:
    busy = [r for r in rows if (r["overdue_tasks"] or 0) > 0]
    busy.sort(key=lambda r: (-r["overdue_tasks"], -(r["open_tasks"] or 0), r["full_name"] or ""))
    for r in busy:
        r["on_time_open"] = (r["open_tasks"] or 0) - (r["overdue_tasks"] or 0)
    return _bars(busy[:TOP], lambda r: r["full_name"] or r["email"] or str(r["member_id"]),
                 ("overdue_tasks", "on_time_open"), lambda r: r["email"] or "")


def template_bars(rows: List[Dict[str, Any]]) -> List[Bar]:
    launched = sorted((r for r in rows if (r["launches"] or 0) > 0), key=lambda r: (-r["launches"], r["title"] or ""))
    return _bars(launched[:TOP], lambda r: r["title"],
                 ("active_processes", "completed_processes", "archived_processes", "launches_last_30_days"),
                 lambda r: r["title"] or "")


def late_steps(rows: List[Dict[str, Any]]) -> List[Bar]:
    """Process steps (template + step) ranked by late tasks: overdue now or completed late."""
    steps: Dict[Tuple[Any, ...], Dict[str, Any]] = {}
    for r in rows:
        if r["step_id"] is None:  # one-off tasks have no step to fix
            continue
        step = steps.setdefault((r["org_id"], r["step_id"]), {
            "template": r["template_title"] or "(no template)", "step": r["title"] or "(untitled)",
            "overdue": 0, "completed_late": 0, "tasks": 0})
        step["tasks"] += 1
        step["overdue"] += bool(r["is_overdue"])
        step["completed_late"] += r["completed_on_time"] is False
    late = [s for s in steps.values() if s["overdue"] + s["completed_late"] > 0]
    late.sort(key=lambda s: (-(s["overdue"] + s["completed_late"]), s["template"], s["step"]))
    return _bars(late[:15], lambda s: f"{s['step']} · {s['template']}", ("overdue", "completed_late", "tasks"),
                 lambda s: f"{s['template']}: {s['step']}")
