"""A full load equals the simulator's data, field by field, at one request per page."""

import math

import pytest

from tests.expected import assert_rows_match, full_read_requests, records, table_row


def expected_members(org):
    return [table_row(m, org.org_id) for m in org.served("members", include=["stats"])]


def expected_groups(org):
    return [table_row(g, org.org_id) for g in org.served("groups")]


def expected_tags(org):
    return [table_row(t, org.org_id) for t in org.served("tags", include=["statistics"])]


def expected_guests(org):
    return [table_row(g, org.org_id) for g in org.served("guests")]


def expected_group_lists(org, field):
    return sorted(
        (org.org_id, g["id"], idx, value)
        for g in records(org.groups)
        for idx, value in enumerate(g[field])
    )


def loaded_group_lists(loader, child):
    return sorted(loader.rows(
        f"SELECT g.org_id, g.id, c._dlt_list_idx, c.value FROM tallyfy.groups__{child} c"
        " JOIN tallyfy.groups g ON c._dlt_parent_id = g._dlt_id"
    ))


def assert_tables_equal_simulator(loader, org, resources=("members", "groups", "tags", "guests")):
    expected = {"members": (expected_members, ("org_id", "id")), "groups": (expected_groups, ("org_id", "id")),
                "tags": (expected_tags, ("org_id", "id")), "guests": (expected_guests, ("org_id", "email"))}
    for resource in resources:
        rows, key = expected[resource]
        assert_rows_match(loader.table(resource), rows(org), key)
    if "groups" not in resources:
        return
    assert loaded_group_lists(loader, "members") == expected_group_lists(org, "members")
    assert loaded_group_lists(loader, "guests") == expected_group_lists(org, "guests")
    # child rows all belong to a live parent: nothing orphaned, nothing duplicated
    for child in ("members", "guests"):
        orphans = loader.rows(
            f"SELECT count(*) FROM tallyfy.groups__{child} c"
            " LEFT JOIN tallyfy.groups g ON c._dlt_parent_id = g._dlt_id WHERE g._dlt_id IS NULL"
        )
        assert orphans == [(0,)]


def test_full_load_equals_simulator_data_field_by_field(sim, loader):
    org = sim.orgs[sim.org_ids[0]]
    assert len(records(org.members)) >= 1000 and len(records(org.groups)) >= 100
    assert len(records(org.tags)) >= 300 and len(records(org.guests)) >= 200
    loader.run()
    assert_tables_equal_simulator(loader, org)


def test_full_load_costs_one_request_per_page_of_100(sim, loader):
    org = sim.orgs[sim.org_ids[0]]
    loader.run()
    for resource, collection in [("members", org.members), ("groups", org.groups),
                                 ("tags", org.tags), ("guests", org.guests)]:
        assert sim.request_count(resource=resource) == full_read_requests(resource, collection), resource


def test_every_request_sends_the_documented_headers_and_page_size(sim, loader):
    loader.run()
    assert sim.requests, "no request reached the simulator"
    for request in sim.requests:
        assert request["headers"] == {"Accept": "application/json", "X-Tallyfy-Client": "APIClient"}
        assert request["has_auth"]
        assert request["query"].get("per_page") == "100" or request["kind"] == "item"
        assert request["status"] == 200


def test_tags_are_requested_with_statistics_and_auto_generated_ones(sim, loader):
    loader.run(resources=["tags"])
    tag_requests = [r for r in sim.requests if r["resource"] == "tags"]
    assert all(r["query"].get("with") == "statistics" and r["query"].get("all") == "true" for r in tag_requests)
    auto = loader.rows("SELECT count(*) FROM tallyfy.tags WHERE auto_generated")
    org = sim.orgs[sim.org_ids[0]]
    assert auto == [(sum(1 for t in records(org.tags) if t["auto_generated"]),)]
    assert auto[0][0] > 0


def test_declared_columns_exist_with_stable_types(sim, duckdb_loader):
    loader = duckdb_loader
    loader.run()
    types = dict(loader.rows(
        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'tallyfy'"
    ))
    assert types["members.id"] == "BIGINT"
    assert types["members.updated_at"].startswith("TIMESTAMP")
    assert types["members.disabled_at"].startswith("TIMESTAMP")
    assert types["members.is_suspended"] == "BOOLEAN"
    assert types["members.stats__tasks_completed"] == "BIGINT"
    assert types["members.active"] == "BOOLEAN"  # documented variant, null in this data
    assert types["groups.id"] == "VARCHAR"
    assert types["groups__members.value"] == "BIGINT"
    assert types["groups__guests.value"] == "VARCHAR"
    assert types["tags.statistics__active_process"] == "BIGINT"
    assert types["tags.auto_generated"] == "BOOLEAN"
    assert types["guests.id"] == "BIGINT"
    assert not [c for c in types if "__v_" in c], "variant columns appeared"


@pytest.mark.parametrize("resource", ["members", "groups", "tags", "guests"])
def test_each_resource_loads_on_its_own(sim, loader, resource):
    pipeline, _ = loader.run(resources=[resource])
    assert {r["resource"] for r in sim.requests} == {resource}
    org = sim.orgs[sim.org_ids[0]]
    assert loader.rows(f"SELECT count(*) FROM tallyfy.{resource}") == [(len(records(getattr(org, resource))),)]


def test_declared_columns_have_the_same_types_on_postgresql(sim, destinations, tmp_path):
    from tests.conftest import Loader

    loader = Loader(sim, tmp_path, destinations("postgres"))
    loader.run()
    types = dict(loader.rows(
        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'tallyfy'"
    ))
    assert types["members.id"] == "bigint"
    assert types["members.updated_at"] == "timestamp with time zone"
    assert types["members.disabled_at"] == "timestamp with time zone"
    assert types["members.is_suspended"] == "boolean"
    assert types["members.stats__tasks_completed"] == "bigint"
    assert types["members.active"] == "boolean"
    assert types["groups.id"] == "character varying"
    assert types["groups__members.value"] == "bigint"
    assert types["groups__guests.value"] == "character varying"
    assert types["tags.statistics__active_process"] == "bigint"
    assert types["tags.auto_generated"] == "boolean"
    assert types["guests.id"] == "bigint"
    assert not [c for c in types if "__v_" in c], "variant columns appeared"
