"""The per-org rules (`read/orgs.py`), fast: THE full-read decision, THE per-org loop that
isolates one org's failure, and THE proof that a record a sweep missed is gone (`confirm_missing`)
against the simulator on 127.0.0.1 and a real DuckDB table of loaded keys."""

import logging
from datetime import datetime, timedelta, timezone

import dlt
import pytest

from tallyfy_source.api.endpoints import MEMBERS
from tallyfy_source.errors import TallyfyAPIError
from tallyfy_source.read import orgs
from tallyfy_source.read.deletes import DELETED_COLUMN, MISSING_SINCE_COLUMN
from tallyfy_source.read.endpoint_read import ReadOptions, ReadReport
from tallyfy_source.read.orgs import OrgRun, Run, confirm_missing, each_org, full_read_due
from tallyfy_source.shape.rows import shape_row
from tallyfy_source.simulator import Fault, FaultPlan
from tests.kernel.test_read_decisions import ORG, item_requests, reader, sim  # noqa: F401

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
GONE = [990001, 990002]  # loaded once, deleted upstream since
FLAGGED = 990003  # deleted upstream and flagged by an earlier sweep in "flag" mode


# ------------------------------------------------------------------ full_read_due
@pytest.mark.parametrize("options, last_sweep, has_cursor, due", [
    (ReadOptions(), (NOW - timedelta(hours=2)).isoformat(), True, False),
    (ReadOptions(full_refresh=True), (NOW - timedelta(hours=2)).isoformat(), True, True),
    (ReadOptions(sweep=True), (NOW - timedelta(hours=2)).isoformat(), True, True),
    (ReadOptions(), (NOW - timedelta(hours=2)).isoformat(), False, True),
    (ReadOptions(), (NOW - timedelta(hours=24)).isoformat(), True, True),
    (ReadOptions(sweep_interval_hours=1), (NOW - timedelta(hours=2)).isoformat(), True, True),
    (ReadOptions(), None, True, True),
])
def test_a_full_read_is_due_when_asked_for_without_a_cursor_or_when_a_sweep_is(options, last_sweep, has_cursor, due):
    assert full_read_due(options, last_sweep, NOW, has_cursor=has_cursor) is due


def test_an_interval_of_zero_sweeps_even_with_a_last_sweep_ahead_of_the_clock():
    assert full_read_due(ReadOptions(sweep_interval_hours=0), (NOW + timedelta(hours=1)).isoformat(), NOW) is True
    assert full_read_due(ReadOptions(), (NOW + timedelta(hours=1)).isoformat(), NOW) is False


def test_without_a_cursor_argument_the_cursor_is_taken_as_there():
    assert full_read_due(ReadOptions(), (NOW - timedelta(hours=2)).isoformat(), NOW) is False


# ------------------------------------------------------------------ each_org
def reading(fail: dict):
    """A read that adds a report and yields one row per org, then fails for the orgs in `fail`."""
    def read(org: OrgRun):
        report = org.add(ReadReport("members", org.org_id), ReadReport("members", org.org_id, mode="sweep"))
        assert org.report is report
        yield {"org": org.org_id, "client": org.client, "now": org.now}
        if org.org_id in fail:
            raise fail[org.org_id]
    return read


def test_an_orgs_failure_is_written_on_its_report_and_the_other_orgs_go_on(caplog):
    reports = []
    error = TallyfyAPIError("HTTP 404 on GET /api/organizations/b/users: not found\nsecond line", status=404)
    with caplog.at_level(logging.ERROR, logger="tallyfy_source"):
        rows = list(each_org(["a", "b", "c"], "members", reading({"b": error}), reports, {"a": "A", "c": "C"}))
    assert [(r["org"], r["client"]) for r in rows] == [("a", "A"), ("b", None), ("c", "C")]
    assert all(r["now"].tzinfo is timezone.utc for r in rows)
    assert [(r.org_id, r.mode, r.error) for r in reports] == [
        ("a", "full", None), ("a", "sweep", None),
        ("b", "full", "HTTP 404 on GET /api/organizations/b/users: not found"), ("b", "sweep", None),
        ("c", "full", None), ("c", "sweep", None)]
    assert [r.getMessage() for r in caplog.records] == [
        "members of org b failed, other orgs go on: HTTP 404 on GET /api/organizations/b/users: not found"]


def test_the_failure_goes_on_the_report_blame_names():
    reports = []

    def read(org: OrgRun):
        first, second = ReadReport("tasks", org.org_id), ReadReport("tasks", org.org_id, mode="archived")
        org.add(first, second)
        org.blame = lambda: second
        raise TallyfyAPIError("HTTP 500 on GET /x: the API refused the request", status=500)
        yield  # pragma: no cover

    assert list(each_org(["a"], "tasks", read, reports)) == []
    assert [r.error for r in reports] == [None, "HTTP 500 on GET /x: the API refused the request"]


@pytest.mark.parametrize("error", [TallyfyAPIError("HTTP 401: token rejected", status=401),
                                   TallyfyAPIError("redirected", status=302), ValueError("a bug")])
def test_a_failure_every_org_shares_or_a_bug_stops_the_run(error):
    with pytest.raises(type(error)):
        list(each_org(["a", "b"], "members", reading({"a": error})))


def test_a_read_failing_before_any_report_is_still_skipped():
    def read(org):
        raise TallyfyAPIError("HTTP 403: access denied", status=403)
        yield  # pragma: no cover

    assert list(each_org(["a"], "members", read, None)) == []


