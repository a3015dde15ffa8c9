"""Typed failures raised at the HTTP edge; the command turns them into one-line messages.

Messages name the org, the endpoint and the fix, and never contain the token.
"""

from typing import Iterator, Optional
from urllib.parse import urlsplit


class TallyfyError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(TallyfyError):
    """Bad input found before any request is sent."""


class TallyfyAPIError(TallyfyError):
    """The API answered with an error that retrying will not fix."""

    def __init__(self, message: str, status: Optional[int] = None, org_id: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.org_id = org_id


class PaginationError(TallyfyError):
    """The server's pages cannot be trusted (e.g. the same page served twice)."""


def shown_url(url: str, path: bool = True) -> str:
    """`url` as a message may show it: scheme, host, port and (if `path`) path only.

    Why: user:password@ and query strings can carry credentials; messages never echo them.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6
    try:
        port = parts.port
    except ValueError:
        port = None
    origin = f"{parts.scheme}://{host}{f':{port}' if port else ''}"
    return origin + (parts.path if path else "")


def stops_every_org(error: BaseException) -> bool:
    """401 (the token) and a redirect (the base URL) are every org's: the run stops at once
    instead of failing org by org."""
    status = getattr(error, "status", None) or 0
    return status == 401 or 300 <= status < 400


def causes(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it was raised from, outermost first."""
    seen = set()
    current = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        nested = getattr(current, "exception", None)
        current = nested if isinstance(nested, BaseException) else (current.__cause__ or current.__context__)
