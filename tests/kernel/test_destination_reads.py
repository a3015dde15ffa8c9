"""What a load reads back from the destination (`read/deletes.py`, `read/unserved.py`): exact
rows of one org, child lists in list order, flagged rows left out in "flag" mode, fields a single
read does not serve carried over; and the same answers while dlt resets the pipeline's live
schema mid-extract (seen once in CI).

A real DuckDB file and a real dlt pipeline; the rows are loaded by plain resources, so each test
knows exactly what the destination holds."""

from datetime import datetime, timezone

import dlt
import pytest

from tallyfy_source.api.endpoints import Endpoint
from tallyfy_source.read import deletes
from tallyfy_source.read.unserved import keep_unserved_fields

GONE_SINCE = datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc)
GROUPS = [  # `labels` is a list no endpoint declares; g3 is flagged missing; g4's `open` is text once
    {"org_id": "o1", "id": "g1", "name": "Ops", "members": [3, 1, 2], "labels": [{"text": "x"}, {"text": "y"}],
     "stats": {"open": 4}, "deep": {"a": {"b": 1}}, "missing_since": None,
     "notes": [{"text": "n", "parts": [1, 2]}]},  # a list inside a list item: a grandchild table
    {"org_id": "o1", "id": "g2", "name": "Sales", "members": [], "labels": [], "stats": {"open": 0},
     "missing_since": None},
    {"org_id": "o1", "id": "g3", "name": "Gone", "members": [7], "labels": [], "stats": {"open": 1},
     "missing_since": GONE_SINCE},
    {"org_id": "o1", "id": "g4", "name": "Odd", "members": [], "labels": [], "stats": {"open": "lots"},
     "missing_since": None},
    {"org_id": "o2", "id": "g1", "name": "Other org", "members": [9], "labels": [{"text": "z"}],
     "stats": {"open": 2}, "missing_since": None},
]
MANY = [{"org_id": "o1", "id": i, "name": f"n{i}"} for i in range(1, 1204)]  # more than two chunks of 500
GROUPS_ENDPOINT = Endpoint(resource="groups", path="groups", primary_key=("org_id", "id"), sort_param="sort_by",
                           child_lists=("members",))
MANY_ENDPOINT = Endpoint(resource="many", path="many", primary_key=("org_id", "id"), sort_param="sort_by")


def make_pipeline(tmp_path):
    return dlt.pipeline("destination_reads", destination=dlt.destinations.duckdb(str(tmp_path / "d.duckdb")),
                        dataset_name="tallyfy", pipelines_dir=str(tmp_path / "pipelines"))


def loaded_pipeline(tmp_path):
    pipe = make_pipeline(tmp_path)
    pipe.run([dlt.resource(GROUPS, name="groups", primary_key=("org_id", "id"), write_disposition="merge"),
              dlt.resource(MANY, name="many", primary_key=("org_id", "id"), write_disposition="merge")])
    return pipe


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    return loaded_pipeline(tmp_path_factory.mktemp("destination_reads"))


@pytest.fixture
def pipeline(loaded):
    """A pipeline that loaded GROUPS and MANY, and is the active one (as in a load's extract);
    loaded once: the reads change nothing."""
    loaded.activate()
    assert dlt.current.pipeline() is loaded
    return loaded


def dlt_ids(pipeline):
    with pipeline.sql_client() as client:
        return dict(client.execute_sql("SELECT org_id || '/' || id, _dlt_id FROM groups"))


def names(rows):
    return sorted((r["org_id"], r["id"], r["name"]) for r in rows)


def reset_live_schema_in_place(pipeline):
    """The moment `Schema.replace_schema_content` leaves the live schema in: no naming, no tables."""
    schema = pipeline.default_schema
    schema.naming = None
    schema._schema_tables = {}


# ------------------------------------------------------------------ loaded_where
def test_loaded_where_answers_one_orgs_rows_by_key(pipeline):
    rows = deletes.loaded_where("groups", "o1", "id", ["g1", "g3", "g9"], "delete")
    assert names(rows) == [("o1", "g1", "Ops"), ("o1", "g3", "Gone")]
    assert {r["stats__open"] for r in rows} == {4, 1}


def test_loaded_where_in_flag_mode_leaves_flagged_rows_out(pipeline):
    assert names(deletes.loaded_where("groups", "o1", "id", ["g1", "g3"], "flag")) == [("o1", "g1", "Ops")]


