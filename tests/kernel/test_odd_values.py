"""One value of an unexpected type never costs the run: the cell becomes null, one warning says
where, every other cell and every other org load exactly."""

import logging
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from tallyfy_source.shape.arrow_rows import rows_to_arrow
from tallyfy_source.shape.columns import MEMBER_COLUMNS, _cols
from tallyfy_source.simulator import Simulator
from tests.conftest import TOKEN, Loader, make_org
from tests.expected import assert_rows_match, records, table_row
from tests.directory.test_full_load import expected_groups, expected_guests, expected_tags

SMALL = dict(members=250, groups=20, tags=30, guests=20)
ORG_A = "aaaa0000aaaa0000aaaa0000aaaa0000"
ORG_B = "bbbb1111bbbb1111bbbb1111bbbb1111"
UTC = timezone.utc


def odd_warnings(caplog):
    return [r.getMessage() for r in caplog.records
            if r.name == "tallyfy_source" and r.levelno == logging.WARNING and "stored as null" in r.getMessage()]


def expected_members(org, nulls):
    """The served members as table rows, with the cells the source must store as null set to None."""
    rows = []
    for record in org.served("members", include=["stats"]):
        record = {**record, **{column: None for column in nulls.get(record["id"], ())}}
        rows.append(table_row(record, org.org_id))
    return rows


@pytest.fixture
def odd_orgs():
    server = Simulator(orgs=[make_org(ORG_A, seed=1, **SMALL), make_org(ORG_B, seed=2, **SMALL)], token=TOKEN).start()
    yield server
    server.stop()


def test_odd_values_become_null_and_both_orgs_load_exactly(odd_orgs, tmp_path, caplog):
    org_a = odd_orgs.orgs[ORG_A]
    first, second = [m["id"] for m in records(org_a.members)][:2]
    org_a.update_member(first, invited_by="jane@example.com")
    org_a.update_member(second, is_suspended="maybe", created_at="not a date")
    nulls = {first: ["invited_by"], second: ["is_suspended", "created_at"]}

    loader = Loader(odd_orgs, tmp_path)
    with caplog.at_level(logging.WARNING, logger="tallyfy_source"):
        loader.run()

    assert [r.error for r in loader.reports] == [None] * 8
    members = loader.table("members")
    assert_rows_match([m for m in members if m["org_id"] == ORG_A], expected_members(org_a, nulls), ("org_id", "id"))
    org_b = odd_orgs.orgs[ORG_B]
    assert_rows_match([m for m in members if m["org_id"] == ORG_B], expected_members(org_b, {}), ("org_id", "id"))
    for table, expected in (("groups", expected_groups), ("tags", expected_tags), ("guests", expected_guests)):
        key = ("org_id", "email") if table == "guests" else ("org_id", "id")
        assert_rows_match(loader.table(table), expected(org_a) + expected(org_b), key)

    warnings = odd_warnings(caplog)
    assert len(warnings) == 3, warnings  # one per (table, column) of the page that held it
    for column, example in (("invited_by", "jane@example.com"), ("is_suspended", "maybe"), ("created_at", "not a date")):
        line = next(w for w in warnings if f"members.{column}" in w)
        assert "str" in line and example in line, line


COLUMNS = _cols(n="bigint", d="double", b="bool", t="timestamp", s="text")


def test_rows_to_arrow_nulls_what_cannot_be_coerced_and_keeps_the_rest(caplog):
    rows = [
        {"n": 1, "d": 1.5, "b": True, "t": "2026-01-02T03:04:05Z", "s": "a"},
        {"n": "12", "d": "2.25", "b": "false", "t": "2026-01-02T03:04:05.000000Z", "s": 7},
        {"n": "jane@example.com", "d": "n/a", "b": "maybe", "t": "not a date", "s": ["k", 1]},
        {"n": 2 ** 70, "d": [1], "b": [True], "t": ["2026"], "s": None},
        {"n": 3.5, "d": None, "b": None, "t": None, "s": "z"},
    ]
    with caplog.at_level(logging.WARNING, logger="tallyfy_source"):
        table = rows_to_arrow(rows, COLUMNS, table="things")
    assert table.schema.field("n").type == pa.int64() and table.schema.field("d").type == pa.float64()
    assert table.schema.field("b").type == pa.bool_() and table.schema.field("t").type == pa.timestamp("us", tz="UTC")
    data = table.to_pydict()
    ts = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert data["n"] == [1, 12, None, None, None]
    assert data["d"] == [1.5, 2.25, None, None, None]
    assert data["b"] == [True, False, None, None, None]
    assert data["t"] == [ts, ts, None, None, None]
    assert data["s"] == ["a", "7", '["k", 1]', None, "z"]
    warnings = odd_warnings(caplog)
    assert sorted(w.split(":")[0] for w in warnings) == ["things.b", "things.d", "things.n", "things.t"], warnings
    assert any("3 values" in w for w in warnings if w.startswith("things.n"))


def test_a_long_odd_value_is_shown_truncated(caplog):
    with caplog.at_level(logging.WARNING, logger="tallyfy_source"):
        rows_to_arrow([{"n": "x" * 500}], COLUMNS, table="things")
    (warning,) = odd_warnings(caplog)
    assert "x" * 40 in warning and "x" * 60 not in warning


def test_the_table_is_named_from_the_declared_columns_when_not_given(caplog):
    columns = {**MEMBER_COLUMNS, "deleted": {"name": "deleted", "data_type": "bool", "nullable": True}}
    with caplog.at_level(logging.WARNING, logger="tallyfy_source"):
        table = rows_to_arrow([{"id": 1, "invited_by": "jane@example.com"}, {"id": 2, "invited_by": 1}], columns)
    assert table.column("invited_by").to_pylist() == [None, 1]
    (warning,) = odd_warnings(caplog)
    assert warning.startswith("members.invited_by:"), warning


def test_clean_values_take_the_fast_path_without_warnings(caplog):
    rows = [{"n": i, "d": i / 2, "b": i % 2 == 0, "t": datetime(2026, 1, 1, tzinfo=UTC), "s": str(i)} for i in range(50)]
    with caplog.at_level(logging.WARNING, logger="tallyfy_source"):
        table = rows_to_arrow(rows, COLUMNS, table="things")
    assert table.column("n").to_pylist() == list(range(50))
    assert odd_warnings(caplog) == []
