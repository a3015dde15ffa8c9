"""Comments: read with their task (`with=threads` on tasks, `tasks.threads` on a process), loaded
into their own table from inside the tasks resource. A task that was read lists ALL its comments,
so what was read decides which loaded comments go (THE rule, `CommentsSeen.goes`)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

import dlt

from tallyfy_source.api.endpoints import COMMENTS, COMMENTS_TABLE
from tallyfy_source.read.deletes import removal_rows
from tallyfy_source.read.merge import DELETE_COLUMNS, variant_hints
from tallyfy_source.shape.columns import COLUMNS
from tallyfy_source.workflow.rows import task_row

Row = Dict[str, Any]


def comments_hints(rows: List[Row]) -> Any:
    """Comment rows go to their own merged table from inside the tasks resource."""
    return dlt.mark.with_hints(rows, variant_hints(COMMENTS_TABLE, {**COLUMNS[COMMENTS_TABLE], **DELETE_COLUMNS},
                                                   ["org_id", "id"]), create_table_variant=True)


@dataclass
class CommentsSeen:
    """What one org's read of tasks saw: the tasks read (each with its whole comment list), the
    comments listed, the tasks and processes confirmed deleted, the processes read whole."""

    read_tasks: Set[str] = field(default_factory=set)
    listed: Set[str] = field(default_factory=set)
    gone_tasks: Set[str] = field(default_factory=set)
    read_processes: Set[str] = field(default_factory=set)
    gone_processes: Set[str] = field(default_factory=set)

    def shape_tasks(self, served: Iterable[Row], archived: Optional[bool] = None) -> Tuple[List[Row], List[Row]]:
        """Task rows and their comments' rows, each task noted as read with its comments."""
        tasks, comments = [], []
        for raw in served:
            task, its_comments = task_row(raw, archived)
            tasks.append(task)
            self.read_tasks.add(str(task["id"]))
            self.listed.update(str(c["id"]) for c in its_comments)
            comments.extend(its_comments)
        return tasks, comments

    def goes(self, comment: Row) -> bool:
        """A loaded comment goes when its task or process is gone, when its task was read and
        no longer lists it, or when its process was read whole and no longer has its task."""
        task, process = str(comment.get("task_id")), str(comment.get("process_id"))
        return (task in self.gone_tasks or process in self.gone_processes
                or (task in self.read_tasks and str(comment["id"]) not in self.listed)
                or (process in self.read_processes and task not in self.read_tasks))


def comment_removals(org_id: str, loaded: List[Row], seen: CommentsSeen, mode: str, now: datetime) -> List[Any]:
    """The hinted removal rows of the loaded comments `seen` says go (each once)."""
    gone, ids = [], set()
    for comment in loaded:
        cid = str(comment["id"])
        if cid not in ids and seen.goes(comment):
            ids.add(cid)
            gone.append(comment)
    return [comments_hints(removal_rows(COMMENTS, org_id, gone, mode, now))] if gone else []
