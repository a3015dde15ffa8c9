"""The directory wing: members, groups, tags and guests, one merge resource each.

Members and groups keep one cursor and one last-sweep time per org in the resource state (dlt's
`incremental` holds one cursor per resource, which would let a lagging org skip changes); dlt
commits that state only with the loaded package. Tags and guests are read whole on every run.
Tags also fill `tag_statistics_history`, members `members_history` (`history.py`).
"""

import logging
from typing import Any, Callable, Dict, Iterator, List

import dlt
from dlt.sources import DltResource

from tallyfy_source.api.endpoints import TAGS, Endpoint
from tallyfy_source.directory.state import DirectoryOrgState
from tallyfy_source.directory.history import (TAG_STATISTICS_HISTORY, history_hints, tag_statistics_rows,
                                            validity_history)
from tallyfy_source.read.endpoint_read import Cursor, EndpointRead
from tallyfy_source.read.merge import merged_resource, own_variant, table_columns
from tallyfy_source.read.orgs import OrgRun, Run, confirm_missing, full_read_due
from tallyfy_source.read.validity import OrgVersions
from tallyfy_source.shape.arrow_rows import rows_to_arrow
from tallyfy_source.shape.columns import PARENT_KEYS
from tallyfy_source.shape.rows import keyed_list_items

logger = logging.getLogger("tallyfy_source")


def as_arrow_table(endpoint: Endpoint) -> Callable[[List[Dict[str, Any]]], Any]:
    """Rows of tables without child lists go to dlt as typed Arrow tables (see arrow_rows.py);
    rows with lists of plain values get child rows keyed by their parent (`keyed_list_items`)."""
    if endpoint.child_lists:
        key = PARENT_KEYS[endpoint.resource]
        return lambda rows: [keyed_list_items(r, endpoint.child_lists, key) for r in rows]
    columns = table_columns(endpoint)
    return lambda rows: rows_to_arrow(rows, columns)


def endpoint_rows(run: Run, endpoint: Endpoint) -> Iterator[Any]:
    """Pages of rows of one endpoint for every org, then the rows that record deletions."""
    options = run.options
    as_table = as_arrow_table(endpoint)
    state = dlt.current.resource_state()
    history = validity_history(endpoint)

    def read_org(org: OrgRun) -> Iterator[Any]:
        org_id, now = org.org_id, org.now
        kept = DirectoryOrgState(state, org_id)
        cursor = Cursor() if options.full_refresh else Cursor.from_state(kept.cursor)
        read = EndpointRead(org.client, endpoint, org_id, options, cursor,
                            full_read_due(options, kept.last_sweep, now))
        org.add(read.report)
        versions = OrgVersions(history) if history else None
        for rows in read.rows():
            if endpoint is TAGS and rows:  # before the Arrow conversion
                yield history_hints(tag_statistics_rows(rows, now))
            if versions:
                versions.see(rows)
            yield as_table(rows)
        if read.may_sweep:
            for rows in confirm_missing(read, now, suspects=kept.suspects):
                if rows:
                    if versions:
                        versions.see(rows)
                    yield as_table(rows)
            # a walk that saw the org move (a total changing between pages, rows moving) may
            # have read a record that was deleted before it ended: not a complete sweep, so
            # the next run sweeps again and confirms what is gone by then
            kept.last_sweep = now.isoformat() if not read.report.unconfirmed and read.report.clean else None
        elif read.full_scan:  # a sweep that read fewer records than the total: not complete either
            kept.last_sweep = None
        if endpoint.incremental:
            kept.cursor = read.next_cursor().to_state()
        if versions:
            yield from versions.rows()
        report = read.report
        logger.info("%s of org %s: %s read, %d requests, %d rows read, %d new or changed, %d deleted upstream",
                    endpoint.resource, org_id, report.mode, report.requests, report.rows_read,
                    report.rows_yielded, report.missing)

    yield from run.each_org(endpoint.resource, read_org)


def endpoint_resource(run: Run, endpoint: Endpoint) -> DltResource:
    """A directory endpoint's resource: cursor, sweeps (see `endpoint_rows`); tags also fill
    `tag_statistics_history`, members `members_history` (`history.py`)."""
    resource = merged_resource(endpoint_rows, endpoint, run, endpoint)
    if endpoint is TAGS:
        own_variant(resource, TAG_STATISTICS_HISTORY)
    history = validity_history(endpoint)
    if history:
        own_variant(resource, history.table)
    return resource
