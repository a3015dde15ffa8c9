"""The `tallyfy` dlt source: settings checked, one session and request budget, and the two wings
assembled: the directory (`directory/`) and the workflow (`workflow/`), both over the kernel
(`api/` talks to Tallyfy, `shape/` turns records into rows, `read/` reads an org's endpoint and
proves deletions). Nothing else happens here.
"""

from typing import Any, Dict, List, Optional, Sequence

import dlt
from dlt.sources import DltResource

from tallyfy_source.api.budget import RequestBudget
from tallyfy_source.api.client import make_client, make_session
from tallyfy_source.api.endpoints import DEFAULT_BASE_URL, ENDPOINTS, MAX_PER_PAGE, dlt_resource_names
from tallyfy_source.directory.resources import endpoint_resource
from tallyfy_source.read.endpoint_read import ReadOptions, ReadReport
from tallyfy_source.read.merge import apply_file_format  # noqa: F401 (public: tallyfy_source.apply_file_format)
from tallyfy_source.read.orgs import Run
from tallyfy_source.validation import (
    check_base_url,
    check_concurrency,
    check_max_attempts,
    check_request_timeout,
    check_deleted_records,
    check_per_page,
    check_requests_per_minute,
    check_resources,
    check_sweep_interval_hours,
    tokens_by_org,
    org_ids_from,
)
from tallyfy_source.workflow.activity import check_start_date
from tallyfy_source.workflow.changes import WorkflowFeed
from tallyfy_source.workflow.kinds import KINDS
from tallyfy_source.workflow.resources import activity_resource, workflow_resource


def select_resources(source: Any, names: Optional[Sequence[str]]) -> Any:
    """The source with the named tables' resources selected (no names: the default ones;
    `comments` load with `tasks`); an unknown name is refused before any request."""
    return source.with_resources(*dlt_resource_names(check_resources(names)))


@dlt.source(name="tallyfy", section="tallyfy", max_table_nesting=1)
def tallyfy_source(
    org_id: Any = dlt.config.value,  # str or list of str; dlt 1.31 does not inject Union types
    access_token: Optional[str] = dlt.secrets.value,
    access_tokens: Optional[Dict[str, str]] = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    per_page: int = MAX_PER_PAGE,
    full_refresh: bool = False,
    requests_per_minute: int = 100,
    request_timeout: float = 60.0,
    max_attempts: int = 6,
    sweep: bool = False,
    sweep_interval_hours: float = 24.0,
    deleted_records: str = "delete",
    concurrency: int = 8,
    activity_start_date: Optional[str] = None,
    reports: Optional[List[ReadReport]] = None,
) -> List[DltResource]:
    """Members, groups, tags and guests of one or more Tallyfy organizations; on request
    (`select_resources` or `with_resources`) their templates, processes, tasks (with comments)
    and activity feed.

    Args:
        org_id: one org id, a list, a comma-separated string or a JSON list.
        access_token: a Tallyfy REST API token (secret), for every org without its own.
        access_tokens: a table org id -> that org's token (secret): a Tallyfy token belongs to
            one user in one org. Each token gets its own session and request budget.
        base_url: the API root; `https://go.tallyfy.com/api` for the real service.
        per_page: page size asked for on every request (1..100).
        full_refresh: ignore the stored cursors and read everything.
        requests_per_minute: the client-side request budget of each token for the whole run (Tallyfy
            publishes 100/minute per organization); also no 10 s window gets over a sixth.
        request_timeout: seconds before a request is abandoned and retried.
        max_attempts: tries per request before a 429/5xx/reset is given up.
        sweep: read every member and group (and template, process, task) this run to find
            deleted ones and what the activity feed missed.
        sweep_interval_hours: members and groups get a full key sweep, and templates, processes
            and tasks a full read, when the last one is older than this (0: every run); between
            sweeps the workflow resources follow the activity feed. Tags and guests are swept on
            every run.
        deleted_records: "delete" removes records missing upstream (and their child rows);
            "flag" keeps them with `missing_since` set to when they were found missing.
        concurrency: pages in flight per resource during a full read (all within the budget).
        activity_start_date: the first day (YYYY-MM-DD) of the activity feed to load; default 90
            days before the first run. Kept per org in the resource state after the first run.
        reports: a list that receives one `ReadReport` per (resource, org) walk.
    """
    org_ids = org_ids_from(org_id)
    start_date = check_start_date(activity_start_date)
    tokens = tokens_by_org(org_ids, access_token, access_tokens)
    url = check_base_url(base_url)
    page_size = check_per_page(per_page)
    per_minute = check_requests_per_minute(requests_per_minute)
    timeout, attempts = check_request_timeout(request_timeout), check_max_attempts(max_attempts)
    by_token = {}  # one session and budget per token: orgs that share a token share its budget
    for token in dict.fromkeys(tokens.values()):
        session = make_session(timeout=timeout, max_attempts=attempts,
                               budget=RequestBudget.shared(url, per_minute, token=token))
        by_token[token] = make_client(url, token, session=session)
    clients = {org: by_token[token] for org, token in tokens.items()}
    options = ReadOptions(
        per_page=page_size,
        concurrency=check_concurrency(concurrency),
        full_refresh=bool(full_refresh),
        sweep=bool(sweep),
        sweep_interval_hours=check_sweep_interval_hours(sweep_interval_hours),
        deleted_records=check_deleted_records(deleted_records),
    )
    run = Run(clients, options, org_ids, reports)
    feed = WorkflowFeed(clients, options)  # one feed read per org and run, shared by the workflow resources
    return ([endpoint_resource(run, endpoint) for endpoint in ENDPOINTS.values()]
            + [workflow_resource(run, kind, feed) for kind in KINDS.values()]
            + [activity_resource(run, start_date)])
