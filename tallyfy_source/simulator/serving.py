"""How a stored record is served: the description of one served resource, the paging
parameters, sorting, and the API copy of a record (update-time key renamed, `with=` includes
wrapped as `{"data": ...}`).

Both the org (its `served()` oracle) and the server use this; it imports neither. A family
module (`directory.py`, later `workflow.py`) describes its resources with `ServedResource`;
`families.py` collects them by path segment.
"""

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from .records import TIE_FIELD, UPDATABLE
from .switches import DEFAULT, Switches
from .timestamps import parse_ts

#: the largest page the server hands out: a bigger `per_page` is cut to this
MAX_PER_PAGE = 100
#: fields compared as times when sorting (an unreadable time sorts with the missing ones)
TIME_FIELDS = {"created_at", "updated_at", "last_login_at", "last_accessed_at", "deadline", "completed_at",
               "started_at"}

Record = Dict[str, Any]
Query = Dict[str, str]
#: `(org, include) -> ctx`: indexes an include needs, built once per request
ContextBuilder = Callable[[Any, Set[str]], Dict[str, Any]]
#: `(org, record, include, ctx) -> {field: wrapped value}`: the includes asked for, in field order
IncludeRenderer = Callable[[Any, Record, Set[str], Dict[str, Any]], Dict[str, Any]]
#: `(org, query, settings, parent) -> keep(record)` or None: a filter that needs the org, the
#: simulator's switches (`archived_reading`, `feed_lag_seconds`) or a parent key (`/runs/{id}/tasks`)
ViewFilter = Callable[[Any, Query, Any, Optional[str]], Optional[Callable[[Record], bool]]]


def _no_context(org: Any, include: Set[str]) -> Dict[str, Any]:
    return {}


def _no_includes(org: Any, rec: Record, include: Set[str], ctx: Dict[str, Any]) -> Dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ServedResource:
    """What the server does with one record kind: its routes, paging, order, search, includes.
    The org stores the records; this says how the API hands them out."""

    resource: str  # the org's record kind
    path: str  # path segment after `/organizations/{org}/`
    model: str  # model name in a single record's 404 message
    default_per_page: int  # the page size when `per_page` is absent
    sort_params: Tuple[str, ...]  # accepted sort parameter names, the first non-empty one counts
    sort_fields: Dict[str, str]  # sortable name -> stored field compared (`-field`: descending unless `-name`)
    default_sort: Any  # stored field (or tuple of fields) of the default order; ties by id
    search_fields: Tuple[str, ...]  # fields `q` searches (case-insensitive substring)
    item_key: Callable[[str], Any] = str  # path segment -> the org's key (None: no such record)
    #: `query -> keep(record)`, or None when the query shows every record
    list_filter: Optional[Callable[[Query], Optional[Callable[[Record], bool]]]] = None
    include_context: ContextBuilder = field(default=_no_context)
    includes: IncludeRenderer = field(default=_no_includes)
    default_descending: bool = False  # the default order runs newest/largest first
    #: sort names honoured even when the simulator ignores sorting (documented, not update time)
    documented_sorts: Tuple[str, ...] = ()
    view_filter: Optional[ViewFilter] = None
    item_only: Tuple[str, ...] = ()  # fields only a single-record read carries
    nested: bool = False  # records hold nested containers: served copies are deep
    #: `(org, rec, out, ctx)`: reshapes the served copy `out` into the documented form (in place)
    shape: Optional[Callable[[Any, Record, Record, Dict[str, Any]], None]] = None
    #: `(org, parent) -> records`: where a nested list's records come from (else `org.values`)
    source: Optional[Callable[[Any, Optional[str]], List[Record]]] = None
    #: `(org, parent, key) -> record or None`: a nested single read (`/runs/{run}/tasks/{task}`)
    item_lookup: Optional[Callable[[Any, Optional[str], Any], Optional[Record]]] = None

    def default_order(self) -> Tuple[Any, bool]:
        return self.default_sort, self.default_descending

    def order(self, query: Query, only: Optional[Tuple[str, ...]] = None) -> Tuple[Any, bool]:
        """(stored field, descending) the query asks for; the default order when it names no
        sortable field (the first sort parameter given decides, even when its field is unknown).
        `only`: the sort names still honoured (the rest give the default order)."""
        for name in self.sort_params:
            spec = query.get(name, "").strip()
            if not spec:
                continue
            sort_name = spec.lstrip("-+").strip()
            stored = self.sort_fields.get(sort_name)
            if stored is not None and (only is None or sort_name in only):
                return stored.lstrip("-"), spec.startswith("-") != stored.startswith("-")
            break  # unknown field: default order
        return self.default_order()

    def select(self, recs: List[Record], query: Query, org: Any = None, settings: Any = None,
               parent: Optional[str] = None) -> List[Record]:
        """The records a list request shows, order kept: the list filter, the view filter, then `q`."""
        keep = self.list_filter(query) if self.list_filter is not None else None
        if keep is not None:
            recs = [r for r in recs if keep(r)]
        keep = self.view_filter(org, query, settings, parent) if self.view_filter is not None else None
        if keep is not None:
            recs = [r for r in recs if keep(r)]
        q = query.get("q", "")
        if q:
            needle = q.casefold()
            recs = [r for r in recs if any(needle in str(r.get(f) or "").casefold() for f in self.search_fields)]
        return recs


