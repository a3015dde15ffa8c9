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
from typing import Any, Optional

import dlt


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


class WalkProgress:
    """One walk's pages, reported to the running pipeline's collector (`label`: the org and walk).

    The collector is looked up once per walk, not per page: `dlt.current.pipeline()` resolves
    dlt's configuration on every call, and dlt keeps a trace of every resolution for the whole
    run, so a lookup per page made memory grow with the org (11 MB on the benchmark's
    50,000-task org)."""

    def __init__(self, resource: str, label: str, budget: Any = None) -> None:
        self.resource, self.label, self.budget = resource, label, budget
        collector = current_collector()
        self.collector = None if type(collector).__name__ == "NullCollector" else collector
        self.first_page_at: Optional[float] = None
        self.rows = 0

    def page_read(self, page_no: int, pages_known: Optional[int], rows: int) -> None:
        """Report one page: the rows so far, the budget's requests left and the time to go."""
        if self.collector is None:
            return
        now = time.monotonic()
        if self.first_page_at is None:
            self.first_page_at = now
        self.rows += rows
        eta = eta_seconds(page_no, pages_known, now - self.first_page_at)
        parts = [f"{self.rows} rows"]
        left = self.budget.left_in_window() if hasattr(self.budget, "left_in_window") else None
        if left is not None:
            parts.append(f"{left} requests left this minute")
        if eta is not None:
            parts.append(f"about {int(round(eta))} s to go")
        self.collector.update(f"{self.resource} pages", 1, total=pages_known, message=", ".join(parts),
                              label=self.label)