def test_a_run_reads_every_org_with_its_own_client(caplog):
    reports = []
    run = Run(clients={"a": "A", "b": "B"}, options=ReadOptions(), org_ids=["a", "b"], reports=reports)
    error = TallyfyAPIError("HTTP 404 on GET /x: not found", status=404)
    with caplog.at_level(logging.ERROR, logger="tallyfy_source"):
        rows = list(run.each_org("groups", reading({"a": error})))
    assert [(r["org"], r["client"]) for r in rows] == [("a", "A"), ("b", "B")]
    assert len(reports) == 4
    assert [r.getMessage() for r in caplog.records] == ["groups of org a failed, other orgs go on: HTTP 404 on GET /x: not found"]


# ------------------------------------------------------------------ confirm_missing
@pytest.fixture
def loaded(sim, tmp_path):
    """A pipeline (active, as during a load) whose `members` table holds the org's members as
    served plus two deleted upstream since."""
    members = [dict(shape_row(dict(m), ORG, True)) for m in sim.org.served("members")]
    members += [{"org_id": ORG, "id": key, "email": f"gone{key}@example.com", MISSING_SINCE_COLUMN: None}
                for key in GONE]
    members.append({"org_id": ORG, "id": FLAGGED, "email": "flagged@example.com", MISSING_SINCE_COLUMN: NOW})
    pipe = dlt.pipeline("org_rules", destination=dlt.destinations.duckdb(str(tmp_path / "d.duckdb")),
                        dataset_name="tallyfy", pipelines_dir=str(tmp_path / "pipelines"))
    pipe.run(dlt.resource(members, name="members", primary_key=("org_id", "id"), write_disposition="merge",
                          columns={MISSING_SINCE_COLUMN: {"data_type": "timestamp", "nullable": True}}))
    return pipe


def swept(sim, **options):
    read = reader(sim, full_scan=True, **options)
    list(read.rows())
    return read


def test_keys_missing_from_a_sweep_and_gone_upstream_become_tombstones(sim, loaded):
    read = swept(sim)
    found, removals = confirm_missing(read, NOW)
    assert found == []
    assert sorted(removals, key=lambda r: r["id"]) == [{"org_id": ORG, "id": k, DELETED_COLUMN: True}
                                                       for k in GONE + [FLAGGED]]
    assert (read.report.missing, read.report.found_on_recheck, read.report.unconfirmed) == (3, 0, 0)
    assert sorted(r["path"].rsplit("/", 1)[1] for r in item_requests(sim)) == [str(k) for k in GONE + [FLAGGED]]


def test_in_flag_mode_the_last_loaded_rows_come_back_flagged(sim, loaded):
    read = swept(sim, deleted_records="flag")
    _, removals = confirm_missing(read, NOW)
    assert sorted((r["id"], r["email"], r[MISSING_SINCE_COLUMN]) for r in removals) == [
        (k, f"gone{k}@example.com", NOW) for k in GONE]
    assert str(FLAGGED) not in [r["path"].rsplit("/", 1)[1] for r in item_requests(sim)]  # flagged already


def test_a_key_the_sweep_did_not_see_that_exists_is_read_again(sim, loaded):
    read = swept(sim)
    there = sim.org.records("members")[2]["id"]
    seen = [k for k in read.seen if k != str(there)]  # the walk keeps keys as text
    found, removals = confirm_missing(read, NOW, seen=seen)
    assert [r["id"] for r in found] == [there] and len(removals) == 3
    assert read.report.found_on_recheck == 1


def test_an_unanswered_key_waits_for_the_next_sweep(sim, loaded):
    read = swept(sim)
    sim.faults = FaultPlan([Fault("status", status=503, item=True, times=None)])
    assert confirm_missing(read, NOW) == ([], [])
    assert (read.report.missing, read.report.unconfirmed) == (0, 3)


def test_a_key_the_token_may_not_confirm_goes_after_a_second_sighting(sim, loaded):
    read = swept(sim)
    sim.faults = FaultPlan([Fault("status", status=403, item=True, times=None)])
    suspects = {"123456": (NOW - timedelta(days=3)).isoformat()}  # seen again since: no longer suspect
    assert confirm_missing(read, NOW, suspects=suspects) == ([], [])
    assert suspects == {str(k): NOW.isoformat() for k in GONE + [FLAGGED]}
    assert read.report.unconfirmed == 0
    soon = NOW + orgs.SECOND_SIGHTING - timedelta(minutes=1)
    assert confirm_missing(swept(sim), soon, suspects=suspects) == ([], [])
    assert suspects == {str(k): NOW.isoformat() for k in GONE + [FLAGGED]}
    later = NOW + orgs.SECOND_SIGHTING
    _, removals = confirm_missing(swept(sim), later, suspects=suspects)
    assert sorted(r["id"] for r in removals) == GONE + [FLAGGED] and suspects == {}


def test_without_a_suspects_record_a_forbidden_key_is_unconfirmed(sim, loaded):
    read = swept(sim)
    sim.faults = FaultPlan([Fault("status", status=403, item=True, times=None)])
    assert confirm_missing(read, NOW) == ([], [])
    assert read.report.unconfirmed == 3


def test_keys_are_checked_against_another_tables_keys_when_asked(sim, loaded):
    read = swept(sim)
    assert confirm_missing(read, NOW, table=MEMBERS)[1] != []
    assert confirm_missing(read, NOW, seen=list(read.seen) + GONE + [FLAGGED]) == ([], [])
