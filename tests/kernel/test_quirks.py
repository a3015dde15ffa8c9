"""Documented server quirks that must not cost data or requests."""

import math

from tallyfy_source.simulator import Fault, FaultPlan
from tests.expected import full_read_requests, records
from tests.directory.test_full_load import assert_tables_equal_simulator
from tests.directory.test_incremental import change_upstream


def pages(collection, per_page=100):
    return max(1, math.ceil(len(records(collection)) / per_page))


def test_total_pages_computed_from_the_default_page_size_costs_no_data_and_no_extra_requests(sim, loader):
    """users' default page size is 9999 (total_pages 1), groups' and tags' is 10 (total_pages x10)."""
    sim.total_pages_from_default = True
    org = sim.org
    loader.run()
    assert_tables_equal_simulator(loader, org)
    for resource in ("members", "groups", "tags", "guests"):
        assert sim.request_count(resource=resource) == full_read_requests(resource, getattr(org, resource)), resource


def test_a_server_refusing_the_sort_parameter_is_read_in_full_instead(sim, loader):
    org = sim.org
    loader.run()
    change_upstream(org)
    sim.faults = FaultPlan([Fault(kind="status", status=422, resource="members", page=1, times=1)])
    sim.reset_counts()
    loader.run()
    assert sim.request_count(resource="members", status=422) == 1
    assert sim.request_count(resource="members", status=200) == pages(org.members)
    assert_tables_equal_simulator(loader, org)


def test_the_sort_uses_the_servers_spelling_of_the_update_time(sim, loader):
    sim.update_field_name = "last_updated"
    loader.run()
    sim.reset_counts()
    loader.run()
    sorts = {r["query"].get("sort") for r in sim.requests if r["resource"] == "members"}
    assert sorts == {"-last_updated", "last_updated"}
    assert sim.request_count(resource="members") == 2


def test_small_pages_walk_every_page_once(sim, loader):
    org = sim.org
    loader.run(per_page=37)
    assert sim.request_count(resource="tags") == pages(org.tags, 37)
    assert_tables_equal_simulator(loader, org)
