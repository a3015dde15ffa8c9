"""Where a synthetic org keeps its records, and how they are read: the stored dicts and side
data, the simulated clock, the accessors (copies for tests, live records for the server), the
`served()` oracle, and the few primitives every mutation uses (`_require`, `_bump`).

Kept apart from the mutations (`directory_changes.py`, `workflow_changes.py`) so what the org
holds and how it is looked up can be read without them; `org.py` puts the parts together.
"""

import copy
import random
import threading
from datetime import datetime, timedelta
from typing import Any, Dict, Iterable, List, Optional

from .families import BY_RESOURCE
from .records import KEY_FIELD, RESOURCES, SIDE_DATA, WORKFLOW_RESOURCES
from .serving import context, serve_all, serve_record
from .switches import Switches
from .timestamps import BASE_NOW, format_ts, ts_style
from .workflow import RUN_TASKS

Record = Dict[str, Any]


class OrgStore:
    """One organization's records, side data and clock, with their accessors (a base of
    `SyntheticOrg`, which documents them)."""

    def __init__(self, org_id: str, name: str, seed: Any = 0, now: datetime = BASE_NOW):
        self.org_id = org_id
        self.name = name
        self.seed = seed
        self.now = now
        self.lock = threading.RLock()
        self._data: Dict[str, Dict[Any, Record]] = {r: {} for r in RESOURCES + WORKFLOW_RESOURCES}
        self.member_stats: Dict[int, Dict[str, Any]] = {}
        self.tag_statistics: Dict[str, Dict[str, int]] = {}
        self.guest_stats: Dict[str, Dict[str, Any]] = {}
        self._rng = random.Random(f"mut:{seed}:{org_id}")  # for mutations' made-up values
        self.mutations = 0  # advanced by every mutation (through `tick`)

    def _keep(self, resource: str, rec: Record, side: Optional[Dict[str, Any]] = None) -> None:
        self._data[resource][rec[KEY_FIELD[resource]]] = rec
        if side is not None:
            getattr(self, SIDE_DATA[resource])[rec[KEY_FIELD[resource]]] = side

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

    # ------------------------------------------------------------------ what every mutation uses
    def _require(self, resource: str, key: Any) -> Record:
        rec = self._data[resource].get(key)
        if rec is None:
            raise KeyError(f"no {resource} record {key!r} in org {self.org_id}")
        return rec

    def _bump(self, rec: Record, when: datetime) -> None:
        rec["updated_at"] = format_ts(when, ts_style(rec.get("created_at")))
