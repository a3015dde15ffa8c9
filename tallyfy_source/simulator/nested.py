"""Routes the official Python SDK (PyPI `tallyfy` 3.1.0) reads beyond the connector's lists:
a template's steps (`/checklists/{id}/steps`, paged, and `/steps/{step}`), its kick-off fields
(`/checklists/{id}/form-fields`), a member's tasks (`/users/{id}/tasks`), and the minimal lists
`users-list` and `guests-list`. `families.py` registers them; `workflow.py` has the rest
(`/runs/{id}/tasks`, `/runs/{run}/tasks/{task}`).
"""

from typing import Any, Optional

from . import directory, shapes, workflow
from .serving import Record, ServedResource


def _steps(org: Any, parent: Optional[str]):
    return [workflow._step(s) for s in org.steps.get(parent, ())]


def _step_of(org: Any, parent: Optional[str], key: Any) -> Optional[Record]:
    return next((s for s in _steps(org, parent) if s["id"] == key), None)


STEPS = ServedResource(
    resource="steps", path="checklists/steps", model="Step", default_per_page=10, sort_params=("sort",),
    sort_fields={"position": "position"}, default_sort="position", documented_sorts=("position",),
    search_fields=("title",), nested=True, shape=shapes.step, source=_steps, item_lookup=_step_of,
)


def _kickoff(org: Any, parent: Optional[str]):
    tmpl = org.lookup("checklists", parent)
    return [dict(f, checklist_id=parent) for f in (tmpl or {}).get("prerun", ())]


KICKOFF_FIELDS = ServedResource(
    resource="form_fields", path="checklists/form-fields", model="Capture", default_per_page=100,
    sort_params=("sort",), sort_fields={"position": "position"}, default_sort="position",
    search_fields=("label",), nested=True, source=_kickoff,
)


def _owned_by(org: Any, query: Any, settings: Any, parent: Any):
    return lambda t: parent in t["owners"]["users"]


USER_TASKS = ServedResource(
    resource="tasks", path="users/tasks", model="Task", default_per_page=10, sort_params=("sort",),
    sort_fields=dict(workflow.TASKS.sort_fields), default_sort="deadline",
    documented_sorts=workflow.TASKS.documented_sorts, search_fields=("title",), view_filter=_owned_by,
    includes=workflow.TASKS.includes, nested=True, shape=shapes.run_task,
)

#: (parent path, child path) -> (parent resource, how the child list is served)
NESTED = {("checklists", "steps"): ("checklists", STEPS), ("checklists", "form-fields"): ("checklists", KICKOFF_FIELDS),
          ("users", "tasks"): ("members", USER_TASKS)}
#: lists served under a second path, as the first (not registered by resource)
ALIASES = {"users-list": directory.MEMBERS, "guests-list": directory.GUESTS}
