"""Row shaping: include envelopes, one update-time column, org_id, timestamp formats."""

from datetime import datetime, timezone

import pytest

from tallyfy_source.shape.rows import parse_timestamp, shape_row


def test_include_envelopes_are_unwrapped():
    row = shape_row({"id": "t1", "statistics": {"data": {"active_process": 3}}}, "org1", False)
    assert row == {"id": "t1", "statistics": {"active_process": 3}, "org_id": "org1"}


def test_last_updated_lands_in_updated_at():
    row = shape_row({"id": 1, "last_updated": "2026-01-02T03:04:05Z"}, "o", True)
    assert "last_updated" not in row
    assert row["updated_at"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_updated_at_is_kept_when_both_spellings_arrive():
    row = shape_row({"id": 1, "updated_at": "2026-01-02T03:04:05Z", "last_updated": "2020-01-01T00:00:00Z"}, "o", True)
    assert row["updated_at"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", [
    "2026-03-04T05:06:07Z", "2026-03-04T05:06:07.000Z", "2026-03-04T05:06:07+00:00",
    "2026-03-04T05:06:07.000000Z", "2026-03-04 05:06:07",
])
def test_every_seen_timestamp_format_parses_to_the_same_instant(text):
    assert parse_timestamp(text) == datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


def test_missing_timestamp_is_none():
    assert parse_timestamp(None) is None and parse_timestamp("") is None


def test_an_unreadable_timestamp_becomes_null_instead_of_failing_the_run():
    assert parse_timestamp("not a time") is None


def test_a_sweep_compares_keys_as_text_so_string_ids_do_not_look_deleted():
    from tallyfy_source.read.deletes import absent

    loaded = [{"id": 123}, {"id": 456}, {"id": 789}]
    assert absent(loaded, {"123", "456"}, "id") == [{"id": 789}]
    assert absent(loaded, {123, 456, 789}, "id") == []


def test_plain_list_items_become_child_rows_keyed_by_their_parent():
    from tallyfy_source.shape.rows import keyed_list_items
    row = {"org_id": "o", "id": "g1", "members": [7, "8", {"value": 9, "org_id": "o", "group_id": "g1"}],
           "guests": ["a@x.io"], "name": "G"}
    keyed_list_items(row, ("members", "guests"), "group_id")
    assert row["members"] == [{"value": v, "org_id": "o", "group_id": "g1"} for v in (7, 8, 9)]
    assert row["guests"] == [{"value": "a@x.io", "org_id": "o", "group_id": "g1"}] and row["name"] == "G"
