"""What the synthetic org stores: record kinds, their keys, and the side data beside them.

Read by the org (which keeps the data), the generators (which make it) and the serving code
(which renders it); it imports nothing, so none of them import each other for these names.
"""

#: the directory's record kinds (one dict of records per kind)
RESOURCES = ("members", "groups", "tags", "guests")
#: the workflow's record kinds: templates, processes, tasks (process and one-off), feed events
WORKFLOW_RESOURCES = ("checklists", "runs", "tasks", "activity")
#: the field an org keys each kind's records by (what single-record paths take)
KEY_FIELD = {"members": "id", "groups": "id", "tags": "id", "guests": "email",
             "checklists": "id", "runs": "id", "tasks": "id", "activity": "id"}
#: the field sorting breaks ties on: the record's `id` (guests too, though keyed by email)
TIE_FIELD = {"members": "id", "groups": "id", "tags": "id", "guests": "id",
             "checklists": "id", "runs": "id", "tasks": "id", "activity": "id", "steps": "id", "form_fields": "id"}
#: kinds whose records carry an update time (stored as `updated_at`)
UPDATABLE = ("members", "groups", "checklists", "runs", "tasks")

#: side data kept beside the records, served only as `with=` includes
MEMBER_STATS_KEYS = ("steps_created", "tasks_completed", "processes_launched", "checklists_created",
                     "last_step_created_at")
TAG_STATS_KEYS = ("active_template", "archived_template", "active_process", "archived_process")
GUEST_STATS_KEYS = ("active_tasks", "completed_tasks", "processes_involved", "last_task_completed_at")
#: where each directory kind's side data lives on the org (the attribute name)
SIDE_DATA = {"members": "member_stats", "tags": "tag_statistics", "guests": "guest_stats"}
