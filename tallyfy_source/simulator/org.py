"""Deterministic synthetic Tallyfy organizations (standard library only): `SyntheticOrg`, the
one class tests and the server use, put together from its parts.

`SyntheticOrg.generate(...)` builds members, groups, tags and guests (drawn by `generate.py` from
one seeded `random.Random`: the same arguments always give the same org) as plain dicts in the
shape the API returns them; with `templates`, `processes` or `oneoff_tasks` it also builds the
workflow (`generate_workflow.py`, from its own seeded generator, so the directory is the same
either way). Stored records carry the update time under `updated_at`; the served copy may rename
it (`last_updated`). The org has a simulated clock (`org.now`): every mutation advances it by at
least one second, so an updated record is always strictly newer than every time that existed
before the update.

The parts: storage, clock and lookups in `org_store.py`; the directory's mutations in
`directory_changes.py`; the workflow's in `workflow_changes.py` (tasks: `task_changes.py`, the
workflow's side data and feed: `workflow_state.py`). This module keeps generation, comparison
and the names that have always been importable from here.
"""

import copy
import random
from datetime import datetime
from typing import Any, Dict, Optional

from .directory_changes import DirectoryChanges
from .draws import bulk_times, default_org_id
from .org_store import OrgStore
from .records import KEY_FIELD, RESOURCES, UPDATABLE
from .timestamps import BASE_NOW, TS_STYLES, format_ts, parse_ts, ts_style
from .workflow_changes import WorkflowChanges

# names that have always been importable from here
__all__ = ["SyntheticOrg", "default_org_id", "KEY_FIELD", "RESOURCES", "UPDATABLE", "BASE_NOW", "TS_STYLES",
           "format_ts", "parse_ts", "ts_style"]


class SyntheticOrg(DirectoryChanges, WorkflowChanges, OrgStore):
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
    The directory's mutations are `DirectoryChanges`' (add_member, update_group, delete_tag, ...).
    """

    def __init__(self, org_id: str, name: str, seed: Any = 0, now: datetime = BASE_NOW):
        super().__init__(org_id, name, seed, now)
        self._init_workflow()
        self._init_directory()

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
        org._bulk_times = bulk_times(rng)
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
