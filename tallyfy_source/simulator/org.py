"""Deterministic synthetic Tallyfy organizations (standard library only): the data, the clock,
the mutations and the accessors.

`SyntheticOrg.generate(...)` builds members, groups, tags and guests (drawn by `generate.py` from
one seeded `random.Random`: the same arguments always give the same org) as plain dicts in the
shape the API returns them; with `templates`, `processes` or `oneoff_tasks` it also builds the
workflow (`generate_workflow.py`, from its own seeded generator, so the directory is the same
either way; its mutations are in `workflow_changes.py`). Stored records carry the update time
under `updated_at`; the served copy may rename it (`last_updated`). The org has a simulated
clock (`org.now`): every mutation advances it by at least one second, so an updated record is
always strictly newer than every time that existed before the update.
"""

import copy
import random
import threading
from datetime import datetime, timedelta
from typing import Any, Dict, Iterable, List, Optional, Tuple

from . import extras, generate
from .families import BY_RESOURCE
from .generate import default_org_id
from .records import KEY_FIELD, RESOURCES, TAG_STATS_KEYS, UPDATABLE, WORKFLOW_RESOURCES
from .serving import context, serve_all, serve_record
from .timestamps import BASE_NOW, TS_STYLES, format_ts, parse_ts, ts_style
from .switches import Switches
from .workflow import RUN_TASKS
from .workflow_changes import WorkflowChanges

# names that have always been importable from here
__all__ = ["SyntheticOrg", "default_org_id", "KEY_FIELD", "RESOURCES", "UPDATABLE", "BASE_NOW", "TS_STYLES",
           "format_ts", "parse_ts", "ts_style"]

Record = Dict[str, Any]
#: where each kind's side data lives (served only as `with=` includes)
_SIDE_DATA = {"members": "member_stats", "tags": "tag_statistics", "guests": "guest_stats"}
_NAMED = {"members": "member id", "groups": "group id", "tags": "tag id", "guests": "guest"}


