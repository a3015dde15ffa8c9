"""A dlt source for Tallyfy: members, groups, tags and guests of one or more organizations,
and on request their templates, processes, tasks, comments and activity feed."""

from tallyfy_source.api.endpoints import DEFAULT_BASE_URL, RESOURCE_NAMES
from tallyfy_source.errors import ConfigError, PaginationError, TallyfyAPIError, TallyfyError
from tallyfy_source.source import apply_file_format, select_resources, tallyfy_source

__all__ = [
    "tallyfy_source",
    "select_resources",
    "apply_file_format",
    "RESOURCE_NAMES",
    "DEFAULT_BASE_URL",
    "TallyfyError",
    "TallyfyAPIError",
    "ConfigError",
    "PaginationError",
]
