"""The simulator's switches for how records are served: the documented form by default, each
other form the docs, the SDK or older pages show as a variant. `Simulator` carries them as plain
attributes of the same names; the oracle (`org.served`) takes them as keyword arguments.

  update_field_name  "documented": each endpoint's documented name (`updated_at` on users,
                     `last_updated` on groups, templates, processes, tasks); "updated_at" or
                     "last_updated": that name everywhere
  task_owners        "documented": `owners.users` as objects `{id, full_name}` on the org-wide
                     task list (list-org-tasks), integers elsewhere (get-task, runs?with=tasks);
                     "ids": integers everywhere; "objects": objects everywhere
  template_owner_ids "documented": `owner_id`/`created_by` strings on the template list,
                     integers on the single read; "int" / "str": that type everywhere
  group_member_ids   "documented": group `members` integers on the list, strings on the single
                     read (get-group); "int" / "str": that type everywhere
  include_wrapping   "documented": each page's form (list pages wrap includes in {"data": ...};
                     get-template's steps/tags, list-process-tasks' `step`, a step's `captures`
                     and guests' `stats` are bare); "wrapped" / "bare": that form everywhere
  template_tags      "documented": template `tags` items as plain tags {id, title, color} (the
                     template pages); "links": association rows {id, tag_id} as elsewhere
  template_list_archived_at  False (documented): the template list carries no `archived_at`
                     (the single read does); True: the list carries it too
  feed_shape         "documented": list-valued fields, PHP class names, actor objects,
                     `organization_id`, `undoable` (get-process-activity); "bare": bare words,
                     scalars (the simulator's older form)
  feed_offset        None: feed times as stored (UTC); "+05:30", "-04:00", ...: the same instants
                     written in that offset, as a server in another zone would
  archived_reading   what a truthy `archived` means: "too" or "only"
  feed_lag_seconds   feed events show that much org clock after they happen
"""

from dataclasses import dataclass, fields
from typing import Any, Optional

#: the documented update-time name per stored kind
DOCUMENTED_UPDATE_FIELD = {"members": "updated_at", "groups": "last_updated", "checklists": "last_updated",
                           "runs": "last_updated", "tasks": "last_updated"}

@dataclass(frozen=True)
class Switches:
    """How records are served (see the module doc); the defaults are the documented forms."""

    update_field_name: str = "documented"
    task_owners: str = "documented"
    template_owner_ids: str = "documented"
    group_member_ids: str = "documented"
    include_wrapping: str = "documented"
    template_tags: str = "documented"
    template_list_archived_at: bool = False
    feed_shape: str = "documented"
    feed_offset: Optional[str] = None
    archived_reading: str = "too"
    feed_lag_seconds: int = 0

    @classmethod
    def of(cls, holder: Any) -> "Switches":
        """The switches an object (the `Simulator`) carries as attributes; missing ones default."""
        if isinstance(holder, Switches):
            return holder
        return cls(**{f.name: getattr(holder, f.name) for f in fields(cls) if hasattr(holder, f.name)})

    def update_name(self, resource: str) -> str:
        """The name the update time of `resource` is served under."""
        if self.update_field_name == "documented":
            return DOCUMENTED_UPDATE_FIELD.get(resource, "updated_at")
        return self.update_field_name

    def wrapped(self, documented: bool) -> bool:
        """Whether an include is wrapped in {"data": ...}, given the page's documented form."""
        return documented if self.include_wrapping == "documented" else self.include_wrapping == "wrapped"

    def as_str(self, documented_str: bool, choice: str) -> bool:
        """Whether ids served under an int/str switch are strings, given the page's documented form."""
        return documented_str if choice == "documented" else choice == "str"


DEFAULT = Switches()