def test_loaded_where_asks_any_number_of_keys(pipeline):
    wanted = list(range(1, 1301))  # 1,203 of them loaded
    rows = deletes.loaded_where("many", "o1", "id", wanted, "delete")
    assert sorted(r["id"] for r in rows) == list(range(1, 1204))


@pytest.mark.parametrize("table, column, values", [
    ("groups", "id", []),
    ("no_such_table", "id", ["g1"]),
    ("groups", "no_such_column", ["g1"]),
])
def test_loaded_where_answers_nothing_when_there_is_nothing_to_ask(pipeline, table, column, values):
    assert deletes.loaded_where(table, "o1", column, values, "delete") == []


def test_a_pipeline_that_never_loaded_reads_nothing(tmp_path):
    make_pipeline(tmp_path)
    assert deletes.loaded_where("groups", "o1", "id", ["g1"], "delete") == []
    assert deletes.loaded_rows(GROUPS_ENDPOINT, "o1", "delete") == []


# ------------------------------------------------------------------ loaded_rows, absent_keys, last_loaded
def test_loaded_rows_are_one_orgs_rows_flagged_ones_only_in_delete_mode(pipeline):
    assert names(deletes.loaded_rows(GROUPS_ENDPOINT, "o1", "delete")) == [
        ("o1", "g1", "Ops"), ("o1", "g2", "Sales"), ("o1", "g3", "Gone"), ("o1", "g4", "Odd")]
    assert [r["id"] for r in deletes.loaded_rows(GROUPS_ENDPOINT, "o2", "flag")] == ["g1"]
    assert sorted(r["id"] for r in deletes.loaded_rows(GROUPS_ENDPOINT, "o1", "flag")) == ["g1", "g2", "g4"]


def test_loaded_rows_read_only_the_columns_asked_and_keep_only_what_is_kept(pipeline, monkeypatch):
    monkeypatch.setattr(deletes, "BATCH", 2)  # several fetches
    rows = deletes.loaded_rows(MANY_ENDPOINT, "o1", "delete", ["id"], lambda row: row["id"] % 400 == 0)
    assert sorted(rows, key=lambda r: r["id"]) == [{"id": 400}, {"id": 800}, {"id": 1200}]


def test_flag_mode_on_a_table_without_the_flag_column_reads_every_row(pipeline):
    assert len(deletes.loaded_rows(MANY_ENDPOINT, "o1", "flag", ["id"])) == 1203


def test_absent_keys_are_the_loaded_keys_a_sweep_did_not_see_typed_as_loaded(pipeline):
    seen = [str(i) for i in range(3, 1204)]  # an API that sends ids as text
    assert sorted(deletes.absent_keys(MANY_ENDPOINT, "o1", "delete", seen)) == [1, 2]


def test_last_loaded_reads_whole_rows_only_in_flag_mode(pipeline):
    keys = [{"id": "g1"}, {"id": "g2"}]
    assert deletes.last_loaded(GROUPS_ENDPOINT, "o1", keys, "delete") is keys
    assert names(deletes.last_loaded(GROUPS_ENDPOINT, "o1", keys, "flag")) == [("o1", "g1", "Ops"), ("o1", "g2", "Sales")]


def test_a_flagged_removal_restores_the_row_and_its_lists(pipeline):
    now = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
    gone = deletes.loaded_where("groups", "o1", "id", ["g1"], "flag")
    [row] = deletes.removal_rows(GROUPS_ENDPOINT, "o1", gone, "flag", now)
    assert row["members"] == [3, 1, 2] and row["labels"] == [{"text": "x"}, {"text": "y"}]
    assert (row["name"], row["stats__open"], row["missing_since"]) == ("Ops", 4, now)
    assert not any(k.startswith("_dlt_") for k in row)
    assert deletes.removal_rows(GROUPS_ENDPOINT, "o1", gone, "delete", now) == [
        {"org_id": "o1", "id": "g1", deletes.DELETED_COLUMN: True}]


# ------------------------------------------------------------------ child_lists
def test_child_lists_come_back_in_list_order_declared_or_not(pipeline):
    ids = dlt_ids(pipeline)
    lists = deletes.child_lists("groups", [ids["o1/g1"], ids["o1/g2"]], ["members"])
    assert lists == {
        "members": {ids["o1/g1"]: [3, 1, 2], ids["o1/g2"]: []},
        "labels": {ids["o1/g1"]: [{"text": "x"}, {"text": "y"}], ids["o1/g2"]: []},
        "notes": {ids["o1/g1"]: [{"text": "n"}], ids["o1/g2"]: []},  # one level down only
    }