# ------------------------------------------------------------------ paging
def paging(query: Dict[str, str], default_per_page: int) -> Tuple[int, int, Dict[str, List[str]]]:
    """(per_page, page, validation errors) of a list request; a `per_page` above the cap is cut."""
    errors: Dict[str, List[str]] = {}
    per_page = default_per_page
    if "per_page" in query:
        try:
            per_page = int(query["per_page"])
            if per_page <= 0:
                errors["per_page"] = ["The per page must be at least 1."]
        except ValueError:
            errors["per_page"] = ["The per page must be an integer."]
        per_page = min(per_page, MAX_PER_PAGE)
    page = 1
    if "page" in query:
        try:
            page = int(query["page"])
            if page <= 0:
                errors["page"] = ["The page must be at least 1."]
        except ValueError:
            errors["page"] = ["The page must be an integer."]
    return per_page, page, errors


# ------------------------------------------------------------------ sorting
def _sort_value(rec: Record, field: Any):
    if isinstance(field, tuple):
        return tuple(_sort_value(rec, f) for f in field)
    value = rec.get(field)
    if value is None:
        return (0, "")
    if field in TIME_FIELDS and isinstance(value, str):
        try:
            return (1, parse_ts(value))
        except ValueError:
            return (0, "")  # an unreadable time sorts with the missing ones
    if isinstance(value, str):
        return (1, value.casefold())
    return (1, value)


def sort_records(resource: str, recs: List[Record], field: Any, descending: bool = False) -> List[Record]:
    """Sort by a stored field, ties broken by the record's id (same direction)."""
    tie = TIE_FIELD[resource]
    return sorted(recs, key=lambda r: (_sort_value(r, field), r[tie]), reverse=descending)


# ------------------------------------------------------------------ rendering
def switches(settings: Any = None, update_field_name: Optional[str] = None) -> Switches:
    """The switches of `settings` (a `Simulator`, a `Switches` or None: the documented forms),
    the update-time name replaced when one is given."""
    sw = Switches.of(settings) if settings is not None else DEFAULT
    if update_field_name is not None and update_field_name != sw.update_field_name:
        sw = dataclasses.replace(sw, update_field_name=update_field_name)
    return sw


def context(served: ServedResource, org: Any, include: Set[str], update_field_name: Optional[str] = None,
            query: Optional[Query] = None, single: bool = False, settings: Any = None) -> Dict[str, Any]:
    """What rendering a request's records needs: the family's indexes plus the request's
    switches, query and whether it reads one record (keys `_sw`, `_query`, `_single`, which the
    directory's includes never read)."""
    ctx = served.include_context(org, include)
    ctx.update(_sw=switches(settings, update_field_name), _query=query or {}, _single=single, _include=include)
    return ctx


def serve_record(served: ServedResource, org: Any, rec: Record, include: Set[str],
                 update_field_name: Optional[str] = None, ctx: Optional[Dict[str, Any]] = None) -> Record:
    """The API copy of a stored record: update-time key renamed, includes wrapped, fields only
    a single read carries dropped from list rows, then the resource's documented shape."""
    if ctx is None:
        ctx = context(served, org, include, update_field_name)
    name = ctx["_sw"].update_name(served.resource) if "_sw" in ctx else (update_field_name or "updated_at")
    if served.resource in UPDATABLE and name != "updated_at":
        out = {(name if k == "updated_at" else k): v for k, v in rec.items()}
    else:
        out = dict(rec)
    if served.nested:
        out = copy.deepcopy(out)
    else:
        for k, v in out.items():  # records are flat: one level of copying is enough
            if isinstance(v, list):
                out[k] = list(v)
            elif isinstance(v, dict):
                out[k] = dict(v)
    if not ctx.get("_single"):
        for f in served.item_only:
            out.pop(f, None)
    out.update(served.includes(org, rec, include, ctx))
    if served.shape is not None:
        served.shape(org, rec, out, ctx)
    return out


def serve_all(served: ServedResource, org: Any, records: Iterable[Record], include: Iterable[str] = (),
              update_field_name: Optional[str] = None, query: Optional[Query] = None, settings: Any = None,
              parent: Optional[str] = None) -> List[Record]:
    """Every record a list request with `query` shows, in the default order, as served
    (not paged). Call with the org's lock held."""
    query = query or {}
    recs = served.select(list(records), query, org, settings, parent)
    recs = sort_records(served.resource, recs, *served.default_order())
    include = set(include)
    ctx = context(served, org, include, update_field_name, query, settings=settings)
    return [serve_record(served, org, r, include, update_field_name, ctx) for r in recs]
