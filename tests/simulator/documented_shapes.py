"""What Tallyfy's documentation shows each endpoint serves: field names and JSON types, taken
from the response examples of the doc pages (repository `tallyfy/documentation`, folder
`src/content/docs/pro/integrations/open-api/code-samples/`, read 2026-12), written down once as
the project's own fixture. `tests/simulator/test_contract.py` holds the simulator to it.

Types are JSON types: "int", "str", "bool", "list", "dict"; a tuple allows several (a field the
example shows as null takes "null" besides its type).
"""

CS = "src/content/docs/pro/integrations/open-api/code-samples/"
N = "null"

#: (route key) -> (doc page, {field: JSON type(s)})
SHAPES = {
    "users": ("members/list-members.mdx", {
        "id": "int", "email": "str", "username": "str", "first_name": "str", "last_name": "str",
        "full_name": "str", "profile_pic": ("str", N), "country_id": "int", "is_active": "bool",
        "last_login_at": ("str", N), "activated_at": ("str", N), "type": "str", "created_at": "str",
        "updated_at": "str", "phone": ("str", N), "job_title": ("str", N), "timezone": "str",
        "UTC_offset": "str", "role": "str", "status": "str", "date_format": "str", "is_default_admin": "bool"}),
    "users/{id}": ("members/get-member.mdx", {
        "id": "int", "email": "str", "country_id": "int", "updated_at": "str", "is_default_admin": "bool",
        "stats": "dict", "groups": "dict"}),  # asked with=stats,groups: both wrapped
    "groups": ("groups/list-groups.mdx", {
        "id": "str", "name": "str", "description": ("str", N), "logo": ("str", N), "members": "list",
        "guests": "list", "created_at": "str", "last_updated": "str"}),
    "groups/{id}": ("groups/get-group.mdx", {
        "id": "str", "name": "str", "description": ("str", N), "logo": ("str", N), "members": "list",
        "guests": "list", "created_at": "str", "last_updated": "str"}),
    "tags": ("tags/list-tags.mdx", {
        "id": "str", "title": "str", "color": ("str", N), "auto_generated": "bool", "created_at": "str",
        "deleted_at": ("str", N), "statistics": "dict"}),
    "tags/{id}": ("tags/get-tag.mdx", {
        "id": "str", "title": "str", "color": ("str", N), "auto_generated": "bool", "created_at": "str",
        "deleted_at": ("str", N), "statistics": "dict"}),
    "guests": ("guests/list-guests.mdx", {
        "id": "int", "email": "str", "last_accessed_at": ("str", N), "last_known_ip": ("str", N),
        "last_known_country": ("str", N), "details": "dict", "first_name": ("str", N), "last_name": ("str", N),
        "created_at": "str", "deleted_at": ("str", N), "link": "str", "stats": "dict"}),
    "guests/{email}": ("guests/get-guest.mdx", {
        "id": "int", "email": "str", "last_known_ip": ("str", N), "last_known_country": ("str", N),
        "details": "dict", "created_at": "str", "link": "str"}),
    "checklists": ("templates/list-templates.mdx", {
        "id": "str", "title": "str", "summary": ("str", N), "starred": "bool", "type": "str", "status": "str",
        "owner_id": "str", "created_by": "str", "steps_count": "int", "is_pinned": "bool", "created_at": "str",
        "last_updated": "str"}),
    "checklists/{id}": ("templates/get-template.mdx", {
        "id": "str", "title": "str", "summary": ("str", N), "starred": "bool", "webhook": ("str", N),
        "guidance": ("str", N), "alias": "str", "folder_id": ("str", N), "prerun": "list", "created_by": "int",
        "owner_id": "int", "kickoff_title": ("str", N), "kickoff_description": ("str", N), "created_at": "str",
        "last_updated": "str", "archived_at": ("str", N), "is_public": "bool", "automated_actions": "list",
        "icon": ("str", N), "type": "str", "is_public_kickoff": "bool", "default_process_name_format": ("str", N),
        "explanation_video": ("str", N), "status": "str", "steps": "list", "tags": "list"}),
    "runs": ("processes/list-processes.mdx", {
        "id": "str", "increment_id": "int", "checklist_id": "str", "checklist_title": "str", "name": "str",
        "summary": ("str", N), "status": "str", "progress": "dict", "whole_progress": "dict", "started_by": "int",
        "owner_id": "int", "prerun": "dict", "prerun_status": "str", "starred": "bool", "created_at": "str",
        "started_at": "str", "last_updated": "str", "archived_at": ("str", N), "completed_at": ("str", N),
        "due_date": ("str", N), "due_date_passed": "bool", "due_soon": "bool", "late_tasks": "int",
        "collaborators": "list", "type": "str", "is_public": "bool", "users": "list", "groups": "list",
        "parent_id": ("str", N), "can_add_oot": "bool"}),
    "runs/{id}": ("processes/get-process.mdx", {
        "id": "str", "increment_id": "int", "checklist_id": "str", "checklist_title": "str", "name": "str",
        "summary": ("str", N), "status": "str", "progress": "dict", "whole_progress": "dict", "started_by": "int",
        "owner_id": "int", "prerun": "dict", "prerun_status": "str", "starred": "bool", "created_at": "str",
        "started_at": "str", "last_updated": "str", "archived_at": ("str", N), "completed_at": ("str", N),
        "type": "str", "is_public": "bool", "users": "list", "groups": "list", "checklist": "dict",
        "tasks": "dict", "tags": "dict"}),  # asked with=checklist,tasks,tags
    "tasks": ("tasks/list-org-tasks.mdx", {
        "id": "str", "increment_id": "int", "title": "str", "run_id": ("str", N), "checklist_id": ("str", N),
        "step_id": ("str", N), "alias": ("str", N), "status": "str", "status_label": "str", "task_type": "str",
        "position": "int", "is_oneoff_task": "bool", "owners": "dict", "deadline": ("str", N),
        "started_at": ("str", N), "created_at": "str", "last_updated": "str", "completed_at": ("str", N),
        "is_completable": "bool", "everyone_must_complete": "bool"}),
    "runs/{id}/tasks": ("tasks/list-process-tasks.mdx", {
        "id": "str", "increment_id": "int", "title": "str", "run_id": "str", "checklist_id": "str",
        "step_id": "str", "alias": "str", "status": "str", "position": "int", "owners": "dict",
        "deadline": ("str", N), "created_at": "str", "last_updated": "str", "completed_at": ("str", N),
        "task_type": "str", "is_oneoff_task": "bool", "step": "dict"}),  # asked with=step: bare
    "tasks/{id}": ("tasks/get-task.mdx", {
        "id": "str", "increment_id": "int", "title": "str", "run_id": ("str", N), "checklist_id": ("str", N),
        "step_id": ("str", N), "alias": ("str", N), "status": "str", "status_label": "str", "task_type": "str",
        "is_oneoff_task": "bool", "is_completable": "bool", "is_approved": ("bool", N), "owners": "dict",
        "position": "int", "started_at": ("str", N), "deadline": ("str", N), "created_at": "str",
        "last_updated": "str", "completed_at": ("str", N), "archived_at": ("str", N), "starter_id": ("int", N),
        "completer_id": ("int", N), "everyone_must_complete": "bool", "can_complete_only_assignees": "bool",
        "max_assignable": "int", "webhook": ("str", N), "top_secret": "bool", "form_fields": "dict",
        "run": "dict", "step": "dict"}),  # asked with=form_fields,run,step: wrapped
    "activity-feeds": ("processes/get-process-activity.mdx", {
        "id": "int", "organization_id": "str", "verb": "list", "source": "list", "actor_type": "list",
        "actor_id": "list", "auditable_type": "str", "auditable_id": "str", "parentable_type": ("str", N),
        "parentable_id": ("str", N), "type": "list", "description": "list", "field": ("list", N),
        "old_value": ("list", N), "created_at": "str", "text": ("list", N), "references": ("list", N),
        "actor": "list", "undoable": "bool", "audit": "dict", "parent": "dict", "origin": ("dict", N)}),
}