def test_a_declared_list_never_loaded_answers_empty_lists(pipeline):
    ids = dlt_ids(pipeline)
    lists = deletes.child_lists("groups", [ids["o1/g2"]], ["guests"])
    assert lists["guests"] == {ids["o1/g2"]: []}


def test_no_parents_no_lists(pipeline):
    assert deletes.child_lists("groups", [], ["members"]) == {}


# ------------------------------------------------------------------ keep_unserved_fields
def test_fields_a_single_read_does_not_serve_keep_their_loaded_values(pipeline):
    [row] = keep_unserved_fields(GROUPS_ENDPOINT, "o1", [{"org_id": "o1", "id": "g1", "Name": "Ops 2"}], "delete")
    assert row == {"org_id": "o1", "id": "g1", "Name": "Ops 2", "stats__open": 4, "deep__a__b": 1,
                   "members": [3, 1, 2], "labels": [{"text": "x"}, {"text": "y"}], "notes": [{"text": "n"}]}


def test_served_fields_and_lists_are_not_touched(pipeline):
    served = {"org_id": "o1", "id": "g1", "name": "Ops", "stats": {"open": 9}, "deep": {"a": {"b": 7}}, "labels": [],
              "members": [5], "notes": []}
    [row] = keep_unserved_fields(GROUPS_ENDPOINT, "o1", [dict(served)], "delete")
    assert row == served


def test_a_record_not_loaded_or_flagged_keeps_only_what_it_was_served(pipeline):
    rows = [{"org_id": "o1", "id": "g9", "name": "New"}, {"org_id": "o1", "id": "g3", "name": "Back"}]
    assert keep_unserved_fields(GROUPS_ENDPOINT, "o1", [dict(r) for r in rows], "flag") == rows
    [_, back] = keep_unserved_fields(GROUPS_ENDPOINT, "o1", [dict(r) for r in rows], "delete")
    assert (back["stats__open"], back["members"]) == (1, [7])


def test_a_declared_list_the_table_never_got_comes_back_empty(pipeline):
    endpoint = Endpoint(resource="groups", path="groups", primary_key=("org_id", "id"), sort_param="sort_by",
                        child_lists=("members", "guests"))
    [row] = keep_unserved_fields(endpoint, "o1", [{"org_id": "o1", "id": "g1", "name": "Ops"}], "delete")
    assert (row["guests"], row["members"]) == ([], [3, 1, 2])


def test_loaded_rows_read_several_columns(pipeline):
    rows = deletes.loaded_rows(GROUPS_ENDPOINT, "o2", "delete", ["id", "name"])
    assert rows == [{"id": "g1", "name": "Other org"}]


def test_a_variant_column_is_not_carried(pipeline):
    with deletes.destination_client(pipeline) as client:
        assert "stats__open__v_text" in deletes.stored_columns(client, "groups")
    [row] = keep_unserved_fields(GROUPS_ENDPOINT, "o1", [{"org_id": "o1", "id": "g4", "name": "Odd"}], "delete")
    assert row["stats__open"] is None and not any("__v_" in k for k in row)


# ------------------------------------------------------------------ while dlt resets the live schema
def test_reads_while_dlt_resets_the_live_schema_give_the_same_answers(tmp_path):
    pipeline = loaded_pipeline(tmp_path)  # its own: the reset breaks the pipeline for anything else
    ids = dlt_ids(pipeline)
    reset_live_schema_in_place(pipeline)
    assert names(deletes.loaded_where("groups", "o1", "id", ["g1"], "delete")) == [("o1", "g1", "Ops")]
    assert deletes.child_lists("groups", [ids["o1/g1"]], ["members"]) == {
        "members": {ids["o1/g1"]: [3, 1, 2]}, "labels": {ids["o1/g1"]: [{"text": "x"}, {"text": "y"}]},
        "notes": {ids["o1/g1"]: [{"text": "n"}]}}
    assert names(deletes.loaded_rows(GROUPS_ENDPOINT, "o2", "delete")) == [("o2", "g1", "Other org")]
