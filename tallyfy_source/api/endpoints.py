"""What differs per Tallyfy list endpoint, written once.

The dlt source reads this table. The bundled simulator keeps its own idea of the server
(`simulator/directory.py`): a fake built from this table would only prove that the client
agrees with itself.
"""

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

DEFAULT_BASE_URL = "https://go.tallyfy.com/api"
MAX_PER_PAGE = 100
CLIENT_HEADER = ("X-Tallyfy-Client", "APIClient")


@dataclass(frozen=True)
class Endpoint:
    """One list endpoint under `/organizations/{org_id}/`."""

    resource: str  # dlt resource and table name
    path: str  # path segment after the org
    primary_key: Tuple[str, ...]  # always led by org_id
    sort_param: str  # name of the sort query parameter
    update_field: Optional[str] = None  # None: the endpoint has no update time
    params: Dict[str, str] = field(default_factory=dict)  # sent on every request
    child_lists: Tuple[str, ...] = ()  # list fields that become child tables `<resource>__<field>`
    #: fields only a single-record read serves (the docs' response examples): not columns, since
    #: the sweep reads lists and could never fill them (`unserved.py` covers the other direction)
    item_only: Tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The record's own key (the primary key less `org_id`): what single-record paths take."""
        return self.primary_key[-1]

    @property
    def incremental(self) -> bool:
        return self.update_field is not None


MEMBERS = Endpoint(
    resource="members",
    path="users",
    primary_key=("org_id", "id"),
    sort_param="sort",
    update_field="updated_at",
    params={"with": "stats"},
)
GROUPS = Endpoint(
    resource="groups",
    path="groups",
    primary_key=("org_id", "id"),
    sort_param="sort_by",
    update_field="updated_at",
    child_lists=("members", "guests"),
)
TAGS = Endpoint(
    resource="tags",
    path="tags",
    primary_key=("org_id", "id"),
    sort_param="sort",
    params={"with": "statistics", "all": "true"},
)
GUESTS = Endpoint(
    resource="guests",
    path="guests",
    primary_key=("org_id", "email"),
    sort_param="sort",
)

ENDPOINTS: Dict[str, Endpoint] = {e.resource: e for e in (MEMBERS, GROUPS, TAGS, GUESTS)}

# Workflow data (issue 12, first slice): read in full on every run, each list twice (without
# `archived`, then `archived=only`), so the tables are exact whatever a truthy `archived` means.
# No `update_field`: the walk asks for no sort and keeps no cursor; rows.py's shaping still
# unifies `last_updated`/`updated_at` (see workflow.py).
TEMPLATES = Endpoint(
    resource="templates",
    path="checklists",
    primary_key=("org_id", "id"),
    sort_param="sort_by",
    params={"with": "steps,tags"},
    child_lists=("steps", "tags"),
    item_only=("prerun", "automated_actions", "webhook", "guidance", "alias", "folder_id", "kickoff_title",
               "kickoff_description", "is_public", "icon", "is_public_kickoff", "default_process_name_format",
               "explanation_video"),
)
PROCESSES = Endpoint(
    resource="processes",
    path="runs",
    primary_key=("org_id", "id"),
    sort_param="sort",
    params={"with": "tags"},
    child_lists=("kickoff_answers", "tags", "collaborators"),
)
TASKS = Endpoint(
    resource="tasks",
    path="tasks",
    primary_key=("org_id", "id"),
    sort_param="sort",
    params={"with": "tags,threads,form_fields"},
    child_lists=("assignees", "tags", "form_fields"),
    item_only=("can_complete_only_assignees", "max_assignable", "webhook", "top_secret"),
)
ACTIVITY = Endpoint(
    resource="activity",
    path="activity-feeds",
    primary_key=("org_id", "id"),
    sort_param="sort",
    params={"sort": "-created_at"},
)
#: workflow resources read in full with both `archived` walks
WORKFLOW_ENDPOINTS: Dict[str, Endpoint] = {e.resource: e for e in (TEMPLATES, PROCESSES, TASKS)}
#: comments come in the tasks walk (`with=threads`): the `tasks` dlt resource fills both tables.
#: Not a list endpoint: the table's name and key, for the deletion rows of `deletes.py`.
COMMENTS = Endpoint(resource="comments", path="", primary_key=("org_id", "id"), sort_param="")
COMMENTS_TABLE = COMMENTS.resource
WORKFLOW_NAMES = ("templates", "processes", "tasks", COMMENTS_TABLE, "activity")
RESOURCE_NAMES = tuple(ENDPOINTS) + WORKFLOW_NAMES
#: what `tallyfy-load` (and `select_resources`) load when no resource is named: everything
#: (the workflow resources are kept current through the activity feed between sweeps). A bare
#: `tallyfy_source()` still selects only the directory; name the others to add them.
DEFAULT_RESOURCES = RESOURCE_NAMES


def dlt_resource_names(names) -> Tuple[str, ...]:
    """The dlt resources that load the named tables (`comments` load with `tasks`)."""
    return tuple(dict.fromkeys("tasks" if n == COMMENTS_TABLE else n for n in names))

# The two spellings of a record's update time; the loaded column is always `updated_at`.
UPDATE_TIME_SPELLINGS = ("updated_at", "last_updated")
