"""THE single-record GET (`/organizations/{org}/{path}/{key}`) and what its answer proves.

Every single read goes through `read_one`: the sweep's check of a key it did not see, a changed
template, process or task the activity feed names, a template's kick-off labels. One contract
(`SingleAnswer.outcome`): "found" (the record), "deleted" (a 404 that names the record: proof),
"forbidden" (403: the token may not read single records), "unknown" (anything else, including a
429/5xx/cut body still failing after the session's retries: proves nothing).
"""

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, Optional, Tuple, TypeVar
from urllib.parse import quote

from dlt.sources.helpers.rest_client import RESTClient

from tallyfy_source.api.client import RetryableStatus, UnreadableBody, api_error, check_item_response
from tallyfy_source.api.endpoints import Endpoint
from tallyfy_source.errors import TallyfyAPIError

Row = Dict[str, Any]
K = TypeVar("K")
_COUNTING = threading.Lock()


def names_a_missing_record(response: Any, key: Any) -> bool:
    """A 404 is proof of a deletion only when it is Tallyfy's JSON error about the record: code
    RESOURCE_NOT_FOUND, or (no code) a message naming it ("No query results for model [User]
    123"). An ENDPOINT_NOT_FOUND, or a proxy's HTML 404, proves nothing."""
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    code = body.get("code")
    if code is not None:
        return code == "RESOURCE_NOT_FOUND"
    message = str(body.get("message") or "")
    return "no query results" in message.lower() or (str(key) in message)


@dataclass(frozen=True)
class SingleAnswer:
    """What one single-record GET proved (see the module doc)."""

    outcome: str
    record: Optional[Row] = None
    error: Optional[BaseException] = None

    def record_or_raise(self, what: str) -> Optional[Row]:
        """For a reader that must know: the record, None when deleted, else the failure
        (`what` names the record in the error, e.g. "org X, processes Y")."""
        if self.outcome == "found":
            return self.record
        if self.outcome == "deleted":
            return None
        if isinstance(self.error, TallyfyAPIError):
            raise TallyfyAPIError(f"{what}: {self.error}", status=self.error.status, org_id=self.error.org_id)
        raise self.error if self.error is not None else TallyfyAPIError(f"{what}: no answer")


def read_one(client: RESTClient, org_id: str, path: str, key: Any, params: Dict[str, str]) -> SingleAnswer:
    """GET one record by its key (`path`: the list's path, e.g. `users`, `runs`)."""
    url = f"organizations/{org_id}/{path}/{quote(str(key), safe='@')}"
    try:  # 429/5xx and a cut or HTML 200 are retried in the session, like a page
        response = client.get(url, params=dict(params), hooks={"response": [check_item_response]})
    except (RetryableStatus, UnreadableBody) as error:
        return SingleAnswer("unknown", error=error)
    status = response.status_code
    if status == 200:  # the hook parsed and checked the body; a client without hooks did not
        body = getattr(response, "_tallyfy_body", None)
        if body is None:
            try:
                body = response.json()
            except ValueError:
                body = None
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, dict):
            return SingleAnswer("found", data)
        return SingleAnswer("unknown", error=UnreadableBody(response))
    if status == 404 and names_a_missing_record(response, key):
        return SingleAnswer("deleted")
    return SingleAnswer("forbidden" if status == 403 else "unknown", error=api_error(response, org_id))


def get_one(client: RESTClient, endpoint: Endpoint, org_id: str, key: Any, params: Dict[str, str],
            report: Any) -> Optional[Row]:
    """A record a reader must have (a changed record, a template's labels): its raw data, None
    when deleted upstream; anything else fails the org's read (its cursor stays). The request is
    counted on `report` (anything with a `requests` count; reads side by side count under a lock)."""
    with _COUNTING:
        report.requests += 1
    return read_one(client, org_id, endpoint.path, key, params).record_or_raise(
        f"org {org_id}, {endpoint.resource} {key}")


def side_by_side(fetch: Callable[[K], Any], keys: Iterable[K], workers: int) -> Iterator[Tuple[K, Any]]:
    """(key, fetch(key)) for each key in order, `workers` fetches in flight (the session's
    request budget paces them): changed records read one at a time cost one latency each.
    At most 2 x `workers` answers wait to be taken; a failure raises when its key's turn comes.
    Written here because dlt's REST client pages concurrently but has no map over single reads."""
    keys = list(keys)
    if workers <= 1 or len(keys) <= 1:
        for key in keys:
            yield key, fetch(key)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tallyfy-single") as pool:
        window: Deque[Tuple[K, Future]] = deque()
        try:
            for key in keys:
                window.append((key, pool.submit(fetch, key)))
                if len(window) >= 2 * workers:
                    done_key, future = window.popleft()
                    yield done_key, future.result()
            while window:
                done_key, future = window.popleft()
                yield done_key, future.result()
        finally:
            for _, future in window:  # a failure or a closed reader: nothing more is asked
                future.cancel()
