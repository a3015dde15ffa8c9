"""The directory family: members (`users`), groups, tags and guests, as the server serves them.

One `ServedResource` per endpoint: its path, the server's own default page size (what Tallyfy
uses when `per_page` is absent), the sort parameter names it accepts, the fields it sorts by,
its default order, the fields `q` searches, its model name, and how its `with=` includes look.
This is the simulator's idea of the server, written apart from the client's endpoint table.
"""

from typing import Any, Dict, List, Set

from . import shapes
from .serving import Record, ServedResource, sort_records


def _member_key(segment: str) -> Any:
    try:
        return int(segment)
    except ValueError:
        return None  # users are numbered: anything else names no member


def _member_context(org: Any, include: Set[str]) -> Dict[str, Any]:
    """`with=groups`: each member's groups, in the groups' list order."""
    ctx: Dict[str, Any] = {}
    if "groups" in include:
        idx: Dict[int, List[Record]] = {}
        for g in sort_records("groups", org.values("groups"), GROUPS.default_sort):
            for mid in g["members"]:
                idx.setdefault(mid, []).append({"id": g["id"], "name": g["name"]})
        ctx["groups_of"] = idx
    return ctx


def _member_includes(org: Any, rec: Record, include: Set[str], ctx: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if "stats" in include:
        out["stats"] = {"data": dict(org.member_stats.get(rec["id"], {}))}
    if "groups" in include:
        out["groups"] = {"data": [dict(g) for g in ctx.get("groups_of", {}).get(rec["id"], [])]}
    return out


def _group_includes(org: Any, rec: Record, include: Set[str], ctx: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if "users" in include:
        users = []
        for mid in rec["members"]:
            m = org.lookup("members", mid)
            if m is not None:
                users.append({"id": m["id"], "email": m["email"], "full_name": m["full_name"]})
        out["users"] = {"data": users}
    # `with=guests` is accepted but changes nothing: `guests` already is the email list,
    # and wrapping it would clash with that field.
    if "assets" in include:
        out["assets"] = {"data": []}
    return out


def _tag_includes(org: Any, rec: Record, include: Set[str], ctx: Dict[str, Any]) -> Dict[str, Any]:
    if "statistics" in include:
        return {"statistics": {"data": dict(org.tag_statistics.get(rec["id"], {}))}}
    return {}


def _guest_includes(org: Any, rec: Record, include: Set[str], ctx: Dict[str, Any]) -> Dict[str, Any]:
    if "stats" in include:
        return {"stats": {"data": dict(org.guest_stats.get(rec["email"], {}))}}
    return {}


def _tags_shown(query: Dict[str, str]):
    """Auto-generated tags (`from:...`, `task:...`) are hidden unless `all` is exactly `true`."""
    return None if query.get("all") == "true" else (lambda t: not t["auto_generated"])


MEMBERS = ServedResource(
    resource="members", path="users", model="User", default_per_page=9999,
    sort_params=("sort",),
    sort_fields={"id": "id", "created_at": "created_at", "updated_at": "updated_at",
                 "last_updated": "updated_at", "email": "email", "first_name": "first_name",
                 "last_name": "last_name", "full_name": "full_name", "name": "full_name",
                 "username": "username", "last_login_at": "last_login_at",
                 "last_accessed_at": "last_accessed_at"},
    default_sort="id",
    search_fields=("first_name", "last_name", "email"),
    item_key=_member_key,
    include_context=_member_context,
    includes=_member_includes, shape=shapes.member,
)
GROUPS = ServedResource(
    resource="groups", path="groups", model="Group", default_per_page=10,
    sort_params=("sort_by", "sort"),
    sort_fields={"id": "id", "created_at": "created_at", "updated_at": "updated_at",
                 "last_updated": "updated_at", "name": "name"},
    default_sort="created_at",
    search_fields=("name", "description"),
    includes=_group_includes, shape=shapes.group,
)
TAGS = ServedResource(
    resource="tags", path="tags", model="Tag", default_per_page=10,
    sort_params=("sort",),
    sort_fields={"id": "id", "created_at": "created_at", "title": "title", "name": "title"},
    default_sort="created_at",
    search_fields=("title",),
    list_filter=_tags_shown,
    includes=_tag_includes, shape=shapes.tag,
)
GUESTS = ServedResource(
    resource="guests", path="guests", model="Guest", default_per_page=999,
    sort_params=("sort", "sort_by"),
    sort_fields={"id": "id", "created_at": "created_at", "email": "email", "first_name": "first_name",
                 "last_name": "last_name", "last_accessed_at": "last_accessed_at"},
    default_sort="created_at",
    search_fields=("email",),
    includes=_guest_includes, shape=shapes.guest,
)

#: this family's resources, in the order `families.py` registers them
SERVED = (MEMBERS, GROUPS, TAGS, GUESTS)
