"""Transient faults are retried (bounded, one log line each) and the tables end exactly as
after a fault-free run; untrustworthy paging is detected instead of looping or losing rows."""

import email.utils
import logging
import math
import time

import pytest

from tallyfy_source.api.paging import LOOP_REPEATS
from tallyfy_source.simulator import Simulator
from tallyfy_source.simulator.faults import Fault, FaultPlan, change_between
from tallyfy_source.simulator.server import sort_records
from tests.conftest import TOKEN, Loader, make_org
from tests.expected import full_read_requests, records
from tests.snapshots import assert_same_tables, snapshot
from tests.directory.test_full_load import assert_tables_equal_simulator

SMALL = dict(members=250, groups=40, tags=60, guests=30)  # members: 3 pages of 100


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch):
    """Exponential waits of 0.05 s, 0.1 s, ...: dlt's own runtime setting, read by the session."""
    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "0.05")


@pytest.fixture
def small_sim():
    server = Simulator(orgs=[make_org(**SMALL)], token=TOKEN).start()
    yield server
    server.stop()


def retry_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "tallyfy_source" and r.getMessage().startswith("retry ")]


def member_cursors(pipeline):
    resources = pipeline.state.get("sources", {}).get("tallyfy", {}).get("resources", {})
    return resources.get("members", {}).get("cursors", {})


def http_date(seconds_ahead: float) -> str:
    return email.utils.formatdate(time.time() + seconds_ahead, usegmt=True)


# (id, fault on members page 2, what the retry line says, (min wait, max wait))
FAULTS = [
    ("429-retry-after-seconds", lambda: Fault("retry_after", retry_after="1"), "HTTP 429", (1.0, 1.0)),
    ("429-retry-after-http-date", lambda: Fault("retry_after", retry_after=http_date(2)), "HTTP 429", (0.01, 2.0)),
    ("429-retry-after-zero", lambda: Fault("retry_after", retry_after="0"), "HTTP 429", (0.01, 0.1)),
    ("500", lambda: Fault("status", status=500), "HTTP 500", (0.01, 0.1)),
    ("502", lambda: Fault("status", status=502), "HTTP 502", (0.01, 0.1)),
    ("503", lambda: Fault("status", status=503), "HTTP 503", (0.01, 0.1)),
    ("504", lambda: Fault("status", status=504), "HTTP 504", (0.01, 0.1)),
    ("connection-reset", lambda: Fault("reset"), "ConnectionError", (0.01, 0.1)),
    ("read-timeout", lambda: Fault("timeout", delay=1.5), "ReadTimeout", (0.01, 0.1)),
    ("truncated-body", lambda: Fault("truncated", fraction=0.4), "unreadable body", (0.01, 0.1)),
    ("short-read", lambda: Fault("truncated", fraction=0.4, full_length=True), "", (0.01, 0.1)),
    ("html-instead-of-json", lambda: Fault("not_json"), "unreadable body", (0.01, 0.1)),
]


