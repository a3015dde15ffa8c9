"""The full read of templates, processes or tasks (+ comments) of one org (a sweep).

Each list is read TWICE: once without `archived` and once with `archived=only`. We never send a
truthy `archived`, whose meaning is ambiguous ("archived too" or "archived only"), so the union
is every record under either reading. A record seen by both walks (archived between them) is kept
once (the first copy). After both walks finished complete, loaded keys neither saw are confirmed
one by one (`read.orgs.confirm_missing`), as the directory's sweep does. Comments arrive in the
tasks walk (`with=threads`): see `comments.py` for which loaded comments go.
"""

from dataclasses import replace
from datetime import datetime
from itertools import chain
from typing import Any, Callable, Dict, Iterator, List, Optional

from dlt.sources.helpers.rest_client import RESTClient

from tallyfy_source.api.endpoints import COMMENTS
from tallyfy_source.read.deletes import last_loaded, loaded_rows
from tallyfy_source.read.endpoint_read import Cursor, EndpointRead, ReadOptions, ReadReport
from tallyfy_source.read.orgs import confirm_missing
from tallyfy_source.workflow.comments import CommentsSeen, comment_removals, comments_hints
from tallyfy_source.workflow.kinds import Kind

Row = Dict[str, Any]
ARCHIVED_ONLY = {"archived": "only"}


class WorkflowRead:
    """One org's read of one workflow list: both `archived` walks, their union, the sweep."""

    def __init__(self, client: RESTClient, kind: Kind, org_id: str, options: ReadOptions):
        self.kind = kind
        self.endpoint = endpoint = kind.endpoint
        self.org_id = org_id
        self.options = options
        self.labels: Optional[Callable[[Any], Dict[str, str]]] = None  # processes: a template's kick-off labels
        archived = replace(endpoint, params={**endpoint.params, **ARCHIVED_ONLY})
        self.walks = [EndpointRead(client, endpoint, org_id, options, Cursor(), True),
                      EndpointRead(client, archived, org_id, options, Cursor(), True)]
        self.comments = CommentsSeen()
        self.suspects: Dict[str, str] = {}  # keys the token may not confirm (see `orgs.confirm_missing`)

    @property
    def reports(self) -> List[ReadReport]:
        return [w.report for w in self.walks]

    def blame(self) -> ReadReport:
        """The report a failure belongs to: the walk that did not finish."""
        return next((w.report for w in self.walks if not w.finished), self.walks[0].report)

    def shape(self, rows: List[Row], archived: Optional[bool] = None) -> Iterator[Any]:
        """Shaped rows of one page (tasks: then the comments of those tasks); `archived`: what
        the walk that found them says (None: a single read)."""
        if not self.kind.with_comments:
            yield [self.kind.shape(r, self.labels, archived) for r in rows]
            return
        tasks, comments = self.comments.shape_tasks(rows, archived)
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
        if self.kind.with_comments:
            yield from self.comment_removals(now)

    def sweep(self, now: datetime) -> Iterator[Any]:
        """Keys neither walk saw, confirmed one by one (`orgs.confirm_missing`)."""
        first, second = self.walks
        found, removals = confirm_missing(first, now, seen=chain(first.seen, second.seen), suspects=self.suspects)
        if found:
            yield from self.shape(found)
        if removals:
            yield removals
        self.comments.gone_tasks = {str(r["id"]) for r in removals}

    def comment_removals(self, now: datetime) -> Iterator[Any]:
        """The org's loaded comments that go (`CommentsSeen.goes`): only (id, task_id) of each is
        streamed, and the whole row read again for those that go."""
        mode = self.options.deleted_records
        gone = loaded_rows(COMMENTS, self.org_id, mode, ["id", "task_id"], self.comments.goes)
        yield from comment_removals(self.org_id, last_loaded(COMMENTS, self.org_id, gone, mode), self.comments,
                                    mode, now)
