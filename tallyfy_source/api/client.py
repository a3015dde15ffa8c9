"""The HTTP session to Tallyfy: base URL, the three required headers, auth, retries.

dlt's `RESTClient` does the requests; this module gives it a session that
(1) sends spaces as `%20` (Tallyfy does not decode `+`), (2) retries 429/5xx,
dropped connections, timeouts and truncated bodies (not a refused connection) with dlt's own Retry-After-aware
backoff, logging one line per retry, (3) never follows a redirect (the bearer
token must not travel to another host) and (4) turns the errors that retrying
cannot fix, a redirect included, into `TallyfyAPIError`s that say what to do.
"""

import logging
from typing import Any, List, Optional
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

import requests
from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.sources.helpers.requests.retry import (
    DEFAULT_RETRY_EXCEPTIONS,
    DEFAULT_RETRY_STATUS,
    retry_if_status,
    wait_exponential_retry_after,
)
from dlt.sources.helpers.requests.session import Session
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from requests import HTTPError, Response
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_all,
    retry_any,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
)

from tallyfy_source.api.endpoints import CLIENT_HEADER
from tallyfy_source.errors import TallyfyAPIError, shown_url

logger = logging.getLogger("tallyfy_source")


class UnreadableBody(Exception):
    """A 200 answer whose body is not the JSON envelope (truncated or HTML): retried."""

    def __init__(self, response: Response):
        super().__init__(f"unreadable body from {_path_of(response.url)} (HTTP {response.status_code})")
        self.response = response


class RetryableStatus(HTTPError):
    """429 or 5xx: retried with backoff; raised to the caller once retries run out."""

    def __init__(self, response: Response):
        super().__init__(
            f"HTTP {response.status_code} on GET {_path_of(response.url)}: the API kept failing"
            " after every retry; try again later",
            response=response,
        )


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class TallyfySession(Session):
    """dlt's session, plus Tallyfy's query encoding, an optional request budget, and no redirects.

    `requests` encodes a space as `+`, which Tallyfy reads literally; a literal
    `+` is always encoded as `%2B`, so every `+` left in the query is a space.
    `base_url` (set by `make_client`) lets a redirect error name the base URL to use.
    """

    def __init__(self, timeout: float, budget: Any = None):
        super().__init__(timeout=timeout, raise_for_status=False)
        self.budget = budget
        self.base_url: Optional[str] = None

    def prepare_request(self, request):  # type: ignore[no-untyped-def]
        prepared = super().prepare_request(request)
        parts = urlsplit(prepared.url)
        if "+" in parts.query:
            prepared.url = urlunsplit(parts._replace(query=parts.query.replace("+", "%20")))
        return prepared

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        """Send once, never following a redirect: `requests` would follow it with our headers."""
        if self.budget is not None:
            self.budget.acquire()
        kwargs["allow_redirects"] = False
        response = super().send(request, **kwargs)
        if is_redirect(response):
            response.close()
            raise redirect_error(response, self.base_url)  # not retried: the next answer is the same
        return response


def is_redirect(response: Response) -> bool:
    return 300 <= response.status_code < 400


_NOT_FOLLOWED = "(the connector never follows redirects, so the token is not sent to another host)"


def redirect_error(response: Response, base_url: Optional[str] = None) -> TallyfyAPIError:
    """One line: where the API sent us and which base URL to configure instead; no
    credentials or query string of either URL."""
    status = response.status_code
    request_url = response.request.url if response.request is not None else response.url
    where = f"HTTP {status} on GET {urlsplit(request_url).path}"
    location = response.headers.get("Location")
    if not location:
        fix = f"the API answered with a redirect but no Location: check base_url {_NOT_FOLLOWED}"
        return TallyfyAPIError(f"{where}: {fix}", status=status)
    target = urljoin(request_url, location)
    suggestion = suggested_base_url(request_url, target, base_url)
    message = f"{where}: the API redirected to {shown_url(target)}; point base_url at {suggestion} {_NOT_FOLLOWED}"
    return TallyfyAPIError(message, status=status)


