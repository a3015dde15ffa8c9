"""Exact while the org is in use: changes land between two page requests of a walk.

Each test names a way today's org changes under a reader and the promise that still holds
(README "How a load works"): a change is never skipped for good, a record that exists is never
deleted, one odd value never costs the run. `change_between` makes the change just before a
given page of a given walk is served.
"""

from datetime import timedelta

import pytest

from tallyfy_source.simulator import FaultPlan, Simulator, SyntheticOrg, change_between
from tallyfy_source.simulator.org import parse_ts
from tallyfy_source.simulator.server import sort_records
from tests.conftest import TOKEN, Loader
from tests.expected import records
from tests.directory.test_full_load import assert_tables_equal_simulator

SMALL = dict(members=60, groups=30, tags=40, guests=20)
PER_PAGE = 10


@pytest.fixture
def live():
    org = SyntheticOrg.generate("0123456789abcdef0123456789abcdef", seed=7, **SMALL)
    with Simulator(orgs=[org], token=TOKEN) as server:
        yield server


def served_keys(sim, resource, field, descending):
    """Keys in the order a walk sorted by `field` is served (to pick rows by page position)."""
    key = "email" if resource == "guests" else "id"
    return [r[key] for r in sort_records(resource, records(sim.org.records(resource)), field, descending)]


def report_of(loader, resource):
    return next(r for r in loader.reports if r.resource == resource)


def member_job(loader, member_id):
    return loader.rows(f"SELECT job_title FROM tallyfy.members WHERE id = {member_id}")


# ------------------------------------------------------------------ 1. cursor running ahead
@pytest.mark.parametrize("honour_sort", [True, False], ids=["sorted", "sort-ignored"])
def test_a_change_on_a_page_already_read_during_the_first_load_is_loaded_by_the_next_run(live, tmp_path, honour_sort):
    """Member A (page 1, already read) is updated, then member B further on: the cursor must not
    jump to B's time and leave A's change behind until the next sweep."""
    live.honour_sort = honour_sort
    org = live.org
    by_id = served_keys(live, "members", "id", False)
    first, later = by_id[0], by_id[-1]

    def edit():
        org.update_member(first, job_title="Changed on a read page")
        org.update_member(later, job_title="Changed further on")

    live.faults = FaultPlan([change_between("members", 3, edit)])
    loader = Loader(live, tmp_path)
    loader.run(per_page=PER_PAGE, resources=["members"])
    assert live.faults.fired
    loader.run(per_page=PER_PAGE, resources=["members"])
    assert member_job(loader, first) == [("Changed on a read page",)]
    assert member_job(loader, later) == [("Changed further on",)]
    assert_tables_equal_simulator(loader, org, resources=["members"])


# ------------------------------------------------------------------ 2. a sweep deleting a live record
@pytest.mark.parametrize("resource", ["tags", "guests"])
def test_a_record_pushed_across_a_page_boundary_during_a_sweep_is_never_deleted(live, tmp_path, resource):
    """A delete on page 1 plus an insert keep the total; the first row of page 2 slides onto page
    1 after it was read, so the sweep never sees it. It exists: it must stay."""
    org = live.org
    loader = Loader(live, tmp_path)
    loader.run(per_page=PER_PAGE, resources=[resource])
    order = served_keys(live, resource, "created_at", False)
    victim, pushed = order[3], order[PER_PAGE]

    def delete_and_insert():
        (org.delete_tag if resource == "tags" else org.delete_guest)(victim)
        (org.add_tag if resource == "tags" else org.add_guest)()

    live.faults = FaultPlan([change_between(resource, 2, delete_and_insert)])
    live.reset_counts()
    loader.run(per_page=PER_PAGE, resources=[resource], concurrency=1)  # the insert is read, at the end
    key = "email" if resource == "guests" else "id"
    assert loader.rows(f"SELECT count(*) FROM tallyfy.{resource} WHERE {key} = '{pushed}'") == [(1,)]
    assert live.request_count(resource=resource, kind="item") == 1  # the suspect, asked for by itself
    assert report_of(loader, resource).found_on_recheck == 1
    live.faults = None
    loader.run(per_page=PER_PAGE, resources=[resource])  # the victim, read before it went, goes now
    assert_tables_equal_simulator(loader, org, resources=[resource])


