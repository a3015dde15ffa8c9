"""The directory's mutations of a synthetic org, for tests: add, update and delete members,
groups, tags and guests (each advances the clock and bumps what it changes), set tag
statistics, touch random records; plus how a new directory record is drawn (`generate.py`,
avoiding the emails, names and titles taken).

A mixin of `SyntheticOrg` (it uses the org's lock, clock, records and `_bump` from
`org_store.py`, and the workflow's `_forget`/`_untag` so deleted people and tags leave tasks and
links), kept apart so storage and lookup read without the changes.
"""

import copy
import random
from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple

from . import extras, generate
from .records import KEY_FIELD, SIDE_DATA, TAG_STATS_KEYS, UPDATABLE
from .timestamps import TS_STYLES, format_ts
from .vocabulary import JOB_TITLES

Record = Dict[str, Any]
_NAMED = {"members": "member id", "groups": "group id", "tags": "tag id", "guests": "guest"}


class DirectoryChanges:
    """Directory mutations (mixed into `SyntheticOrg`)."""

    def _init_directory(self) -> None:
        self._next_member_id = 10001
        self._next_guest_id = 50001
        self._bulk_times: List[datetime] = []
        self._emails: set = set()  # member emails handed out during generation
        self._dirty_emails = False  # True once mutations may have changed emails

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
            if resource in SIDE_DATA:
                getattr(self, SIDE_DATA[resource]).pop(key, None)
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
        return touch(self, kind, k, rng_seed)


def touch(org: Any, kind: str, k: int, rng_seed: Any = 0) -> List[Any]:
    """Update `k` distinct random records of `kind` through the org's own mutators (members:
    job_title, groups: description, tags: color, guests: details.company_name); returns their
    keys. The picks and values depend only on (rng_seed, kind) and the org's records."""
    rng = random.Random(f"touch:{rng_seed}:{kind}")
    with org.lock:
        keys = [r[KEY_FIELD[kind]] for r in org.values(kind)]
        chosen = rng.sample(keys, min(k, len(keys)))
        for key in chosen:
            n = rng.randrange(1_000_000)
            if kind == "members":
                org.update_member(key, job_title=f"{rng.choice(JOB_TITLES[:-1])} {n}")
            elif kind == "groups":
                org.update_group(key, description=f"Updated description {n}")
            elif kind == "tags":
                org.update_tag(key, color="#%06x" % rng.getrandbits(24))
            elif kind == "guests":
                details = dict(org.lookup("guests", key)["details"])
                details["company_name"] = f"Company {n}"
                org.update_guest(key, details=details)
            else:
                raise ValueError(kind)
        return chosen
