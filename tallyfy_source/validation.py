"""Checks on the source's inputs, run before any request is sent.

Each failure is a `ConfigError` with one line saying what is wrong and how to fix it.
"""

import ipaddress
import json
import math
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union
from urllib.parse import SplitResult, urlsplit

from dlt.common.typing import ConfigValueSentinel

from tallyfy_source.api.endpoints import DEFAULT_RESOURCES, MAX_PER_PAGE, RESOURCE_NAMES
from tallyfy_source.read.deletes import DELETE_MODES
from tallyfy_source.errors import ConfigError

NO_ORG_ID = (
    "no org id: set SOURCES__TALLYFY__ORG_ID (or org_id under [sources.tallyfy] in"
    " .dlt/config.toml, or --org ID); it is the id in your Tallyfy URL"
)
NO_TOKEN = (
    "no access token: set SOURCES__TALLYFY__ACCESS_TOKEN (or access_token under"
    " [sources.tallyfy] in .dlt/secrets.toml); get one in Tallyfy under"
    " Settings > Integrations > REST API"
)
_ORG_ID = re.compile(r"^[A-Za-z0-9_.~-]+$")  # unreserved URL characters: safe as a path segment


def org_ids_from(value: Union[None, str, Iterable[str]]) -> List[str]:
    """One id, a comma-separated string, a JSON list (from an env var) or a list, as a clean list."""
    if value is None or isinstance(value, ConfigValueSentinel):
        raw: List[str] = []
    elif isinstance(value, str) and value.strip().startswith("["):
        try:
            raw = [str(v) for v in json.loads(value)]
        except ValueError:
            raise ConfigError(f"org id {value!r} is not a JSON list: write [\"id1\", \"id2\"] or id1,id2") from None
    elif isinstance(value, str):
        raw = value.split(",")
    else:
        raw = [str(v) for v in value]
    ids = [v.strip() for v in raw if v and v.strip()]
    if not ids:
        raise ConfigError(NO_ORG_ID)
    for org_id in ids:
        if not _ORG_ID.match(org_id) or org_id in (".", ".."):
            raise ConfigError(
                f"org id {org_id!r} has characters that cannot be part of a URL path: use the"
                " org id exactly as it appears in your Tallyfy URL (letters and digits)"
            )
    return list(dict.fromkeys(ids))


def tokens_by_org(org_ids: List[str], access_token: Any, access_tokens: Any) -> Dict[str, str]:
    """Each org's token: its own from `access_tokens` (a table org id -> token: a Tallyfy token
    belongs to one user in one org), else `access_token`. Refused before any request: an org
    with neither, a table that is not one, a token that is empty. Tokens are never echoed."""
    if access_tokens is None or isinstance(access_tokens, ConfigValueSentinel):
        own: Dict[str, Any] = {}
    elif isinstance(access_tokens, str):
        try:
            own = json.loads(access_tokens)
        except ValueError:
            own = None  # type: ignore[assignment]
    else:
        own = access_tokens
    if not isinstance(own, Mapping):
        raise ConfigError("access_tokens is not a table of org id -> token: write it as [sources.tallyfy.access_tokens]"
                          " in .dlt/secrets.toml, or SOURCES__TALLYFY__ACCESS_TOKENS as a JSON object")
    own = {str(k).strip(): v for k, v in own.items()}
    default = None if access_token is None or isinstance(access_token, ConfigValueSentinel) else access_token
    out = {}
    for org_id in org_ids:
        token = own.get(org_id, default)
        if token is None or not str(token).strip():
            if org_id in own:
                raise ConfigError(f"the access token of org {org_id} in access_tokens is empty")
            raise ConfigError(NO_TOKEN if not own else
                              f"no access token for org {org_id}: add it under [sources.tallyfy.access_tokens]"
                              " in .dlt/secrets.toml, or set access_token for the orgs without their own")
        out[org_id] = str(token).strip()
    return out


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_USERINFO = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://)?[^/?#]*@")  # user[:password]@ before the host


def check_base_url(base_url: Optional[str]) -> str:
    """The API root as requests will use it; never echoes credentials or a query back."""
    url = (base_url or "").strip()
    if _USERINFO.match(url):
        raise ConfigError(
            "base URL contains credentials (user:password@ before the host): remove them;"
            " the connector authenticates with the access token only"
        )
    _refuse_query_and_fragment(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"base URL {url!r} is not an http(s) URL: use https://go.tallyfy.com/api"
            " (or your simulator's http://127.0.0.1:PORT/api)"
        )
    _check_port(url, parts)
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"base URL {url!r} uses plain http to a remote host, which would send the token in"
            " clear text: use https://"
        )
    return url.rstrip("/")