def test_a_key_missing_from_a_sweep_is_deleted_only_on_a_404_naming_the_record(live, tmp_path):
    org = live.org
    loader = Loader(live, tmp_path)
    loader.run(resources=["tags"])
    tag = records(org.tags)[5]["id"]
    org.delete_tag(tag)
    live.reset_counts()
    loader.run(resources=["tags"])
    assert live.request_count(resource="tags", kind="item", status=404) == 1
    assert report_of(loader, "tags").missing == 1
    assert loader.rows(f"SELECT count(*) FROM tallyfy.tags WHERE id = '{tag}'") == [(0,)]


# ------------------------------------------------------------------ 3. deleted during a sweep
def test_a_group_deleted_during_its_sweep_is_reported_as_the_table_holds_it_and_gone_after_the_next_run(
        live, tmp_path):
    """The group was read (page 1) before it was deleted: this sweep cannot know, so it reports
    nothing missing and the table keeps it. The sweep saw the total drop, so it was not a
    complete sweep: the NEXT run (no sweep forced, the interval far from over) sweeps again and
    removes it with its child rows (issue 16)."""
    org = live.org
    loader = Loader(live, tmp_path)
    loader.run(per_page=PER_PAGE, resources=["groups"])
    newest = served_keys(live, "groups", "updated_at", True)
    victim = next(g for g in newest[:PER_PAGE] if org.group(g)["members"])
    live.faults = FaultPlan([change_between("groups", 2, lambda: org.delete_group(victim))])
    loader.run(per_page=PER_PAGE, resources=["groups"], sweep=True)
    held = loader.rows(f"SELECT count(*) FROM tallyfy.groups WHERE id = '{victim}'")[0][0]
    assert (held, report_of(loader, "groups").missing) == (1, 0)  # what the report says is true
    live.faults = None
    loader.run(per_page=PER_PAGE, resources=["groups"], sweep_interval_hours=24)
    assert report_of(loader, "groups").mode == "full" and report_of(loader, "groups").missing == 1
    assert loader.rows(f"SELECT count(*) FROM tallyfy.groups WHERE id = '{victim}'") == [(0,)]
    assert loader.rows("SELECT count(*) FROM tallyfy.groups__members m LEFT JOIN tallyfy.groups g"
                       " ON m._dlt_parent_id = g._dlt_id WHERE g._dlt_id IS NULL") == [(0,)]
    assert_tables_equal_simulator(loader, org, resources=["groups"])


# ------------------------------------------------------------------ 4. a sort within pages only
def test_a_server_sorting_only_within_each_page_is_not_trusted_to_stop_early(live, tmp_path):
    org = live.org
    live.sort_within_pages = True
    loader = Loader(live, tmp_path)
    loader.run(per_page=PER_PAGE, resources=["members"])
    far = served_keys(live, "members", "id", False)[-1]  # on the last page of the default order
    org.update_member(far, job_title="Changed on a later page")
    loader.run(per_page=PER_PAGE, resources=["members"])
    assert member_job(loader, far) == [("Changed on a later page",)]
    assert report_of(loader, "members").mode == "incremental-full-scan"


# ------------------------------------------------------------------ 5. no readable update time
@pytest.mark.parametrize("bad_time", [None, "not a time"], ids=["null", "unreadable"])
def test_a_member_without_a_readable_update_time_costs_nothing_on_a_run_without_changes(live, tmp_path, bad_time):
    org = live.org
    member = records(org.members)[4]["id"]
    org.update_member(member, updated_at=bad_time)
    loader = Loader(live, tmp_path)
    loader.run(per_page=PER_PAGE, resources=["members"])
    live.reset_counts()
    pipeline, _ = loader.run(per_page=PER_PAGE, resources=["members"])
    assert live.request_count(resource="members") == 2  # newest-first page + the probe
    assert pipeline.last_trace.last_normalize_info.row_counts.get("members", 0) == 0
    assert report_of(loader, "members").mode == "incremental"


