"""Typed failures raised at the HTTP edge; the command turns them into one-line messages.

Messages name the org, the endpoint and the fix, and never contain the token.
"""

from typing import Optional


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
