"""An activity-feed event as plain `activity` columns, whichever form the server writes it in
(issue 16, defect 2): the documented form (lists, class names, actor objects) and the bare form
(scalars, bare words) give the same row."""

from datetime import datetime, timezone

import pytest

from tallyfy_source.workflow.events import event_row, record_kind, short_name
from tallyfy_source.workflow.activity import activity_row

# the response example of the API reference page "Get activity feed for a process"
DOCUMENTED = {
    "id": 12345, "organization_id": "org1", "verb": ["completed"], "source": ["Member"],
    "actor_type": ["App\\Models\\User"], "actor_id": [67890],
    "actor": [{"email": "ana@example.com", "username": "ana", "first_name": "Ana", "last_name": "Lima",
               "full_name": "Ana Lima", "profile_pic": None, "resize_profile_pic": None}],
    "auditable_type": "App\\Models\\Task", "auditable_id": "t1", "parentable_type": "App\\Models\\Run",
    "parentable_id": "r1", "type": ["Task"], "description": ["Completed task: Review"],
    "field": None, "old_value": None, "text": None, "references": None,
    "created_at": "2025-03-15T10:30:00Z", "undoable": False,
    "audit": {"data": {"id": "t1", "title": "Review"}}, "parent": {"data": {"id": "r1"}},
}
BARE = {"id": 12345, "verb": "completed", "source": "Member", "actor_type": "User", "actor_id": 67890,
        "auditable_type": "Task", "auditable_id": "t1", "parentable_type": "Run", "parentable_id": "r1",
        "type": "Task", "description": "Completed task: Review", "field": None, "old_value": None,
        "text": None, "created_at": "2025-03-15T10:30:00Z"}


def test_the_documented_event_becomes_plain_columns():
    row = event_row(dict(DOCUMENTED))
    assert row == {
        "id": 12345, "verb": "completed", "source": "Member", "actor_type": "User", "actor_id": 67890,
        "actor_email": "ana@example.com", "actor_name": "Ana Lima", "auditable_type": "Task",
        "auditable_id": "t1", "parentable_type": "Run", "parentable_id": "r1", "type": "Task",
        "description": "Completed task: Review", "field": None, "old_value": None, "text": None,
        "references_json": None, "created_at": "2025-03-15T10:30:00Z", "undoable": False,
    }
    assert not [k for k, v in row.items() if isinstance(v, (list, dict))]  # no child table can grow


def test_the_bare_form_gives_the_same_columns():
    documented, bare = event_row(dict(DOCUMENTED)), event_row(dict(BARE))
    shared = set(bare) - {"actor_email", "actor_name"}
    assert {k: documented[k] for k in shared} == {k: bare[k] for k in shared}
    assert bare["actor_email"] is None and bare["actor_name"] is None


def test_several_values_are_joined_and_the_first_actor_is_kept():
    row = event_row(dict(DOCUMENTED, verb=["updated", "owners-updated"], actor_id=[5, 6],
                         actor=[{"email": "a@x.io", "first_name": "A", "last_name": "B"}, {"email": "c@x.io"}],
                         field=[], old_value=[{"id": 1, "text": "x"}]))
    assert row["verb"] == "updated, owners-updated"
    assert (row["actor_id"], row["actor_email"], row["actor_name"]) == (5, "a@x.io", "A B")
    assert row["field"] is None  # an empty list
    assert row["old_value"] == '{"id":1,"text":"x"}'  # an object stays JSON text


def test_references_are_json_text_under_a_name_sql_does_not_reserve():
    row = event_row(dict(BARE, references=[{"id": "r1", "type": "Run"}]))
    assert row["references_json"] == '[{"id":"r1","type":"Run"}]' and "references" not in row


def test_an_unknown_nested_field_is_json_text_not_a_child_table():
    row = event_row(dict(BARE, extra={"a": 1}, tags=["x", "y"]))
    assert row["extra"] == '{"a":1}' and row["tags"] == "x, y"


def test_times_are_parsed_whatever_the_offset():
    row = activity_row(dict(DOCUMENTED, created_at="2025-03-15T16:00:00+05:30"))
    assert row["created_at"] == datetime(2025, 3, 15, 10, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("value, kind", [("App\\Models\\Task", "task"), (["App\\Models\\Run"], "run"),
                                         ("Checklist", "checklist"), ("App/Models/Thread", "thread"),
                                         (None, ""), ([], ""), ({"data": ["Task"]}, "task")])
def test_a_record_type_is_read_as_a_bare_word(value, kind):
    assert record_kind(value) == kind


def test_a_short_name_of_nothing_is_none():
    assert short_name([None]) is None and short_name("") is None