@pytest.mark.parametrize("make_fault,says,wait", [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_a_transient_fault_mid_walk_is_retried_once_and_loses_nothing(small_sim, tmp_path, caplog, make_fault, says, wait):
    caplog.set_level(logging.INFO, logger="tallyfy_source")
    org = small_sim.org
    fault = make_fault()
    fault.resource, fault.page = "members", 2
    small_sim.faults = FaultPlan([fault])
    loader = Loader(small_sim, tmp_path)
    loader.run(request_timeout=0.5)

    assert small_sim.faults.fired and small_sim.faults.fired[0]["page"] == 2
    pages = full_read_requests("members", org.members)
    assert small_sim.request_count(resource="members") == pages + 1  # the faulted page, once more
    assert_tables_equal_simulator(loader, org)
    lines = retry_lines(caplog)
    assert len(lines) == 1, lines
    line = lines[0]
    assert f"/organizations/{org.org_id}/users" in line and "page 2" in line and says in line, line
    waited = float(line.rsplit("waiting ", 1)[1].rstrip("s"))
    assert wait[0] <= waited <= wait[1], line  # Retry-After honoured; "0" still backs off


def test_a_page_without_meta_is_read_on_and_loses_nothing(small_sim, tmp_path, caplog):
    org = small_sim.org
    small_sim.faults = FaultPlan([Fault("missing_meta", resource="members", page=p) for p in (1, 2, 3)]
                                 + [Fault("missing_meta", resource="tags")])
    loader = Loader(small_sim, tmp_path)
    loader.run()
    assert len(small_sim.faults.fired) == 4
    assert_tables_equal_simulator(loader, org)
    assert retry_lines(caplog) == []


def test_a_fault_free_and_a_faulty_run_end_with_identical_tables(tmp_path, caplog):
    """A seeded random plan (about a third of the requests fail with 429/5xx, resets, cut or HTML
    bodies) against per_page=20, compared row by row with a fault-free load of the same org."""
    caplog.set_level(logging.WARNING, logger="tallyfy_source")
    with Simulator(orgs=[make_org(**SMALL)], token=TOKEN) as clean:
        Loader(clean, tmp_path / "clean").run(per_page=20)
    plan = FaultPlan.random(seed=5, rate=0.35)
    with Simulator(orgs=[make_org(**SMALL)], token=TOKEN, faults=plan) as faulty:
        Loader(faulty, tmp_path / "faulty").run(per_page=20)
        assert faulty.request_count(status=200) > 20
    assert len(plan.fired) >= 8, plan.fired
    assert {f["kind"] for f in plan.fired} >= {"status", "reset", "truncated", "not_json"}
    assert len(retry_lines(caplog)) == len(plan.fired)  # one line per retry, none silent
    assert_same_tables(snapshot(tmp_path / "faulty" / "tallyfy_data.duckdb"),
                       snapshot(tmp_path / "clean" / "tallyfy_data.duckdb"))


def test_retries_are_bounded_and_the_next_run_heals(small_sim, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="tallyfy_source")
    org = small_sim.org
    small_sim.faults = FaultPlan([Fault("status", status=503, resource="members", page=2, times=None)])
    loader = Loader(small_sim, tmp_path)
    loader.run(max_attempts=3)
    page_2 = [r for r in small_sim.requests if r["resource"] == "members" and r["page"] == 2]
    assert len(page_2) == 3 and {r["status"] for r in page_2} == {503}
    assert len(retry_lines(caplog)) == 2  # attempts 1 and 2 were retried, attempt 3 gave up
    failed = [r for r in loader.reports if r.error]
    assert [(r.resource, r.org_id) for r in failed] == [("members", org.org_id)]
    assert "HTTP 503" in failed[0].error and "\n" not in failed[0].error
    for resource, key in (("groups", "id"), ("tags", "id"), ("guests", "email")):  # the rest loaded
        assert loader.rows(f"SELECT count(*) FROM tallyfy.{resource}") == [(len(records(getattr(org, resource))),)]
    assert org.org_id not in member_cursors(loader.pipeline())  # no cursor for a walk that failed

    small_sim.faults = None
    loader.run()
    assert_tables_equal_simulator(loader, org)


# ------------------------------------------------------------------ pagination sanity
def test_a_looping_server_stops_with_an_error_instead_of_duplicating(small_sim, tmp_path):
    org = small_sim.org
    small_sim.faults = FaultPlan([Fault("loop", resource="members", times=None)])
    loader = Loader(small_sim, tmp_path)
    loader.run(per_page=10, concurrency=4)
    # pages 2-4 repeat page 1 (one repeat can be rows moving, three in a row is a loop): stop
    # there (pages already in flight are dropped), not after 25 pages
    assert small_sim.request_count(resource="members") <= 1 + LOOP_REPEATS + 4
    failed = [r for r in loader.reports if r.error]
    assert [r.resource for r in failed] == ["members"]
    assert "repeats page 1" in failed[0].error and "looping" in failed[0].error
    ids = [i for (i,) in loader.rows("SELECT id FROM tallyfy.members")]
    assert len(ids) == len(set(ids)) == 10  # page 1 only, once
    assert loader.rows("SELECT count(*) FROM tallyfy.groups") == [(len(records(org.groups)),)]


def test_rows_read_differing_from_the_reported_total_is_warned(small_sim, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="tallyfy_source")
    org = small_sim.org
    small_sim.faults = FaultPlan([Fault("wrong_total", resource="guests", total_delta=7, times=None)])
    loader = Loader(small_sim, tmp_path)
    loader.run()
    n = len(records(org.guests))
    warnings = [r.getMessage() for r in caplog.records if "total" in r.getMessage()]
    assert any(f"read {n} rows but the server reported a total of {n + 7}" in w for w in warnings), warnings
    assert_tables_equal_simulator(loader, org)


def test_a_member_deleted_while_paging_makes_no_other_member_go_missing(small_sim, tmp_path):
    """Deleting a member of page 1 while page 2 is being asked for shifts every later row one
    place back: that walk never reads the first row of page 2. It sees the total change, so its
    cursor does not move and the next run reads everything again; the deleted member, read
    before it went, leaves once a single-record request confirms it is gone."""
    org = small_sim.org
    newest = [m["id"] for m in sort_records("members", records(org.members), "updated_at", True)]
    victim, boundary = newest[10], newest[100]  # boundary: first row of page 2 before the delete
    small_sim.faults = FaultPlan([change_between("members", 2, lambda: org.delete_member(victim))])
    loader = Loader(small_sim, tmp_path)
    loader.run(concurrency=1)
    assert small_sim.faults.fired
    members = next(r for r in loader.reports if r.resource == "members")
    assert not members.clean
    assert org.org_id not in member_cursors(loader.pipeline()) or \
        member_cursors(loader.pipeline())[org.org_id]["value"] is None
    loader.run()
    assert loader.rows(f"SELECT count(*) FROM tallyfy.members WHERE id = {boundary}") == [(1,)]
    assert_tables_equal_simulator(loader, org)


def test_records_changed_while_an_incremental_walk_pages_are_caught_by_the_next_run(small_sim, tmp_path):
    """Updates during a newest-first walk move rows to page 1 behind the reader (the total does
    not change, so nothing to detect): the next run's cursor still finds them."""
    org = small_sim.org
    loader = Loader(small_sim, tmp_path)
    loader.run(per_page=20)
    ids = sorted(m["id"] for m in records(org.members))
    for member_id in ids[:3]:
        org.update_member(member_id, job_title="Changed before the run")

    def change_during_walk():
        for member_id in ids[50:53]:
            org.update_member(member_id, job_title="Changed while paging")
        org.add_member()

    small_sim.faults = FaultPlan([Fault("mutate", resource="members", page=2, action=change_during_walk)])
    loader.run(per_page=2)  # small pages: the walk is still going when the changes land
    assert small_sim.faults.fired
    loader.run(per_page=20)
    assert_tables_equal_simulator(loader, org)


# ------------------------------------------------------------------ the simulator's switches
def test_simulator_can_answer_404_for_an_unknown_org_and_lie_about_the_total(tmp_path):
    import requests

    with Simulator(orgs=[make_org(**SMALL)], token=TOKEN, unknown_org_status=404) as s:
        s.faults = FaultPlan([Fault("wrong_total", total_delta=3)])
        assert requests.get(f"{s.base_url}/organizations/nope/tags", headers=s.headers()).status_code == 404
        body = requests.get(f"{s.base_url}/organizations/{s.org_ids[0]}/tags?all=true", headers=s.headers()).json()
        assert body["meta"]["pagination"]["total"] == len(records(s.org.tags)) + 3
