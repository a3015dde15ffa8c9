"""Move a generated org in time: every timestamp it holds, by the same whole number of days.

Generation is anchored at `BASE_NOW` so tests are deterministic; the demo moves its org to end
today, so "overdue", "launched in the last 30 days" and the activity feed mean what they say
whatever day it runs. Every time moves by the same delta, so orders, gaps and the documented
spellings (`Z`, `.000Z`, `+00:00`, `Y-m-d H:i:s`, plain dates) stay exactly as generated.
"""

import random
import re
from datetime import date, datetime, timedelta
from typing import Any, Set

from .lifecycle import refresh_run
from .timestamps import format_ts, ts_style

_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})([T ])(\d{2}:\d{2}:\d{2})((?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SKIP = ("lock", "_rng")  # not data


def _shift_text(text: str, delta: timedelta) -> str:
    match = _TIMESTAMP.match(text)
    if match:
        day, sep, clock, suffix = match.groups()
        moved = datetime.fromisoformat(f"{day}T{clock}") + delta
        return moved.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + suffix
    if _DATE.match(text):
        return (date.fromisoformat(text) + delta).isoformat()
    return text


def _moved(value: Any, delta: timedelta) -> Any:
    if isinstance(value, str):
        return _shift_text(value, delta)
    if isinstance(value, datetime):
        return value + delta
    return value


def shift_in_place(value: Any, delta: timedelta, done: Set[int]) -> None:
    """Move every timestamp inside the dicts and lists of `value` by `delta`, in place: records
    are shared between the org's indexes, so each container is visited once (`done`: ids)."""
    if id(value) in done or not isinstance(value, (dict, list)):
        return
    done.add(id(value))
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in list(items):
        if isinstance(item, (dict, list)):
            shift_in_place(item, delta, done)
        else:
            value[key] = _moved(item, delta)


def move_to_day(org: Any, day: date) -> timedelta:
    """Move `org` (a freshly generated `SyntheticOrg`) so that its clock reads `day` at 00:00
    UTC; returns the delta."""
    delta = timedelta(days=(day - org.now.date()).days)
    done: Set[int] = set()
    with org.lock:
        for name, value in list(vars(org).items()):
            if name in _SKIP:
                continue
            if isinstance(value, (dict, list)):
                shift_in_place(value, delta, done)
            elif isinstance(value, datetime):
                setattr(org, name, value + delta)
    return delta


def open_work_due_around_now(org: Any, seed: Any = 0, overdue_share: float = 0.25) -> int:
    """Give the org's open tasks deadlines around its clock: `overdue_share` of them up to a week
    past, the rest within three weeks ahead (generated history puts most of them months back,
    which a demo read today shows as all overdue); the processes' derived fields (status,
    late_tasks, max_task_deadline) follow. Returns how many tasks moved."""
    rng = random.Random(f"due:{seed}:{org.org_id}")
    moved = 0
    with org.lock:
        for task in org._data["tasks"].values():
            if task["status"] == "completed" or task["archived_at"] is not None or not task["deadline"]:
                continue
            hours = -rng.randrange(1, 7 * 24) if rng.random() < overdue_share else rng.randrange(1, 21 * 24)
            task["deadline"] = format_ts(org.now + timedelta(hours=hours), ts_style(task["deadline"]))
            moved += 1
        for run in org._data["runs"].values():
            refresh_run(run, org._tasks_of(run["id"]), org.threads, org.now)
    return moved
