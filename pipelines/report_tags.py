"""The report's "tag usage over time": one line per leading tag.

Why two sources: `tag_statistics_history` gets a row per tag and day from every load, so once
loads have run on two days or more it is the real thing (the templates and processes the API
counted on each tag, day by day). Before that (the first loads) the only time in the data is when
the tagged processes were launched: `tag_activity`'s launches per month, with today's tags.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Dict, List, Optional, Tuple

#: lines drawn: more would be unreadable
LINES = 8
STATS = ("active_template", "archived_template", "active_process", "archived_process")


@dataclass
class TagLine:
    label: str  # org text (unescaped)
    points: List[Tuple[date, int]]


@dataclass
class TagTrend:
    source: str  # "history": usage counted by the API per load day; "launches": processes launched per month
    lines: List[TagLine] = field(default_factory=list)
    days: int = 0  # distinct snapshot days in the history


def tag_trend(history: Optional[List[Dict[str, Any]]], activity: Optional[List[Dict[str, Any]]],
              unique_labels) -> Optional[TagTrend]:
    """The trend from the history when it has two days or more, else from the launches per
    month; None when neither relation is loaded."""
    days = sorted({r["snapshot_date"] for r in history or []})
    if len(days) >= 2:
        return _from_history(history or [], days, unique_labels)
    if activity is None and history is None:
        return None
    trend = _from_launches(activity or [], unique_labels)
    trend.days = len(days)
    return trend


def _top(totals: Dict[tuple, int], titles: Dict[tuple, str]) -> List[tuple]:
    used = [k for k, v in totals.items() if v > 0]
    return sorted(used, key=lambda k: (-totals[k], titles.get(k) or "", k))[:LINES]


def _from_history(rows: List[Dict[str, Any]], days: List[date], unique_labels) -> TagTrend:
    """Per tag and day, templates and processes carrying it (active + archived); the tags that
    carry the most on the last day."""
    usage: Dict[tuple, Dict[date, int]] = defaultdict(dict)
    titles: Dict[tuple, str] = {}
    for r in rows:
        key = (r["org_id"], r["tag_id"])
        usage[key][r["snapshot_date"]] = sum(int(r[k] or 0) for k in STATS)
        titles[key] = r["title"]
    last = days[-1]
    top = _top({k: v.get(last, 0) for k, v in usage.items()}, titles)
    labels = unique_labels([titles[k] for k in top])
    return TagTrend("history", [TagLine(label, sorted(usage[k].items())) for label, k in zip(labels, top)], len(days))


def _months(first: date, last: date) -> List[date]:
    out, month = [], first
    while month <= last:
        out.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return out


def _from_launches(rows: List[Dict[str, Any]], unique_labels) -> TagTrend:
    """Processes launched per month carrying each tag (today's links); months without a launch
    are 0, from the first month with one to the last."""
    launches: Dict[tuple, Dict[date, int]] = defaultdict(dict)
    titles: Dict[tuple, str] = {}
    for r in rows:
        if r["processes_launched"]:
            key = (r["org_id"], r["tag_id"])
            launches[key][r["month_start"]] = int(r["processes_launched"])
            titles[key] = r["title"]
    top = _top({k: sum(v.values()) for k, v in launches.items()}, titles)
    if not top:
        return TagTrend("launches")
    months = _months(min(m for k in top for m in launches[k]), max(m for k in top for m in launches[k]))
    labels = unique_labels([titles[k] for k in top])
    return TagTrend("launches", [TagLine(label, [(m, launches[k].get(m, 0)) for m in months])
                                 for label, k in zip(labels, top)])