# ------------------------------------------------------------------ 6. two changes in one second
def test_a_second_change_within_the_same_second_is_loaded(live, tmp_path):
    org = live.org
    loader = Loader(live, tmp_path)
    loader.run(resources=["members"])
    member = records(org.members)[7]["id"]
    changed = org.update_member(member, job_title="First change")
    loader.run(resources=["members"])
    org.update_member(member, job_title="Second change, same second", updated_at=changed["updated_at"])
    loader.run(resources=["members"])
    assert member_job(loader, member) == [("Second change, same second",)]


# ------------------------------------------------------------------ 7. a far-future update time
def test_an_update_time_in_2099_does_not_pin_the_cursor(live, tmp_path):
    org = live.org
    members = [m["id"] for m in records(org.members)]
    org.update_member(members[0], updated_at="2099-01-01T00:00:00Z")
    loader = Loader(live, tmp_path)
    loader.run(per_page=PER_PAGE, resources=["members"])
    org.update_member(members[1], job_title="A real change after the load")
    live.reset_counts()
    pipeline, _ = loader.run(per_page=PER_PAGE, resources=["members"])
    assert member_job(loader, members[1]) == [("A real change after the load",)]
    assert pipeline.last_trace.last_normalize_info.row_counts.get("members") == 1  # not the 2099 row
    assert live.request_count(resource="members") == 2


# ------------------------------------------------------------------ 9. a shift is not a loop
def test_one_repeated_page_from_rows_moving_at_per_page_1_is_not_called_a_loop(live, tmp_path):
    org = live.org
    loader = Loader(live, tmp_path)
    loader.run(resources=["members"])
    ids = [m["id"] for m in records(org.members)]
    for member in ids[:3]:
        org.update_member(member, job_title="Changed before the run")
    live.faults = FaultPlan([change_between("members", 2, lambda: org.update_member(ids[30], job_title="Moved"),
                                            sort="-updated_at")])
    loader.run(per_page=1, resources=["members"])
    assert live.faults.fired
    assert report_of(loader, "members").error is None
    assert report_of(loader, "members").clean is False  # the repeat was seen as rows moving
    loader.run(resources=["members"])
    assert_tables_equal_simulator(loader, org, resources=["members"])


def test_rows_moving_during_an_incremental_walk_keep_the_cursor_until_a_clean_walk(live, tmp_path):
    """A delete during a newest-first walk slides a changed row onto a page already read; the
    walk sees the total drop, keeps its cursor, and the next run loads the change."""
    org = live.org
    loader = Loader(live, tmp_path)
    loader.run(per_page=PER_PAGE, resources=["members"])
    ids = [m["id"] for m in records(org.members)]
    for member in ids[:15]:
        org.update_member(member, job_title="Changed before the run")
    newest = served_keys(live, "members", "updated_at", True)
    live.faults = FaultPlan([change_between("members", 2, lambda: org.delete_member(newest[2]), sort="-updated_at")])
    loader.run(per_page=PER_PAGE, resources=["members"])
    assert report_of(loader, "members").clean is False
    live.faults = None
    loader.run(per_page=PER_PAGE, resources=["members"])
    assert {m for (m,) in loader.rows("SELECT id FROM tallyfy.members WHERE job_title = 'Changed before the run'")} \
        >= set(ids[:15]) - {newest[2]}


def test_a_workflow_sweep_that_saw_the_org_move_is_repeated_by_the_next_run(tmp_path):
    """A process deleted while the processes walk reads (after its page was read) stays loaded
    after that sweep; the sweep saw the total drop, so the next run is a sweep again, not a
    feed read, and the process is gone after it, whatever the feed says."""
    org = SyntheticOrg.generate("0123456789abcdef0123456789abcdef", seed=7, members=12, groups=4, tags=10, guests=5,
                                templates=3, processes=25, oneoff_tasks=3)
    with Simulator(orgs=[org], token=TOKEN) as live:
        loader = Loader(live, tmp_path)
        resources = ["templates", "processes", "tasks", "activity"]
        loader.run(per_page=PER_PAGE, resources=resources)
        first_page = [r["id"] for r in org.served("runs", query={})][:PER_PAGE]
        live.faults = FaultPlan([change_between("runs", 2, lambda: org.delete_process(first_page[0]))])
        org.drop_next_events(1)  # and the feed never says so: only a sweep can find it
        loader.run(per_page=PER_PAGE, resources=resources, sweep=True)
        assert loader.rows(f"SELECT count(*) FROM tallyfy.processes WHERE id = '{first_page[0]}'") == [(1,)]
        live.faults = None
        loader.run(per_page=PER_PAGE, resources=resources, sweep_interval_hours=24)
        assert {r.mode for r in loader.reports if r.resource == "processes"} == {"full", "full, archived=only"}
        assert loader.rows(f"SELECT count(*) FROM tallyfy.processes WHERE id = '{first_page[0]}'") == [(0,)]


