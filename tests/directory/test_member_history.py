"""`members_history` (issue 19): a version per change of a member's role or status, kept by the
loads themselves; members read between sweeps (only the changed ones) leave every other member's
version alone; a member deleted upstream gets a last `removed` version; reruns add nothing.
Expected values come from the simulator's records. DuckDB and PostgreSQL."""

from tests.expected import records

SMALL = dict(members=250, groups=10, tags=10, guests=5)
HISTORY = "SELECT member_id, role, status, removed FROM tallyfy.members_history"


def served(org):
    return {m["id"]: (m["role"], m["status"], False) for m in records(org.members)}


def active(loader):
    rows = loader.rows(HISTORY + " WHERE valid_to IS NULL")
    assert len(rows) == len({r[0] for r in rows}), "one active version per member"
    return {r[0]: tuple(r[1:]) for r in rows}


def test_role_and_status_changes_make_versions_and_nothing_else_does(sim, loader):
    org = sim.org
    loader.run(resources=["members"])
    first = served(org)
    assert active(loader) == first
    promoted, disabled, renamed, deleted = [m["id"] for m in records(org.members)[3:7]]
    new_role = "admin" if first[promoted][0] != "admin" else "standard"
    org.update_member(promoted, role=new_role)
    org.update_member(disabled, status="disabled" if first[disabled][1] != "disabled" else "active")
    org.update_member(renamed, first_name="Renamed")  # not a tracked field: no version
    loader.run(resources=["members"])  # between sweeps: the changed members alone
    org.delete_member(deleted)
    loader.run(resources=["members"], sweep=True)

    assert active(loader) == {**served(org), deleted: (None, None, True)}
    assert active(loader)[promoted][0] == new_role
    retired = loader.rows("SELECT member_id FROM tallyfy.members_history WHERE valid_to IS NOT NULL ORDER BY 1")
    assert retired == sorted([(promoted,), (disabled,), (deleted,)])
    assert loader.rows("SELECT count(*) FROM tallyfy.members_history") == [(len(first) + 3,)]
    [(old_end, new_start)] = loader.rows(
        "SELECT o.valid_to, n.valid_from FROM tallyfy.members_history o JOIN tallyfy.members_history n"
        f" ON n.member_id = o.member_id AND n.valid_to IS NULL WHERE o.member_id = {promoted} AND o.valid_to IS NOT NULL")
    assert old_end == new_start


def test_reruns_and_sweeps_without_changes_add_no_version(sim, loader):
    loader.run(resources=["members"])
    loader.run(resources=["members"])
    loader.run(resources=["members"], sweep=True)
    assert loader.rows("SELECT count(*), count(DISTINCT member_id) FROM tallyfy.members_history") == [
        (len(records(sim.org.members)),) * 2]


def test_a_member_flagged_missing_gets_a_removed_version_too(sim, duckdb_loader):
    loader = duckdb_loader
    org = sim.org
    loader.run(resources=["members"], deleted_records="flag")
    member = records(org.members)[9]
    org.delete_member(member["id"])
    loader.run(resources=["members"], deleted_records="flag", sweep=True)
    assert loader.rows(HISTORY + f" WHERE member_id = {member['id']} ORDER BY valid_from") == [
        (member["id"], member["role"], member["status"], False), (member["id"], None, None, True)]
    assert loader.rows("SELECT count(*) FROM tallyfy.members WHERE missing_since IS NOT NULL") == [(1,)]


def test_a_role_changed_between_two_pages_leaves_one_version_and_heals_next_run(sim, loader):
    """A member promoted and another deleted while the first load pages through the members
    (100 a page): one active version per member after it; after the next run (and the sweep that
    finds the deletion), the current versions are what the API serves."""
    from tallyfy_source.simulator import FaultPlan, change_between

    org = sim.org
    first, gone = records(org.members)[0], records(org.members)[-1]
    new_role = "admin" if first["role"] != "admin" else "standard"

    def mid_walk():
        org.update_member(first["id"], role=new_role)
        org.delete_member(gone["id"])

    sim.faults = FaultPlan([change_between("members", 2, mid_walk)])
    loader.run(resources=["members"])
    assert sim.faults.rules[0].fired == 1
    active(loader)  # one active version per member
    loader.run(resources=["members"], sweep=True)
    now = active(loader)
    assert {k: v for k, v in now.items() if k != gone["id"]} == served(org)
    assert now.get(gone["id"], (None, None, True)) == (None, None, True)
    assert now[first["id"]][0] == new_role