def _refuse_query_and_fragment(url: str) -> None:
    """Request paths are appended to the base URL: a `?` or `#` in it sends every request to
    the wrong place. The query is not echoed: it may hold a key."""
    plain = url.split("?", 1)[0].split("#", 1)[0]
    if "?" in url:
        raise ConfigError(
            f"base URL {plain!r} has a query string: remove the query ('?' and all after it);"
            " the base URL is the API root alone, such as https://go.tallyfy.com/api"
        )
    if "#" in url:
        raise ConfigError(
            f"base URL {plain!r} has a fragment: remove the fragment ('#' and all after it);"
            " the base URL is the API root alone, such as https://go.tallyfy.com/api"
        )


def _check_port(url: str, parts: SplitResult) -> None:
    try:
        parts.port
    except ValueError:
        raise ConfigError(f"base URL {url!r} has a port that is not a number from 0 to 65535") from None


_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")


def check_pipeline_name(name: Optional[str]) -> str:
    """dlt makes a folder (and the lock a file) of this name: `../x` or `a/b` would land
    elsewhere, and dlt refuses `.` only after the lock file exists."""
    if name is None or not _NAME.fullmatch(name):
        raise ConfigError(
            f"pipeline name {str(name)[:60]!r} is not allowed: use 1 to 100 letters, digits,"
            " '_' or '-' (it names a folder under the pipelines dir)"
        )
    return name


def check_dataset_name(name: Optional[str]) -> str:
    """dlt would silently rename a dataset such as `../x` (to `_x`): the summary and the user's
    queries would then name a schema that does not exist."""
    if name is None or not _NAME.fullmatch(name):
        raise ConfigError(
            f"dataset name {str(name)[:60]!r} is not allowed: use 1 to 100 letters, digits,"
            " '_' or '-' (it names the schema the tables go to)"
        )
    return name


def check_per_page(per_page: int) -> int:
    try:
        value = int(per_page)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= MAX_PER_PAGE:
        raise ConfigError(f"per_page {per_page!r} is out of range: use a whole number from 1 to {MAX_PER_PAGE}")
    return value


def check_resources(names: Optional[Sequence[str]]) -> List[str]:
    if not names:
        return list(DEFAULT_RESOURCES)
    cleaned = [n.strip() for n in names if n and n.strip()]
    unknown = [n for n in cleaned if n not in RESOURCE_NAMES]
    if unknown or not cleaned:
        raise ConfigError(
            f"unknown resource {', '.join(unknown) or '(none)'}: choose from {', '.join(RESOURCE_NAMES)}"
        )
    return list(dict.fromkeys(cleaned))


def check_requests_per_minute(value: int) -> int:
    try:
        rate = int(value)
    except (TypeError, ValueError):
        rate = 0
    if rate < 1:
        raise ConfigError(
            f"requests_per_minute {value!r} must be a whole number of at least 1"
            " (Tallyfy allows 100 per minute per organization)"
        )
    return rate


def check_deleted_records(mode: str) -> str:
    if mode not in DELETE_MODES:
        raise ConfigError(f"deleted_records {mode!r} is not known: use \"delete\" or \"flag\"")
    return mode


def check_concurrency(value: int) -> int:
    try:
        concurrency = int(value)
    except (TypeError, ValueError):
        concurrency = 0
    if not 1 <= concurrency <= 32:
        raise ConfigError(f"concurrency {value!r} is out of range: use a whole number from 1 to 32")
    return concurrency


#: the longest interval between sweeps: one year (a larger one overflows date arithmetic, and a
#: sweep that never comes leaves deletions and missed feed events unhealed for good)
MAX_SWEEP_INTERVAL_HOURS = 8760


def check_sweep_interval_hours(value: float) -> float:
    """Hours between sweeps: a finite number from 0 (every run) to one year. NaN, infinity or a
    huge number would pass a plain `float()` and fail mid-run in the timedelta; a negative one
    is a typo."""
    try:
        hours = float(value)
    except (TypeError, ValueError):
        hours = math.nan
    if not math.isfinite(hours) or not 0 <= hours <= MAX_SWEEP_INTERVAL_HOURS:
        raise ConfigError(
            f"sweep_interval_hours {value!r} must be a number of hours from 0 to {MAX_SWEEP_INTERVAL_HOURS}"
            " (0: a full read every run; default 24)"
        )
    return hours


def check_request_timeout(value: float) -> float:
    """Seconds before a request is abandoned: a finite number above 0 (0 or less would make
    every request fail at once, and `requests` reads None as "wait forever")."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"request_timeout {value!r} must be a number of seconds above 0 (default 60)")
    return seconds


def check_max_attempts(value: int) -> int:
    """Tries per request: a whole number from 1 (no retry) to 20."""
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 20:
        raise ConfigError(f"max_attempts {value!r} must be a whole number from 1 to 20 (default 6)")
    return int(text)