# ------------------------------------------------------------------ a token that may not confirm
def test_a_member_a_non_admin_token_cannot_confirm_is_deleted_after_two_sweeps_an_hour_apart(live, tmp_path,
                                                                                            monkeypatch):
    """`GET users/{id}` answers 403 to a non-admin token (issue 18): a missing member cannot be
    proved deleted by a 404. It is remembered; the sweep still counts as complete (the next run
    does not sweep again); a sweep at least an hour later that misses it again deletes it."""
    from tallyfy_source.read import orgs as source
    from tallyfy_source.simulator import Fault

    org = live.org
    loader = Loader(live, tmp_path)
    loader.run(per_page=PER_PAGE, resources=["members"])
    victim = org.values("members")[5]["id"]
    org.delete_member(victim)
    live.faults = FaultPlan([Fault("status", status=403, item=True, times=None)])
    loader.run(per_page=PER_PAGE, resources=["members"], sweep=True)
    report = report_of(loader, "members")
    assert (report.missing, report.unconfirmed) == (0, 0)
    assert loader.rows(f"SELECT count(*) FROM tallyfy.members WHERE id = {victim}") == [(1,)]
    state = loader.pipeline().state["sources"]["tallyfy"]["resources"]["members"]
    assert list(state["suspects"][org.org_id]) == [str(victim)] and state["last_sweep"][org.org_id]
    live.reset_counts()
    loader.run(per_page=PER_PAGE, resources=["members"])  # within the interval: no sweep, no repeat
    assert report_of(loader, "members").mode != "full" and live.request_count(kind="item") == 0
    loader.run(per_page=PER_PAGE, resources=["members"], sweep=True)  # a sweep, but too soon
    assert loader.rows(f"SELECT count(*) FROM tallyfy.members WHERE id = {victim}") == [(1,)]
    monkeypatch.setattr(source, "SECOND_SIGHTING", timedelta(0))  # an hour later
    loader.run(per_page=PER_PAGE, resources=["members"], sweep=True)
    assert report_of(loader, "members").missing == 1
    assert loader.rows(f"SELECT count(*) FROM tallyfy.members WHERE id = {victim}") == [(0,)]
    state = loader.pipeline().state["sources"]["tallyfy"]["resources"]["members"]
    assert state["suspects"][org.org_id] == {}
    assert_tables_equal_simulator(loader, org, resources=["members"])


def test_a_suspect_seen_again_is_forgotten(live, tmp_path, monkeypatch):
    """A member missing once (403, unconfirmable) that a later sweep sees again is no longer a
    suspect: it is never deleted."""
    from tallyfy_source.read import orgs as source
    from tallyfy_source.simulator import Fault

    org = live.org
    loader = Loader(live, tmp_path)
    loader.run(per_page=PER_PAGE, resources=["members"])
    member = org.values("members")[3]["id"]
    pipeline_state = lambda: loader.pipeline().state["sources"]["tallyfy"]["resources"]["members"]  # noqa: E731
    live.faults = FaultPlan([Fault("status", status=403, item=True, times=None)])
    # hidden from one sweep's walk: served as not existing on every list page of that run
    hidden = org.get("members", member)
    org.delete_member(member)
    loader.run(per_page=PER_PAGE, resources=["members"], sweep=True)
    assert list(pipeline_state()["suspects"][org.org_id]) == [str(member)]
    org.add_member(**{k: v for k, v in hidden.items() if k not in ("created_at",)})
    monkeypatch.setattr(source, "SECOND_SIGHTING", timedelta(0))
    loader.run(per_page=PER_PAGE, resources=["members"], sweep=True)
    assert pipeline_state()["suspects"][org.org_id] == {}
    assert loader.rows(f"SELECT count(*) FROM tallyfy.members WHERE id = {member}") == [(1,)]
