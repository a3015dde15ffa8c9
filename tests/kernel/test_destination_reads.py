"""What a load reads back from the destination (`read/deletes.py`): exact rows, child lists in
list order, and the same answers while dlt resets the pipeline's live schema mid-extract.

A real DuckDB file and a real dlt pipeline; the rows are loaded by a plain resource, so each test
knows exactly what the destination holds."""

import dlt
import pytest

from tallyfy_source.api.endpoints import GROUPS as GROUPS_ENDPOINT
from tallyfy_source.read import deletes

GROUPS = [
    {"org_id": "o1", "id": "g1", "name": "Ops", "members": [3, 1, 2], "labels": [{"text": "x"}, {"text": "y"}]},
    {"org_id": "o1", "id": "g2", "name": "Sales", "members": [], "labels": []},
    {"org_id": "o2", "id": "g1", "name": "Other org", "members": [9], "labels": [{"text": "z"}]},
]


@pytest.fixture
def pipeline(tmp_path):
    """A pipeline that loaded GROUPS (`labels` is a list no endpoint declares) and is active."""
    pipe = dlt.pipeline("destination_reads", destination=dlt.destinations.duckdb(str(tmp_path / "d.duckdb")),
                        dataset_name="tallyfy", pipelines_dir=str(tmp_path / "pipelines"))
    pipe.run(dlt.resource(GROUPS, name="groups", primary_key=("org_id", "id"), write_disposition="merge"))
    assert dlt.current.pipeline() is pipe
    return pipe


def dlt_ids(pipeline):
    with pipeline.sql_client() as client:
        return dict(client.execute_sql("SELECT org_id || '/' || id, _dlt_id FROM groups"))


def reset_live_schema_in_place(pipeline):
    """The moment `Schema.replace_schema_content` leaves the live schema in: no naming, no tables."""
    schema = pipeline.default_schema
    schema.naming = None
    schema._schema_tables = {}


def test_loaded_where_answers_one_orgs_rows_by_key(pipeline):
    rows = deletes.loaded_where("groups", "o1", "id", ["g1", "g9"], "delete")
    assert [(r["org_id"], r["id"], r["name"]) for r in rows] == [("o1", "g1", "Ops")]


def test_child_lists_come_back_in_list_order_declared_or_not(pipeline):
    ids = dlt_ids(pipeline)
    lists = deletes.child_lists("groups", [ids["o1/g1"], ids["o1/g2"]], ["members"])
    assert lists == {
        "members": {ids["o1/g1"]: [3, 1, 2], ids["o1/g2"]: []},
        "labels": {ids["o1/g1"]: [{"text": "x"}, {"text": "y"}], ids["o1/g2"]: []},
    }


def test_a_declared_list_never_loaded_answers_empty_lists(pipeline):
    ids = dlt_ids(pipeline)
    lists = deletes.child_lists("groups", [ids["o1/g2"]], ["guests"])
    assert lists["guests"] == {ids["o1/g2"]: []}


def test_reads_while_dlt_resets_the_live_schema_give_the_same_answers(pipeline):
    ids = dlt_ids(pipeline)
    reset_live_schema_in_place(pipeline)
    rows = deletes.loaded_where("groups", "o1", "id", ["g1"], "delete")
    assert [(r["id"], r["name"]) for r in rows] == [("g1", "Ops")]
    assert deletes.child_lists("groups", [ids["o1/g1"]], ["members"]) == {
        "members": {ids["o1/g1"]: [3, 1, 2]}, "labels": {ids["o1/g1"]: [{"text": "x"}, {"text": "y"}]}}
    assert [(r["id"], r["name"]) for r in deletes.loaded_rows(GROUPS_ENDPOINT, "o2", "delete")] == [("g1", "Other org")]
