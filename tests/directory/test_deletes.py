"""Records deleted upstream leave the tables after a sweep (or stay, flagged, on request)."""

import math

from tests.expected import full_read_requests, records
from tests.directory.test_full_load import assert_tables_equal_simulator

SMALL = dict(members=250, groups=40, tags=60, guests=30)


def pick_group_with_children(org):
    return next(g for g in records(org.groups) if g["members"] and g["guests"])


def test_tags_and_guests_deleted_upstream_are_gone_after_the_next_run(sim, loader):
    org = sim.org
    loader.run()
    tag = records(org.tags)[3]["id"]
    guest = records(org.guests)[5]["email"]
    org.delete_tag(tag)
    org.delete_guest(guest)
    loader.run()
    assert loader.rows(f"SELECT count(*) FROM tallyfy.tags WHERE id = '{tag}'") == [(0,)]
    assert loader.rows(f"SELECT count(*) FROM tallyfy.guests WHERE email = '{guest}'") == [(0,)]
    assert_tables_equal_simulator(loader, org)


def test_members_and_groups_are_not_swept_between_sweeps(sim, loader):
    org = sim.org
    loader.run()
    member = records(org.members)[10]["id"]
    org.delete_member(member)
    sim.reset_counts()
    loader.run()  # default interval: 24 h, the last sweep was the first load
    assert sim.request_count(resource="members") <= 2
    assert loader.rows(f"SELECT count(*) FROM tallyfy.members WHERE id = {member}") == [(1,)]


def test_a_sweep_removes_deleted_members_and_groups_with_their_child_rows(sim, loader):
    org = sim.org
    loader.run()
    member = records(org.members)[10]["id"]
    group = pick_group_with_children(org)
    org.delete_member(member)
    org.delete_group(group["id"])
    sim.reset_counts()
    loader.run(sweep=True)
    # every page, page 1 again, and one single-record request confirming the deleted member
    assert sim.request_count(resource="members", kind="list") == full_read_requests("members", org.members)
    assert sim.request_count(resource="members", kind="item") == 1
    assert loader.rows(f"SELECT count(*) FROM tallyfy.members WHERE id = {member}") == [(0,)]
    assert loader.rows(f"SELECT count(*) FROM tallyfy.groups WHERE id = '{group['id']}'") == [(0,)]
    assert_tables_equal_simulator(loader, org)


def test_sweep_interval_zero_sweeps_every_run(sim, loader):
    org = sim.org
    loader.run(sweep_interval_hours=0)
    group = pick_group_with_children(org)
    org.delete_group(group["id"])
    loader.run(sweep_interval_hours=0)
    assert_tables_equal_simulator(loader, org)


def test_flag_mode_keeps_missing_records_with_the_time_they_were_found_missing(sim, loader):
    org = sim.org
    loader.run(deleted_records="flag")
    group = pick_group_with_children(org)
    tag = records(org.tags)[0]["id"]
    member = records(org.members)[7]
    org.delete_group(group["id"])
    org.delete_tag(tag)
    org.delete_member(member["id"])
    loader.run(deleted_records="flag", sweep=True)
    # a typed (BIGINT) key: the sweep reads loaded keys alone, then the flagged row whole
    assert loader.rows(f"SELECT email, missing_since IS NOT NULL FROM tallyfy.members WHERE id = {member['id']}") == [
        (member["email"], True)]
    flagged = loader.rows(
        "SELECT id, missing_since IS NOT NULL FROM tallyfy.groups WHERE missing_since IS NOT NULL")
    assert flagged == [(group["id"], True)]
    assert loader.rows(f"SELECT count(*) FROM tallyfy.tags WHERE id = '{tag}' AND missing_since IS NOT NULL") == [(1,)]
    kept = loader.rows(
        "SELECT c.value FROM tallyfy.groups__members c JOIN tallyfy.groups g ON c._dlt_parent_id = g._dlt_id"
        f" WHERE g.id = '{group['id']}' ORDER BY c._dlt_list_idx")
    assert [v for (v,) in kept] == group["members"]
    first_seen = loader.rows(f"SELECT missing_since FROM tallyfy.groups WHERE id = '{group['id']}'")
    loader.run(deleted_records="flag", sweep=True)  # still missing: the first time is kept
    assert loader.rows(f"SELECT missing_since FROM tallyfy.groups WHERE id = '{group['id']}'") == first_seen
    live = loader.rows("SELECT count(*) FROM tallyfy.groups WHERE missing_since IS NULL")
    assert live == [(len(records(org.groups)),)]


def test_a_sweep_that_read_fewer_rows_than_the_server_total_deletes_nothing(sim, loader):
    """A walk that came up short (the server says more rows exist) must not turn the rows it
    did not see into deletions; the next complete sweep does the deleting."""
    from tallyfy_source.simulator import Fault, FaultPlan

    org = sim.org
    loader.run(resources=["tags"])
    tag = records(org.tags)[4]["id"]
    org.delete_tag(tag)
    sim.faults = FaultPlan([Fault("wrong_total", resource="tags", total_delta=5, times=None)])
    loader.run(resources=["tags"])
    assert loader.rows(f"SELECT count(*) FROM tallyfy.tags WHERE id = '{tag}'") == [(1,)]
    sim.faults = None
    loader.run(resources=["tags"])
    assert loader.rows(f"SELECT count(*) FROM tallyfy.tags WHERE id = '{tag}'") == [(0,)]
