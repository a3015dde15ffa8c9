"""Progress a person can watch while a big org loads (issue 18), through dlt's own collectors.

dlt counts items per resource, but a first workflow load spends its minutes waiting on the
request budget, page after page. Each page read here is reported to the running pipeline's
collector (`dlt.current.pipeline().collector`; dlt's NULL collector when none was asked for, so
a cron job stays silent): one counter per resource, org and walk, its total the pages the API
announced (`meta.pagination.total`), with the rows read, the requests left in the budget's
window and an estimated time to finish. Which collector prints it (a bar on a terminal, a log
line every few seconds) is the command's choice (`pipelines/tallyfy_pipeline.py`).
"""

import time
from typing import Any, Dict, Optional, Tuple

import dlt

_started: Dict[Tuple[str, str], Tuple[float, int]] = {}  # counter -> (first page time, rows so far)


def current_collector() -> Any:
    """The collector of the pipeline running now (None outside a pipeline run)."""
    try:
        return dlt.current.pipeline().collector
    except Exception:  # no active pipeline: the source used on its own
        return None


def eta_seconds(done: int, total: Optional[int], elapsed: float) -> Optional[float]:
    """Seconds left at the rate so far (None before a rate or a total is known)."""
    if not total or done <= 1 or elapsed <= 0 or done >= total:
        return 0.0 if total and done >= total else None
    return (total - done) * elapsed / (done - 1)  # the first page starts the clock


def page_read(resource: str, label: str, page_no: int, pages_known: Optional[int], rows: int,
              budget: Any = None) -> None:
    """Report one page of a walk (`label`: the org and walk)."""
    collector = current_collector()
    if collector is None or type(collector).__name__ == "NullCollector":
        return
    key = (resource, label)
    now = time.monotonic()
    first, rows_so_far = _started.get(key, (now, 0)) if page_no > 1 else (now, 0)
    rows_so_far += rows
    _started[key] = (first, rows_so_far)
    eta = eta_seconds(page_no, pages_known, now - first)
    parts = [f"{rows_so_far} rows"]
    left = budget.left_in_window() if budget is not None and hasattr(budget, "left_in_window") else None
    if left is not None:
        parts.append(f"{left} requests left this minute")
    if eta is not None:
        parts.append(f"about {int(round(eta))} s to go")
    collector.update(f"{resource} pages", 1, total=pages_known, message=", ".join(parts), label=label)
