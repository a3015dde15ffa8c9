"""The two loaders a user might write instead of this connector, measured on the same simulator.

1. dlt's declarative `rest_api_source`, configured the obvious way (bearer auth,
   `page_number` paginator on `meta.pagination.total_pages`, per_page=100, merge
   on id), loaded with dlt's defaults (insert-values files into DuckDB).
2. A plain requests + pandas script in the style of Tallyfy's code samples:
   page by page with the server's default page size, `pd.json_normalize`, one
   DuckDB `CREATE TABLE AS SELECT * FROM df` per table. On a 429 it sleeps for
   Retry-After and asks the same page again, as a user would.

Both read the directory's four lists; with `workflow=True` (`make bench-workflow`) also the
workflow's: templates, processes and tasks with the same `with` includes as ours, and the
activity feed from the same first day, 100 a page (the script too: the API's maximum, which a user
fetching 50,000 tasks sets). A user reading the docs sends no `archived` parameter, so
archived records are not read (ours reads both walks: those rows are counted in its figures).
"""

import time
from typing import Any, Dict, List, Tuple

import dlt
from dlt.sources.rest_api import rest_api_source

from tallyfy_source.api.endpoints import ACTIVITY, CLIENT_HEADER, ENDPOINTS, WORKFLOW_ENDPOINTS, Endpoint

HEADERS = {"Accept": "application/json", CLIENT_HEADER[0]: CLIENT_HEADER[1]}


def endpoints(workflow: bool = False, activity_start: str = "") -> List[Tuple[Endpoint, Dict[str, str]]]:
    """(endpoint, query parameters) of every list a baseline reads."""
    lists = [(e, dict(e.params)) for e in ENDPOINTS.values()]
    if workflow:  # 100 a page, the most the API serves: at the default 10 the script needs hours here
        lists += [(e, {**e.params, "per_page": "100"}) for e in WORKFLOW_ENDPOINTS.values()]
        lists.append((ACTIVITY, {**ACTIVITY.params, "created_after": activity_start, "per_page": "100"}))
    return lists


def rest_api_config(base_url: str, token: str, org_id: str, workflow: bool = False,
                    activity_start: str = "") -> Dict[str, Any]:
    """The `rest_api_source` config a user would write from Tallyfy's API docs."""
    return {
        "client": {
            "base_url": base_url.rstrip("/") + "/",
            "auth": {"type": "bearer", "token": token},
            "headers": dict(HEADERS),
            "paginator": {
                "type": "page_number",
                "base_page": 1,
                "page_param": "page",
                "total_path": "meta.pagination.total_pages",
            },
        },
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": "merge",
            "endpoint": {"params": {"per_page": 100}, "data_selector": "data"},
        },
        "resources": [
            {
                "name": endpoint.resource,
                "endpoint": {"path": f"organizations/{org_id}/{endpoint.path}", "params": params},
            }
            for endpoint, params in endpoints(workflow, activity_start)
        ],
    }


def run_rest_api(base_url: str, token: str, org_id: str, db_path: str, pipelines_dir: str, workflow: bool = False,
                 activity_start: str = "") -> dlt.Pipeline:
    """Full load with `rest_api_source` into DuckDB; returns the pipeline (its trace has the timings)."""
    pipeline = dlt.pipeline(
        pipeline_name="bench_rest_api",
        pipelines_dir=pipelines_dir,
        destination=dlt.destinations.duckdb(credentials=db_path),
        dataset_name="tallyfy",
    )
    pipeline.run(rest_api_source(rest_api_config(base_url, token, org_id, workflow, activity_start)))
    return pipeline


def _get_all_pages(url: str, token: str, params: Dict[str, str]) -> List[Dict[str, Any]]:
    """Every record of one list endpoint, page by page, default page size."""
    import requests

    headers = {**HEADERS, "Authorization": f"Bearer {token}"}
    records: List[Dict[str, Any]] = []
    page = 1
    while True:
        response = requests.get(url, headers=headers, params={**params, "page": page}, timeout=120)
        if response.status_code == 429:
            time.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        response.raise_for_status()
        body = response.json()
        records.extend(body["data"])
        if page >= body["meta"]["pagination"]["total_pages"] or not body["data"]:
            return records
        page += 1


def run_requests_pandas(base_url: str, token: str, org_id: str, db_path: str, workflow: bool = False,
                        activity_start: str = "") -> Dict[str, Any]:
    """Full load with requests + pandas into DuckDB: {"rows": {table: n}, "seconds": {phase: s}}."""
    import duckdb
    import pandas as pd

    seconds = {"extract": 0.0, "normalize": 0.0, "load": 0.0}
    rows: Dict[str, int] = {}
    con = duckdb.connect(db_path)
    try:
        for endpoint, params in endpoints(workflow, activity_start):
            started = time.perf_counter()
            records = _get_all_pages(f"{base_url.rstrip('/')}/organizations/{org_id}/{endpoint.path}", token, params)
            fetched = time.perf_counter()
            df = pd.json_normalize(records)
            normalized = time.perf_counter()
            con.register("df", df)
            con.execute(f"CREATE OR REPLACE TABLE {endpoint.resource} AS SELECT * FROM df")
            con.unregister("df")
            loaded = time.perf_counter()
            rows[endpoint.resource] = len(df)
            seconds["extract"] += fetched - started
            seconds["normalize"] += normalized - fetched
            seconds["load"] += loaded - normalized
            del records, df
    finally:
        con.close()
    return {"rows": rows, "seconds": seconds}
