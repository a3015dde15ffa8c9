"""The three workflow kinds and what sets each apart, so readers ask the kind instead of
branching on a resource's name: templates shape alone, processes need their templates' kick-off
labels, tasks carry their comments."""

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

from tallyfy_source.api.endpoints import PROCESSES, TASKS, TEMPLATES, Endpoint
from tallyfy_source.read.validity import ValidityHistory
from tallyfy_source.workflow.history import PROCESS_HISTORIES
from tallyfy_source.workflow.rows import process_row, template_row

Row = Dict[str, Any]


@dataclass(frozen=True)
class Kind:
    """One workflow resource: its endpoint; `shape(row, labels, archived)` for root-only kinds;
    `labelled`: its rows need kick-off labels; `with_comments`: its rows carry comments."""

    endpoint: Endpoint
    shape: Optional[Callable[..., Row]] = None
    labelled: bool = False
    with_comments: bool = False
    histories: Tuple[ValidityHistory, ...] = ()  # the validity history its rows keep (`history.py`)


TEMPLATE = Kind(TEMPLATES, shape=lambda row, labels, archived: template_row(row, archived))
PROCESS = Kind(PROCESSES, shape=lambda row, labels, archived: process_row(row, labels, archived), labelled=True,
               histories=PROCESS_HISTORIES)
TASK = Kind(TASKS, with_comments=True)
KINDS = {kind.endpoint.resource: kind for kind in (TEMPLATE, PROCESS, TASK)}