class SyntheticOrg(WorkflowChanges):
    """One organization's data plus a simulated clock. Use `SyntheticOrg.generate(...)`.

    Accessors return copies (safe to modify): `members`, `groups`, `tags`, `guests`
    (lists in insertion order), `member(id)`, `group(id)`, `tag(id)`, `guest(email)`.
    Side data (live dicts): `member_stats[id]`, `tag_statistics[id]`, `guest_stats[email]`.
    `served(resource, ...)` returns exactly what the simulator serves (default order).
    For the server: `values(resource)` and `lookup(resource, key)` give the live records (read
    under `lock`, never change), and `mutations` counts changes (a cache of them is stale
    once it moves).

    Workflow (`checklists`, `runs`, `tasks`, `activity`): the same accessors, side data in
    `steps`, `tag_links`, `threads`, `form_values`; the oracle is `served(resource, include,
    query=..., archived_reading=..., feed_lag_seconds=..., run_id=...)` for lists and
    `served_item(resource, key, include, query=...)` for single reads; the mutations are
    `WorkflowChanges`' (complete_task, reopen_task, reassign_task, comment_on_task, retag, ...).
    """

    def __init__(self, org_id: str, name: str, seed: Any = 0, now: datetime = BASE_NOW):
        self.org_id = org_id
        self.name = name
        self.seed = seed
        self.now = now
        self.lock = threading.RLock()
        self._data: Dict[str, Dict[Any, Record]] = {r: {} for r in RESOURCES + WORKFLOW_RESOURCES}
        self._init_workflow()
        self.member_stats: Dict[int, Dict[str, Any]] = {}
        self.tag_statistics: Dict[str, Dict[str, int]] = {}
        self.guest_stats: Dict[str, Dict[str, Any]] = {}
        self._rng = random.Random(f"mut:{seed}:{org_id}")  # for mutations' made-up values
        self._next_member_id = 10001
        self._next_guest_id = 50001
        self.mutations = 0  # advanced by every mutation (through `tick`)
        self._bulk_times: List[datetime] = []
        self._emails: set = set()  # member emails handed out during generation
        self._dirty_emails = False  # True once mutations may have changed emails

    # ------------------------------------------------------------------ generation
    @classmethod
    def generate(cls, org_id: Optional[str] = None, members: int = 300, groups: int = 30, tags: int = 200,
                 guests: int = 60, memberships_per_group: Optional[float] = None, seed: Any = 0,
                 name: Optional[str] = None, templates: int = 0, processes: int = 0,
                 oneoff_tasks: int = 0) -> "SyntheticOrg":
        if org_id is None:
            org_id = default_org_id(seed)
        rng = random.Random(f"gen:{seed}:{org_id}")
        org = cls(org_id, name or f"Synthetic Org {org_id[:6]}", seed=seed)
        org._bulk_times = generate.bulk_times(rng)
        for resource, n in (("members", members), ("guests", guests), ("groups", groups), ("tags", tags)):
            for _ in range(n):
                org._keep(resource, *org._draw(resource, rng, memberships_per_group))
        org._dirty_emails = True
        admin = next((m for m in org._data["members"].values() if m["role"].lower() == "admin"), None)
        if admin is not None:  # members/list-members: `is_default_admin`, the org's first admin
            admin["is_default_admin"] = True
        if templates or processes or oneoff_tasks:  # else tag statistics stay as drawn
            org._generate_workflow(random.Random(f"wf:{seed}:{org_id}"), templates, processes, oneoff_tasks)
        return org

    def _keep(self, resource: str, rec: Record, side: Optional[Dict[str, Any]] = None) -> None:
        self._data[resource][rec[KEY_FIELD[resource]]] = rec
        if side is not None:
            getattr(self, _SIDE_DATA[resource])[rec[KEY_FIELD[resource]]] = side

    def _draw(self, resource: str, rng: random.Random, avg: Optional[float] = None) -> Tuple[Record, Any]:
        """(a new record drawn by `generate.py`, its side data or None); not stored. The draw
        avoids the emails, names and titles taken, and may refer to the members and guests."""
        data = self._data
        if resource == "members":
            mid, self._next_member_id = self._next_member_id, self._next_member_id + 1
            taken = {m["email"] for m in data["members"].values()} if self._dirty_emails else self._emails
            rec, stats = generate.member(rng, mid, taken, list(data["members"]), self._bulk_times)
            self._emails.add(rec["email"])
            return extras.member(rec), stats
        if resource == "guests":
            gid, self._next_guest_id = self._next_guest_id, self._next_guest_id + 1
            rec, stats = generate.guest(rng, gid, self.org_id, data["guests"])
            return extras.guest(rec), stats
        if resource == "groups":
            return generate.group(rng, avg, {g["name"] for g in data["groups"].values()}, list(data["members"]),
                                  list(data["guests"]), self._bulk_times), None
        if resource == "tags":
            return generate.tag(rng, {t["title"] for t in data["tags"].values()})
        raise ValueError(f"no generator for {resource!r}")

    # ------------------------------------------------------------------ clock
    def tick(self, seconds: int = 1) -> datetime:
        """Advance the clock by `seconds` (>= 1) and return the new time."""
        with self.lock:
            self.now = self.now + timedelta(seconds=max(1, int(seconds)))
            self.mutations += 1
            return self.now

    def now_str(self, style: int = 0) -> str:
        return format_ts(self.now, style)

    # ------------------------------------------------------------------ accessors
    def records(self, resource: str) -> List[Record]:
        """Deep copies of the current records of `resource`, in insertion order."""
        with self.lock:
            return copy.deepcopy(list(self._data[resource].values()))

    members = property(lambda self: self.records("members"))
    groups = property(lambda self: self.records("groups"))
    tags = property(lambda self: self.records("tags"))
    guests = property(lambda self: self.records("guests"))

    def get(self, resource: str, key: Any) -> Optional[Record]:
        with self.lock:
            rec = self._data[resource].get(key)
            return copy.deepcopy(rec) if rec is not None else None

    def member(self, member_id: int) -> Optional[Record]:
        return self.get("members", member_id)

    def group(self, group_id: str) -> Optional[Record]:
        return self.get("groups", group_id)

    def tag(self, tag_id: str) -> Optional[Record]:
        return self.get("tags", tag_id)

    def guest(self, email: str) -> Optional[Record]:
        return self.get("guests", email)

    def count(self, resource: str) -> int:
        return len(self._data[resource])

    def memberships(self) -> int:
        """Total length of all groups' `members` lists."""
        with self.lock:
            return sum(len(g["members"]) for g in self._data["groups"].values())

    def values(self, resource: str) -> List[Record]:
        """The live records of `resource`, in insertion order: not copies, so read them with
        `lock` held and never change them (the server's view; tests want `records`)."""
        return list(self._data[resource].values())

    def lookup(self, resource: str, key: Any) -> Optional[Record]:
        """The live record of `resource` under `key`, or None (same care as `values`)."""
        return self._data[resource].get(key)

    def served(self, resource: str, include: Iterable[str] = (), update_field_name: Optional[str] = None,
               all_tags: bool = True, query: Optional[Dict[str, str]] = None, run_id: Optional[str] = None,
               **switches: Any) -> List[Record]:
        """Exactly the records the simulator serves for `resource`, in its default order
        (members: id; groups, tags, guests: created_at then id; workflow: see `workflow.py`).
        `all_tags=False` hides auto-generated tags like the API does without `all=true`.
        Workflow resources (`checklists`, `runs`, `tasks`, `activity`): `query` holds the list
        filters (`archived`, `status`, `created_after`, `form_fields_values`, ...), `run_id`
        gives `/runs/{run_id}/tasks`. `switches` are the simulator's (`switches.py`: e.g.
        `archived_reading`, `feed_lag_seconds`, `feed_shape`, `task_owners`); unnamed ones
        take their documented defaults. `update_field_name` None: the documented names."""
        with self.lock:
            served = RUN_TASKS if run_id is not None else BY_RESOURCE[resource]
            if query is None:
                query = {"all": "true"} if all_tags else {}
            sw = Switches(**switches)
            return serve_all(served, self, self.values(served.resource), include, update_field_name, query,
                             sw, run_id)

    def served_item(self, resource: str, key: Any, include: Iterable[str] = (),
                    update_field_name: Optional[str] = None, query: Optional[Dict[str, str]] = None,
                    **switches: Any) -> Optional[Record]:
        """Exactly what a single-record read serves (its `data`), or None (a 404)."""
        with self.lock:
            served, include = BY_RESOURCE[resource], set(include)
            rec = self.lookup(resource, key)
            if rec is None:
                return None
            ctx = context(served, self, include, update_field_name, query, single=True, settings=Switches(**switches))
            return serve_record(served, self, rec, include, update_field_name, ctx)

    # ------------------------------------------------------------------ mutations
    def _require(self, resource: str, key: Any) -> Record:
        rec = self._data[resource].get(key)
        if rec is None:
            raise KeyError(f"no {resource} record {key!r} in org {self.org_id}")
        return rec

    def _bump(self, rec: Record, when: datetime) -> None:
        rec["updated_at"] = format_ts(when, ts_style(rec.get("created_at")))

    def _apply(self, resource: str, key: Any, changes: Dict[str, Any]) -> Record:
        with self.lock:
            rec = self._require(resource, key)
            when = self.tick()
            explicit_update = "updated_at" in changes
            for field, value in changes.items():
                if field == KEY_FIELD[resource]:
                    raise ValueError(f"cannot change the key field {field!r}")
                rec[field] = copy.deepcopy(value)
            if resource in UPDATABLE and not explicit_update:
                self._bump(rec, when)
            return copy.deepcopy(rec)

    def _new_times(self, updatable: bool) -> Dict[str, str]:
        """`created_at` (and `updated_at`) of a record created now: the clock advances."""
        when = self.tick()
        stamp = format_ts(when, self._rng.randrange(len(TS_STYLES)))
        return {"created_at": stamp, "updated_at": stamp} if updatable else {"created_at": stamp}

    def _add_new(self, resource: str, rec: Record, overrides: Dict[str, Any],
                 side: Optional[Dict[str, Any]] = None) -> Record:
        """Store a drawn record (times already set) with `overrides` applied; its key must be new."""
        rec.update(copy.deepcopy(overrides))
        key = rec[KEY_FIELD[resource]]
        if key in self._data[resource]:
            raise ValueError(f"{_NAMED[resource]} {key} exists")
        self._keep(resource, rec, side)
        return copy.deepcopy(rec)

    def _delete(self, resource: str, key: Any) -> datetime:
        """Remove a record and its side data; returns the (advanced) time of the deletion."""
        with self.lock:
            self._require(resource, key)
            when = self.tick()
            del self._data[resource][key]
            if resource in _SIDE_DATA:
                getattr(self, _SIDE_DATA[resource]).pop(key, None)
            return when

    def _unlist(self, field: str, value: Any, when: datetime) -> None:
        """Take `value` out of every group's `field` list (members, guests); those groups are
        updated at `when`."""
        for g in self._data["groups"].values():
            if value in g[field]:
                g[field] = [x for x in g[field] if x != value]
                self._bump(g, when)

    # members
    def add_member(self, **overrides: Any) -> Record:
        """Add a member created (and updated) at the advanced clock; fields can be overridden.
        Stats default to zeros; pass `stats={...}` to set them."""
        stats = overrides.pop("stats", None)
        with self.lock:
            rec, _ = self._draw("members", self._rng)
            rec.update(self._new_times(True))
            generate.as_new_member(rec)
            return self._add_new("members", rec, overrides, dict(stats) if stats else generate.new_member_stats())

    def update_member(self, member_id: int, **changes: Any) -> Record:
        return self._apply("members", member_id, changes)

    def delete_member(self, member_id: int) -> None:
        """Remove a member: it never appears again; groups listing it lose it and are updated."""
        with self.lock:
            self._unlist("members", member_id, self._delete("members", member_id))
            self._forget("users", member_id)

    # groups
    def add_group(self, **overrides: Any) -> Record:
        with self.lock:
            rec, _ = self._draw("groups", self._rng)
            rec.update(self._new_times(True))
            return self._add_new("groups", rec, overrides)

    def update_group(self, group_id: str, **changes: Any) -> Record:
        return self._apply("groups", group_id, changes)

    def delete_group(self, group_id: str) -> None:
        """Hard delete: the group just vanishes (from task owners too)."""
        with self.lock:
            self._delete("groups", group_id)
            self._forget("groups", group_id)

    # tags
    def add_tag(self, statistics: Optional[Dict[str, int]] = None, **overrides: Any) -> Record:
        with self.lock:
            rec, _ = self._draw("tags", self._rng)
            rec.update(self._new_times(False))
            return self._add_new("tags", rec, overrides, dict(statistics or dict.fromkeys(TAG_STATS_KEYS, 0)))

    def update_tag(self, tag_id: str, **changes: Any) -> Record:
        return self._apply("tags", tag_id, changes)

    def delete_tag(self, tag_id: str) -> None:
        """Hard delete (also from templates and processes: its statistics vanish)."""
        with self.lock:
            self._delete("tags", tag_id)
            self._untag(tag_id)

    def set_tag_statistics(self, tag_id: str, **counts: int) -> Dict[str, int]:
        with self.lock:
            self._require("tags", tag_id)
            self.tick()
            unknown = set(counts) - set(TAG_STATS_KEYS)
            if unknown:
                raise ValueError(f"unknown tag statistics {sorted(unknown)}")
            self.tag_statistics[tag_id].update(counts)
            return dict(self.tag_statistics[tag_id])

    # guests
    def add_guest(self, **overrides: Any) -> Record:
        stats = overrides.pop("stats", None)
        with self.lock:
            rec, _ = self._draw("guests", self._rng)
            rec.update(self._new_times(False))
            rec["last_accessed_at"] = None
            return self._add_new("guests", rec, overrides, dict(stats) if stats else generate.new_guest_stats())

    def update_guest(self, email: str, **changes: Any) -> Record:
        return self._apply("guests", email, changes)

    def delete_guest(self, email: str) -> None:
        """Remove a guest; groups listing it lose it and are updated."""
        with self.lock:
            self._unlist("guests", email, self._delete("guests", email))
            self._forget("guests", email)

    def touch_random(self, kind: str, k: int, rng_seed: Any = 0) -> List[Any]:
        """Update `k` distinct random records of `kind` (members: job_title, groups:
        description, tags: color, guests: details.company_name); returns their keys.
        Each update advances the clock, so the touched records get distinct times."""
        return generate.touch(self, kind, k, rng_seed)

    # ------------------------------------------------------------------ comparison
    def snapshot(self) -> Dict[str, Any]:
        """Everything, for equality checks (determinism tests)."""
        with self.lock:
            return copy.deepcopy({
                "org_id": self.org_id, "name": self.name, "now": self.now.isoformat(),
                "data": {r: list(v.values()) for r, v in self._data.items()},
                "member_stats": self.member_stats, "tag_statistics": self.tag_statistics,
                "guest_stats": self.guest_stats, "steps": self.steps, "tag_links": self.tag_links,
                "threads": self.threads, "form_values": self.form_values, "next": self._wf_next,
            })

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SyntheticOrg) and self.snapshot() == other.snapshot()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"SyntheticOrg({self.org_id!r}, members={self.count('members')}, "
                f"groups={self.count('groups')}, tags={self.count('tags')}, "
                f"guests={self.count('guests')}, now={format_ts(self.now)})")
