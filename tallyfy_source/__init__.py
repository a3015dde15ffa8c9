"""A dlt source for Tallyfy: members, groups, tags and guests of one or more organizations."""

from .endpoints import DEFAULT_BASE_URL, RESOURCE_NAMES
from .errors import ConfigError, PaginationError, TallyfyAPIError, TallyfyError
from .source import tallyfy_source

__all__ = [
    "tallyfy_source",
    "RESOURCE_NAMES",
    "DEFAULT_BASE_URL",
    "TallyfyError",
    "TallyfyAPIError",
    "ConfigError",
    "PaginationError",
]