#: nested shapes the pages show: (route key, path inside a record) -> JSON type of each element
ELEMENTS = {
    ("groups", "members"): "int", ("groups/{id}", "members"): "str",
    ("tasks", "owners.users"): "dict", ("tasks/{id}", "owners.users"): "int",
    ("runs/{id}/tasks", "owners.users"): "int",
    ("activity-feeds", "verb"): "str", ("activity-feeds", "actor_id"): "int", ("activity-feeds", "actor"): "dict",
    ("activity-feeds", "actor_type"): "str", ("activity-feeds", "type"): "str",
}
#: documented keys of nested objects
GUEST_DETAIL_KEYS = {"status", "phone_1", "phone_2", "timezone", "image_url", "contact_url", "company_url",
                     "opportunity_url", "company_name", "opportunity_name", "external_sync_source",
                     "external_date_creation", "cadence_days", "associated_members", "last_city", "last_country",
                     "last_accessed_at", "disabled_at", "disabled_by", "reactivated_at", "reactivated_by"}
ACTOR_KEYS = {"email", "username", "first_name", "last_name", "full_name", "profile_pic", "resize_profile_pic"}
GUEST_STATS_KEYS = {"assigned_tasks", "tasks_completed", "last_task_completed_at", "one_off_tasks_completed",
                    "last_one_off_task_completed_at"}
#: fields a page's example does NOT show on that route
ABSENT = {"checklists": {"archived_at", "prerun"}}
