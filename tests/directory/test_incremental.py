"""Incremental runs: cheap when nothing changed, exact after changes, whatever the server's quirks."""

import math


from tests.conftest import TOKEN, make_org
from tests.expected import records
from tests.directory.test_full_load import assert_tables_equal_simulator
from tallyfy_source.simulator import Simulator


def loaded_this_run(pipeline):
    return dict(pipeline.last_trace.last_normalize_info.row_counts)


def change_upstream(org, k_members=7, k_groups=3):
    members = sorted(m["id"] for m in records(org.members))
    for member_id in members[::len(members) // k_members][:k_members]:
        org.update_member(member_id, job_title=f"Changed {member_id}")
    groups = sorted(g["id"] for g in records(org.groups))
    member_ids = members[:5]
    for i, group_id in enumerate(groups[::len(groups) // k_groups][:k_groups]):
        org.update_group(group_id, members=member_ids[: i + 1], description=f"changed {i}")
    return k_members, k_groups


def test_second_run_without_changes_costs_at_most_two_requests_and_loads_nothing(sim, loader):
    loader.run()
    sim.reset_counts()
    pipeline, _ = loader.run()
    assert sim.request_count(resource="members") <= 2
    assert sim.request_count(resource="groups") <= 2
    counts = loaded_this_run(pipeline)
    assert counts.get("members", 0) == 0 and counts.get("groups", 0) == 0
    assert_tables_equal_simulator(loader, sim.orgs[sim.org_ids[0]])


def test_after_k_updates_the_next_run_loads_exactly_those_changes(sim, loader):
    org = sim.orgs[sim.org_ids[0]]
    loader.run()
    k_members, k_groups = change_upstream(org)
    new_member = org.add_member()
    sim.reset_counts()
    pipeline, _ = loader.run()
    counts = loaded_this_run(pipeline)
    assert counts.get("members") == k_members + 1
    assert counts.get("groups") == k_groups
    assert sim.request_count(resource="members") <= 2
    assert_tables_equal_simulator(loader, org)
    assert loader.rows(f"SELECT count(*) FROM tallyfy.members WHERE id = {new_member['id']}") == [(1,)]


def test_a_group_emptied_upstream_loses_its_child_rows(sim, loader):
    org = sim.orgs[sim.org_ids[0]]
    loader.run()
    full = next(g for g in records(org.groups) if len(g["members"]) >= 2 and g["guests"])
    org.update_group(full["id"], members=[], guests=[])
    loader.run()
    for child in ("members", "guests"):
        assert loader.rows(
            f"SELECT count(*) FROM tallyfy.groups__{child} c JOIN tallyfy.groups g"
            f" ON c._dlt_parent_id = g._dlt_id WHERE g.id = '{full['id']}'"
        ) == [(0,)]
    assert_tables_equal_simulator(loader, org)


def test_server_ignoring_sort_still_gives_exact_tables_by_reading_every_page(sim, loader):
    org = sim.orgs[sim.org_ids[0]]
    sim.honour_sort = False
    loader.run()
    change_upstream(org)
    sim.reset_counts()
    loader.run()
    assert sim.request_count(resource="members") == math.ceil(len(records(org.members)) / 100)
    assert_tables_equal_simulator(loader, org)


def test_last_updated_spelling_gives_the_same_exact_tables(sim, loader):
    org = sim.orgs[sim.org_ids[0]]
    sim.update_field_name = "last_updated"
    loader.run()
    change_upstream(org)
    sim.reset_counts()
    loader.run()
    assert sim.request_count(resource="members") <= 2
    assert_tables_equal_simulator(loader, org)
    columns = {r[0] for r in loader.rows(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'members'")}
    assert "updated_at" in columns and "last_updated" not in columns


def test_switching_quirks_between_runs_keeps_tables_exact(sim, loader):
    org = sim.orgs[sim.org_ids[0]]
    loader.run()
    sim.honour_sort, sim.update_field_name = False, "last_updated"
    change_upstream(org)
    loader.run()
    assert_tables_equal_simulator(loader, org)


def test_full_refresh_rereads_everything_without_duplicating(sim, loader):
    org = sim.orgs[sim.org_ids[0]]
    loader.run()
    pipeline, _ = loader.run(full_refresh=True)
    assert loaded_this_run(pipeline)["members"] == len(records(org.members))
    assert_tables_equal_simulator(loader, org)


def test_each_org_keeps_its_own_cursor(tmp_path):
    org_a = make_org("aaaa" * 8, seed=11, members=250, groups=30, tags=20, guests=10)
    org_b = make_org("bbbb" * 8, seed=12, members=250, groups=30, tags=20, guests=10)
    with Simulator(orgs=[org_a, org_b], token=TOKEN).start() as sim:
        from tests.conftest import Loader

        loader = Loader(sim, tmp_path)
        loader.run()
        change_upstream(org_b, k_members=4, k_groups=2)
        pipeline, _ = loader.run()
        assert loaded_this_run(pipeline)["members"] == 4
        members = loader.rows("SELECT org_id, count(*) FROM tallyfy.members GROUP BY 1 ORDER BY 1")
        assert members == [("aaaa" * 8, 250), ("bbbb" * 8, 250)]
        changed = loader.rows("SELECT count(*) FROM tallyfy.members WHERE job_title LIKE 'Changed %'")
        assert changed == [(4,)]