def suggested_base_url(request_url: str, target: str, base_url: Optional[str]) -> str:
    """The redirect target minus the request's path below the configured base, when the
    target ends with that same path; else the target's scheme://host."""
    origin = shown_url(target, path=False)
    request_path, target_path = urlsplit(request_url).path, urlsplit(target).path
    base_path = urlsplit(base_url).path.rstrip("/") if base_url else None
    if base_path is None or not request_path.startswith(base_path + "/"):
        return origin
    below_base = request_path[len(base_path):]
    if not target_path.endswith(below_base):
        return origin
    return origin + target_path[: -len(below_base)]


def _log_retry(state: RetryCallState) -> None:
    """One line per retry: endpoint, page, status, wait (the URL is logged without its host).

    The URL comes from the retried `send(request)` itself: a dropped connection
    or a short read carries no response, and not always a request.
    """
    outcome = state.outcome
    exc = outcome.exception() if outcome else None
    response = getattr(exc, "response", None) if exc else (outcome.result() if outcome else None)
    if isinstance(response, Response):
        what = "unreadable body" if isinstance(exc, UnreadableBody) else f"HTTP {response.status_code}"
    else:
        what = type(exc).__name__ if exc else "error"
    request = state.args[0] if state.args else None
    url = getattr(request, "url", None) or getattr(response, "url", None) or ""
    wait = state.next_action.sleep if state.next_action else 0.0
    parts = urlsplit(url)
    page = (parse_qs(parts.query).get("page") or ["1"])[0]
    logger.warning(
        "retry %d: GET %s page %s got %s, waiting %.2fs", state.attempt_number, parts.path, page, what, wait
    )


def runtime_backoff_factor() -> float:
    """dlt's `request_backoff_factor` (`RUNTIME__REQUEST_BACKOFF_FACTOR`, default 1), as dlt's
    own `requests` helper reads it: the first retry waits this many seconds, then 2x, 4x, ..."""
    return float(resolve_configuration(RuntimeConfiguration()).request_backoff_factor)


def make_session(
    timeout: float = 60.0,
    max_attempts: int = 6,
    backoff_factor: Optional[float] = None,
    max_retry_delay: float = 60.0,
    budget: Any = None,
    pool_size: int = 32,  # 4 resources x 8 pages in flight: no connection is opened twice
) -> TallyfySession:
    """A session whose `send` retries like Tallyfy's official clients (429, 5xx, resets).

    A `Retry-After` in seconds or as an HTTP date is waited out (capped at
    `max_retry_delay`); without one, or with `0`, the wait is exponential:
    `backoff_factor` (default: dlt's runtime config) x 1, 2, 4, ... seconds.
    """
    if backoff_factor is None:
        backoff_factor = runtime_backoff_factor()
    session = TallyfySession(timeout=timeout, budget=budget)
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    retrying = Retrying(
        wait=wait_exponential_retry_after(multiplier=backoff_factor, max=max_retry_delay),
        retry=retry_any(
            retry_if_status(DEFAULT_RETRY_STATUS),
            retry_all(
                retry_if_exception_type(tuple(DEFAULT_RETRY_EXCEPTIONS) + (UnreadableBody,)),
                retry_if_exception(lambda error: not connection_refused(error)),
            ),
        ),
        stop=stop_after_attempt(max_attempts),
        before_sleep=_log_retry,
        reraise=True,
        retry_error_callback=lambda state: state.outcome.result(),
    )
    session.send = retrying.wraps(session.send)  # type: ignore[method-assign]
    return session


def connection_refused(error: BaseException) -> bool:
    """Nothing listens at the host and port (wrong base URL, API down): the answer will be the
    same in a second, so it is not retried (a timeout or a reset still is). requests wraps the
    OS error in urllib3's MaxRetryError > NewConnectionError."""
    seen = set()
    current: Any = error
    while isinstance(current, BaseException) and id(current) not in seen:
        if isinstance(current, ConnectionRefusedError):
            return True
        seen.add(id(current))
        reason = getattr(current, "reason", None)
        first_arg = current.args[0] if current.args else None
        current = next((e for e in (reason, first_arg, current.__cause__, current.__context__)
                        if isinstance(e, BaseException) and id(e) not in seen), None)
    return False


