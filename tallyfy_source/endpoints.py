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
RESOURCE_NAMES = tuple(ENDPOINTS)

# The two spellings of a record's update time; the loaded column is always `updated_at`.
UPDATE_TIME_SPELLINGS = ("updated_at", "last_updated")
