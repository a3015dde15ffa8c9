"""The workflow wing's resources: templates, processes, tasks (+ comments) over every org, the
full read when one is due, else the changes the activity feed names (`changes.py`); and the
`activity` resource (`activity.py`).

Per org, each of the three keeps in its resource state (`state.WorkflowOrgState`, committed only
with a load): `last_sweep` (when its last complete full read ran), `feed` = {"id": the newest
feed event id its tables reflect, "day": that event's UTC day}, `labels` (processes: kick-off
field labels per template) and `suspects` (keys the token may not confirm).
"""

import logging
from typing import Any, Iterator, Optional, Sequence

import dlt
from dlt.sources import DltResource

from tallyfy_source.api.endpoints import ACTIVITY, COMMENTS_TABLE
from tallyfy_source.read.endpoint_read import ReadReport
from tallyfy_source.read.merge import merged_resource, own_variant
from tallyfy_source.read.orgs import OrgRun, Run, full_read_due
from tallyfy_source.read.validity import tracked
from tallyfy_source.shape.columns import COLUMNS
from tallyfy_source.workflow.activity import activity_rows
from tallyfy_source.workflow.changes import WorkflowFeed, incremental_rows
from tallyfy_source.workflow.full_read import WorkflowRead
from tallyfy_source.workflow.kickoff import KickoffLabels
from tallyfy_source.workflow.kinds import Kind
from tallyfy_source.workflow.state import WorkflowOrgState

logger = logging.getLogger("tallyfy_source")


def _labels(feed: WorkflowFeed, kind: Kind, org_id: str, kept: WorkflowOrgState, report: ReadReport,
            reread_all: bool = False, changed: Sequence[str] = ()) -> Optional[KickoffLabels]:
    """The template labels a labelled kind (processes) shapes with; None for the others."""
    if not kind.labelled:
        return None
    return KickoffLabels(feed.clients[org_id], org_id, kept.labels, report, reread_all=reread_all, changed=changed)


def workflow_rows(run: Run, kind: Kind, feed: WorkflowFeed) -> Iterator[Any]:
    """Every org's read of one workflow kind."""
    states = dlt.current.resource_state().setdefault("orgs", {})
    options = run.options

    def read_org(org: OrgRun) -> Iterator[Any]:
        kept = WorkflowOrgState.of(states.get(org.org_id))
        if full_read_due(options, kept.last_sweep, org.now, has_cursor=kept.feed is not None):
            yield from _full(org, kept)
        else:
            yield from _incremental(org, kept)
        states[org.org_id] = kept.to_state()

    def _incremental(org: OrgRun, kept: WorkflowOrgState) -> Iterator[Any]:
        report = org.add(ReadReport(kind.endpoint.resource, org.org_id, mode="incremental (activity feed)"))
        changes = feed.changes(org.org_id, kept.feed.id, kept.feed.day, report)
        labels = _labels(feed, kind, org.org_id, kept, report, changed=changes.templates)
        yield from tracked(kind.histories, incremental_rows(feed, kind, org.org_id, changes, org.now, report, labels))
        kept.move_feed(changes.newest_id, changes.newest_day)
        if labels is not None:
            kept.labels = labels.known
        logger.info("%s of org %s: incremental read, %d requests, %d changed rows read, %d deleted upstream",
                    kind.endpoint.resource, org.org_id, report.requests, report.rows_read, report.missing)

    def _full(org: OrgRun, kept: WorkflowOrgState) -> Iterator[Any]:
        read = WorkflowRead(org.client, kind, org.org_id, options)
        read.suspects = kept.suspects
        org.add(*read.reports)
        org.blame = read.blame
        read.labels = labels = _labels(feed, kind, org.org_id, kept, read.walks[0].report, reread_all=True)
        newest_id, newest_day = feed.newest(org.org_id, read.walks[0].report)
        yield from tracked(kind.histories, read.rows(org.now))
        if all(r.clean for r in read.reports):
            kept.set_feed(newest_id, newest_day)
        # else rows moved between pages while a walk read (a change landed): a record not loaded
        # yet may have slid onto a page already read and be missed, while its events are older
        # than newest_id. The cursor stays (none yet: the next run reads in full again), so the
        # next run reads the feed from there and refetches what it names, the missed record too.
        if labels is not None:
            kept.labels = labels.known
        complete = (all(w.may_sweep for w in read.walks) and not any(r.unconfirmed for r in read.reports)
                    and all(r.clean for r in read.reports))
        kept.last_sweep = org.now.isoformat() if complete else None  # not complete: the next run sweeps
        for report in read.reports:
            logger.info("%s of org %s: %s read, %d requests, %d rows read, %d deleted upstream",
                        kind.endpoint.resource, org.org_id, report.mode, report.requests, report.rows_read,
                        report.missing)

    yield from run.each_org(kind.endpoint.resource, read_org)


def workflow_resource(run: Run, kind: Kind, feed: WorkflowFeed) -> DltResource:
    """Templates, processes or tasks (+ comments); not selected unless named."""
    resource = merged_resource(workflow_rows, kind.endpoint, run, kind, feed, selected=False)
    if kind.with_comments:
        # the comments this resource also yields (`comments.comments_hints`) are a table variant,
        # which dlt starts from a copy of the resource's hints: without this reset the comments
        # table would carry every task column too, always null (issue 16, defect 8)
        own_variant(resource, COMMENTS_TABLE)
    for history in kind.histories:
        own_variant(resource, history.table)
    return resource


def activity_resource(run: Run, start_date: Optional[str]) -> DltResource:
    """The activity feed: merged events from a start day (see `activity.activity_rows`)."""
    return merged_resource(activity_rows, ACTIVITY, run, start_date, selected=False,
                           columns=COLUMNS[ACTIVITY.resource])  # events are never deleted: no markers