def check_response(response: Response, *args: Any, **kwargs: Any) -> None:
    """Response hook: read the envelope once, or raise an error that says what to do.

    Runs inside the retried `send`, so a truncated body is retried like a 503. A
    redirect is left to `TallyfySession.send`, which knows the base URL.
    """
    if is_redirect(response):
        return
    if response.status_code in DEFAULT_RETRY_STATUS:
        raise RetryableStatus(response)  # dlt's retry reads `.response` for Retry-After
    if response.status_code >= 400:
        raise api_error(response)
    try:
        body = response.json()
    except ValueError:
        raise UnreadableBody(response) from None
    if not isinstance(body, dict) or "data" not in body:
        raise UnreadableBody(response)
    response._tallyfy_body = body  # type: ignore[attr-defined]


def check_item_response(response: Response, *args: Any, **kwargs: Any) -> None:
    """Response hook of a single-record GET: 429/5xx and a 200 whose body is not `{"data": {...}}`
    (truncated, HTML) are retried like a list page; any other status is left to the caller (a
    404 may prove a deletion)."""
    if is_redirect(response):
        return
    if response.status_code in DEFAULT_RETRY_STATUS:
        raise RetryableStatus(response)
    if response.status_code != 200:
        return
    try:
        body = response.json()
    except ValueError:
        raise UnreadableBody(response) from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise UnreadableBody(response)
    response._tallyfy_body = body  # type: ignore[attr-defined]


_FIXES = {
    401: "token rejected: check the access token; personal access tokens expire after 6 months"
    " and die when their user logs out of the web app, so use a dedicated service user",
    403: "access denied: the token's user cannot read this organization (wrong org id,"
    " or the user is not an admin of it)",
    404: "not found: check the org id and the base URL (https://go.tallyfy.com/api)",
}


def api_error(response: Response, org_id: Optional[str] = None) -> TallyfyAPIError:
    """A one-line, token-free description of an error answer."""
    status = response.status_code
    try:
        body = response.json()
        detail = body.get("message") or body.get("code") or ""
    except ValueError:
        detail = ""
    fix = _FIXES.get(status, "the API refused the request")
    request_url = response.request.url if response.request is not None else response.url
    msg = f"HTTP {status} on GET {urlsplit(request_url).path}: {fix}"
    if detail:
        msg += f" (server said: {str(detail)[:200]})"
    return TallyfyAPIError(msg, status=status, org_id=org_id)


class TallyfyRESTClient(RESTClient):
    """dlt's RESTClient, reusing the body `check_response` already parsed (no second JSON parse)."""

    def extract_response(self, response: Response, data_selector: Any) -> List[Any]:
        body = getattr(response, "_tallyfy_body", None)
        if body is None:
            return super().extract_response(response, data_selector)
        data = body.get("data")
        if data is None:
            return []
        return data if isinstance(data, list) else [data]


def make_client(base_url: str, access_token: str, session: Optional[TallyfySession] = None) -> RESTClient:
    """A dlt `RESTClient` for Tallyfy: bearer auth, JSON, `X-Tallyfy-Client`, `data` selector."""
    session = session or make_session()
    session.base_url = base_url.rstrip("/")
    return TallyfyRESTClient(
        base_url=base_url.rstrip("/"),
        headers={"Accept": "application/json", CLIENT_HEADER[0]: CLIENT_HEADER[1]},
        auth=BearerTokenAuth(access_token),
        data_selector="data",
        session=session,
    )


def describe_failure(error: BaseException) -> str:
    """One line for a failed walk; connection failures said plainly, without library internals."""
    request = getattr(error, "request", None)
    url = getattr(request, "url", None) or ""
    where = urlsplit(url)
    if isinstance(error, requests.exceptions.Timeout):
        return f"no answer from {where.hostname or 'the API'} on GET {where.path} in time, after every retry; try again later"
    if isinstance(error, requests.exceptions.ConnectionError):
        reason = "connection refused" if connection_refused(error) else "connection failed"
        host = shown_url(url, path=False) if where.netloc else "the API"
        return f"cannot reach {host} ({reason}) on GET {where.path}: check the base URL and the network"
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
