"""The `tallyfy` dlt source: one merge resource per endpoint, hints and wiring only.

HTTP details live in `client.py`, the page walk in `paging.py` and
`reading.py`, row shaping in `rows.py`.
"""

import logging
from typing import Any, Dict, Iterator, List, Optional, Sequence

import dlt
from dlt.extract.hints import make_nested_hints
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient

from .budget import RequestBudget
from .client import make_client, make_session
from .columns import COLUMNS, GROUP_GUEST_COLUMNS, GROUP_MEMBER_COLUMNS
from .endpoints import DEFAULT_BASE_URL, ENDPOINTS, MAX_PER_PAGE, Endpoint
from .reading import Cursor, ReadReport, read_endpoint
from .validation import (
    check_base_url,
    check_per_page,
    check_requests_per_minute,
    check_token,
    org_ids_from,
)

logger = logging.getLogger("tallyfy_source")

NESTED_HINTS = {
    "groups": {
        "members": make_nested_hints(columns=GROUP_MEMBER_COLUMNS),
        "guests": make_nested_hints(columns=GROUP_GUEST_COLUMNS),
    }
}


def endpoint_rows(
    client: RESTClient,
    endpoint: Endpoint,
    org_ids: Sequence[str],
    per_page: int = MAX_PER_PAGE,
    full_refresh: bool = False,
    reports: Optional[List[ReadReport]] = None,
) -> Iterator[List[Dict[str, Any]]]:
    """Pages of rows of one endpoint for every org.

    Members and groups keep one cursor per org in the resource state (dlt's
    `incremental` holds one cursor per resource, which would let a lagging org
    skip changes); the state is committed by dlt only with the loaded package.
    """
    state = dlt.current.resource_state().setdefault("cursors", {}) if endpoint.incremental else {}
    for org_id in org_ids:
        cursor = Cursor() if full_refresh else Cursor.from_state(state.get(org_id))
        report = ReadReport(endpoint.resource, org_id)
        yield from read_endpoint(client, endpoint, org_id, per_page, cursor, report)
        if endpoint.incremental:
            state[org_id] = cursor.to_state()
        logger.info(
            "%s of org %s: %s read, %d requests, %d rows read, %d new or changed",
            endpoint.resource, org_id, report.mode, report.requests, report.rows_read, report.rows_yielded,
        )
        if reports is not None:
            reports.append(report)


def endpoint_resource(
    endpoint: Endpoint,
    client: RESTClient,
    org_ids: Sequence[str],
    per_page: int = MAX_PER_PAGE,
    full_refresh: bool = False,
    reports: Optional[List[ReadReport]] = None,
) -> DltResource:
    """The dlt resource for one endpoint: merge on (org_id, key), declared columns."""
    return dlt.resource(
        endpoint_rows,
        name=endpoint.resource,
        primary_key=list(endpoint.primary_key),
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=COLUMNS[endpoint.resource],
        nested_hints=NESTED_HINTS.get(endpoint.resource),
    )(client, endpoint, org_ids, per_page, full_refresh, reports)


@dlt.source(name="tallyfy", section="tallyfy", max_table_nesting=1)
def tallyfy_source(
    org_id: Any = dlt.config.value,  # str or list of str; dlt 1.31 does not inject Union types
    access_token: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    per_page: int = MAX_PER_PAGE,
    full_refresh: bool = False,
    requests_per_minute: int = 100,
    request_timeout: float = 60.0,
    max_attempts: int = 6,
    reports: Optional[List[ReadReport]] = None,
) -> List[DltResource]:
    """Members, groups, tags and guests of one or more Tallyfy organizations.

    Args:
        org_id: one org id, a list, a comma-separated string or a JSON list.
        access_token: a Tallyfy REST API token (secret).
        base_url: the API root; `https://go.tallyfy.com/api` for the real service.
        per_page: page size asked for on every request (1..100).
        full_refresh: ignore the stored cursors and read everything.
        requests_per_minute: the client-side request budget for the whole run (Tallyfy
            publishes 100/minute per organization); also no 10 s window gets over a sixth.
        request_timeout: seconds before a request is abandoned and retried.
        max_attempts: tries per request before a 429/5xx/reset is given up.
        reports: a list that receives one `ReadReport` per (resource, org) walk.
    """
    org_ids = org_ids_from(org_id)
    token = check_token(access_token)
    url = check_base_url(base_url)
    page_size = check_per_page(per_page)
    budget = RequestBudget(check_requests_per_minute(requests_per_minute))
    session = make_session(timeout=request_timeout, max_attempts=max_attempts, budget=budget)
    client = make_client(url, token, session=session)
    return [
        endpoint_resource(endpoint, client, org_ids, page_size, full_refresh, reports)
        for endpoint in ENDPOINTS.values()
    ]
