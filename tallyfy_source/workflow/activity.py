"""The `activity` resource: feed events from a start day, merged on (org_id, id)."""

import logging
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, Dict, Iterator, List, Optional

import dlt

from tallyfy_source.api.endpoints import ACTIVITY
from tallyfy_source.errors import ConfigError
from tallyfy_source.read.endpoint_read import Cursor, EndpointRead, ReadReport
from tallyfy_source.read.orgs import OrgRun, Run, full_read_due
from tallyfy_source.shape.columns import COLUMNS
from tallyfy_source.shape.rows import parse_times, shape_row
from tallyfy_source.workflow.events import event_row
from tallyfy_source.workflow.feed import day_before, event_id, feed_pages, utc_day
from tallyfy_source.workflow.state import ActivityOrgState

logger = logging.getLogger("tallyfy_source")

Row = Dict[str, Any]
ACTIVITY_DEFAULT_DAYS = 90


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
    return parse_times(event_row(row), COLUMNS["activity"])


def activity_rows(run: Run, start_date: Optional[str] = None) -> Iterator[Any]:
    """Feed events from the org's start day, merged on (org_id, id).

    Between sweeps: the new events only, newest first from the day before the newest event
    loaded, down to the newest id loaded (`feed.feed_pages`; 1 request when nothing happened).
    A sweep (`sweep_interval_hours`, as the workflow resources; the first run; `sweep` or
    `full_refresh`) reads every event from the day before the newest one the previous sweep
    loaded (`full_refresh`: from the start day), so an event that shows up in the feed after
    newer ones, less than a day late, is loaded by the next sweep at the latest."""
    options = run.options
    states = dlt.current.resource_state().setdefault("orgs", {})

    def read_org(org: OrgRun) -> Iterator[Any]:
        org_id, now = org.org_id, org.now
        kept = ActivityOrgState.of(states.get(org_id))
        start = kept.get("start") or start_date or (now.date() - timedelta(days=ACTIVITY_DEFAULT_DAYS)).isoformat()
        newest_id = None if options.full_refresh else kept.get("newest_id")
        sweep = full_read_due(options, kept.get("last_sweep"), now, has_cursor=newest_id is not None)
        since = start if options.full_refresh else kept.get("swept_day" if sweep else "newest_day")
        after = max(start, day_before(since)) if since else start
        if sweep:
            endpoint = replace(ACTIVITY, params={**ACTIVITY.params, "created_after": after})
            read = EndpointRead(org.client, endpoint, org_id, options, Cursor(), True)
            report, pages = org.add(read.report), read.rows()
        else:
            report = org.add(ReadReport(ACTIVITY.resource, org_id, mode="new events (newest first)"))
            pages = _counted(feed_pages(org.client, org_id, after, options.per_page, int(newest_id)), report)
        newest: Optional[datetime] = None
        top = int(newest_id or 0)
        for rows in pages:
            shaped = [activity_row(r) for r in rows if event_id(r) is not None]
            times = [r["created_at"] for r in shaped if r.get("created_at") is not None]
            if times:
                newest = max([newest, *times]) if newest else max(times)
            top = max([top, *(event_id(r) for r in shaped)])
            if shaped:
                yield shaped
        if sweep and not report.clean:
            # events moved between pages while the sweep read (an event written between two pages
            # requested side by side can push one past both): the stored window stays, and the
            # next run sweeps it again
            kept.update(start=start, last_sweep=None)
            states[org_id] = kept.to_state()
            logger.info("activity of org %s: events moved while the sweep read; the next run sweeps again", org_id)
            return
        newest_day = max(after, kept.get("newest_day") or after, utc_day(newest) if newest else after)
        kept.update(start=start, newest_day=newest_day, newest_id=top)
        if sweep:
            kept.update(last_sweep=now.isoformat(), swept_day=newest_day)
        states[org_id] = kept.to_state()
        logger.info("activity of org %s: from %s, %d requests, %d events", org_id, after, report.requests,
                    report.rows_read)

    yield from run.each_org(ACTIVITY.resource, read_org)


def _counted(pages: Iterator[Any], report: ReadReport) -> Iterator[List[Row]]:
    """Pages of a walk that is not an `EndpointRead`, counted in its report and shaped as
    `EndpointRead.rows()` shapes them (with org_id)."""
    for page in pages:
        report.requests += 1
        report.rows_read += len(page)
        yield [shape_row(dict(r), report.org_id, ACTIVITY.incremental) for r in page]
