"""Workflow rows from either documented form of an answer (issue 16): task owners as objects or
ids (defect 9), archived known from the walk (defect 7). Pure functions, no server."""

import pytest

from tallyfy_source.workflow.rows import assignees, process_row, task_row, template_row

MEMBER = ("member", 7, None, None)


def as_tuples(rows):
    return [(r["kind"], r["member_id"], r["guest_email"], r["group_id"]) for r in rows]


@pytest.mark.parametrize("owners", [
    {"users": [7], "guests": ["g@x.io"], "groups": ["grp1"]},  # get-task, the SDK
    {"users": [{"id": 7, "full_name": "Ana Lima"}], "guests": [{"email": "g@x.io"}],
     "groups": [{"id": "grp1", "name": "Ops"}]},  # the org-wide task list page
    {"users": {"data": [{"id": "7"}]}, "guests": {"data": ["g@x.io"]}, "groups": {"data": [{"id": "grp1"}]}},
    {"data": {"users": ["7"], "guests": ["g@x.io"], "groups": ["grp1"]}},
], ids=["ids", "objects", "wrapped", "wrapped-owners"])
def test_task_owners_as_objects_or_ids_give_the_same_assignees(owners):
    assert as_tuples(assignees(owners)) == [MEMBER, ("guest", None, "g@x.io", None), ("group", None, None, "grp1")]


def test_an_owner_without_an_id_is_left_out_and_a_non_numeric_member_id_is_null():
    assert as_tuples(assignees({"users": [{"full_name": "nobody"}, None, "x"]})) == [("member", None, None, None)]
    assert assignees(None) == [] and assignees([]) == []


@pytest.mark.parametrize("walk, archived_at, expected", [
    (False, None, False), (True, None, True), (None, None, False), (None, "2026-10-01T00:00:00Z", True),
    (False, "2026-10-01T00:00:00Z", True),
])
def test_archived_is_known_from_the_walk_or_from_archived_at(walk, archived_at, expected):
    base = {"id": "x", "org_id": "o", "archived_at": archived_at}
    assert template_row(dict(base), walk)["is_archived"] is expected
    assert process_row(dict(base, checklist_id="c"), None, walk)["is_archived"] is expected
    assert task_row(dict(base), walk)[0]["is_archived"] is expected
