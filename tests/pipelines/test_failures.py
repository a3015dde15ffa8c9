"""Errors retrying cannot fix stop at once with one line naming the org, the endpoint and the
fix; one failing org does not stop the others, but the command still exits non-zero."""

import socket
import time

import duckdb
import pytest

from pipelines.tallyfy_pipeline import main
from tallyfy_source.simulator import Simulator
from tallyfy_source.simulator.faults import Fault, FaultPlan
from tests.conftest import TOKEN, Loader, make_org
from tests.expected import records
from tests.directory.test_full_load import assert_tables_equal_simulator

SMALL = dict(members=150, groups=20, tags=30, guests=20)
ORG_A = "aaaa0000aaaa0000aaaa0000aaaa0000"
ORG_B = "bbbb1111bbbb1111bbbb1111bbbb1111"
UNKNOWN = "cccc2222cccc2222cccc2222cccc2222"


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch):
    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "0.05")


@pytest.fixture
def two_orgs():
    server = Simulator(orgs=[make_org(ORG_A, seed=1, **SMALL), make_org(ORG_B, seed=2, **SMALL)],
                       token=TOKEN, unknown_org_status=404).start()
    yield server
    server.stop()


def command(sim, tmp_path, orgs, *extra, token=TOKEN):
    args = [a for org in orgs for a in ("--org", org)]
    return main(args + ["--base-url", sim.base_url, "--access-token", token,
                        "--pipelines-dir", str(tmp_path / "pipelines"),
                        "--duckdb-file", str(tmp_path / "tallyfy_data.duckdb"), *extra])


def data_tables(tmp_path):
    db = tmp_path / "tallyfy_data.duckdb"
    if not db.exists():
        return []
    with duckdb.connect(str(db), read_only=True) as con:
        return [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'tallyfy'"
            " AND NOT starts_with(table_name, '_dlt')").fetchall()]


def assert_each_resource_asked_once(sim, org_id, status):
    """Not retried: one request per directory resource, and the activity feed asked once for the
    workflow resources (shared) and once for the `activity` table; each answered `status`."""
    asked = [r for r in sim.requests if r["org_id"] == org_id]
    assert sorted(r["resource"] for r in asked) == ["activity", "activity", "groups", "guests", "members",
                                                      "tags"], asked
    assert {r["status"] for r in asked} == {status}


def test_a_rejected_token_stops_the_run_at_once(two_orgs, tmp_path, capsys):
    code = command(two_orgs, tmp_path, [ORG_A, ORG_B], token="expired-token-0000")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    line = err[0]
    assert "HTTP 401" in line and "/organizations/" in line and "logs out of the web app" in line
    assert ORG_A in line or ORG_B in line
    assert two_orgs.request_count(status=200) == 0
    for resource in ("members", "groups", "tags", "guests"):  # never retried
        assert two_orgs.request_count(resource=resource) <= 1
    assert data_tables(tmp_path) == []


@pytest.mark.parametrize("status,fix", [
    (403, "access denied: the token's user cannot read this organization"),
    (404, "not found: check the org id"),
])
def test_forbidden_or_unknown_org_fails_at_once_naming_org_endpoint_and_fix(two_orgs, tmp_path, capsys, status, fix):
    org_id = ORG_A if status == 403 else UNKNOWN
    two_orgs.forbidden_orgs = {ORG_A}
    code = command(two_orgs, tmp_path, [org_id])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    line = err[0]
    assert f"org {org_id}" in line and f"HTTP {status}" in line and fix in line, line
    assert f"/organizations/{org_id}/" in line
    assert_each_resource_asked_once(two_orgs, org_id, status)


def test_one_forbidden_org_does_not_stop_the_others(two_orgs, tmp_path, capsys):
    two_orgs.forbidden_orgs = {ORG_B}
    code = command(two_orgs, tmp_path, [ORG_A, ORG_B])
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and f"org {ORG_B} failed" in err[0] and "HTTP 403" in err[0], err
    assert ORG_A not in err[0]
    assert_each_resource_asked_once(two_orgs, ORG_B, 403)
    loader = Loader(two_orgs, tmp_path, pipeline_name="tallyfy")
    assert_tables_equal_simulator(loader, two_orgs.orgs[ORG_A])  # org A complete, nothing of B


def test_an_org_whose_api_keeps_failing_is_reported_and_the_others_load(two_orgs, tmp_path, capsys):
    two_orgs.faults = FaultPlan([Fault("status", status=502, org_id=ORG_B, resource="groups", times=None)])
    code = command(two_orgs, tmp_path, [ORG_A, ORG_B])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and f"org {ORG_B} failed" in err[0] and "HTTP 502" in err[0], err
    assert two_orgs.request_count(org_id=ORG_B, resource="groups") == 6  # max_attempts, then give up
    loader = Loader(two_orgs, tmp_path, pipeline_name="tallyfy")
    groups = loader.rows("SELECT org_id, count(*) FROM tallyfy.groups GROUP BY 1")
    assert groups == [(ORG_A, len(records(two_orgs.orgs[ORG_A].groups)))]
    members = dict(loader.rows("SELECT org_id, count(*) FROM tallyfy.members GROUP BY 1"))
    assert members == {o: len(records(two_orgs.orgs[o].members)) for o in (ORG_A, ORG_B)}

    two_orgs.faults = None  # the next run heals the failed org
    assert command(two_orgs, tmp_path, [ORG_A, ORG_B]) == 0
    groups = dict(loader.rows("SELECT org_id, count(*) FROM tallyfy.groups GROUP BY 1"))
    assert groups == {o: len(records(two_orgs.orgs[o].groups)) for o in (ORG_A, ORG_B)}


def test_an_unreachable_api_is_named_plainly(tmp_path, capsys, monkeypatch):
    """Connection refused: one line per org naming the host and the fix, no library internals."""
    from pipelines.tallyfy_pipeline import main

    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "0.01")
    code = main(["--org", "abc", "--access-token", "t", "--base-url", "http://127.0.0.1:9/api",
                 "--resources", "tags", "--pipelines-dir", str(tmp_path / "p")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1] == ("tallyfy-load: org abc failed: cannot reach http://127.0.0.1:9 (connection refused)"
                       " on GET /api/organizations/abc/tags: check the base URL and the network")


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_fails_in_seconds_not_after_every_retry(tmp_path, capsys, monkeypatch):
    """Nothing listens at the base URL: not worth 5 retries (~32 s at the default backoff of 1 s);
    one line naming the host and what to check, exit 1 like any connection failure."""
    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "1")  # dlt's default
    port = closed_port()
    started = time.monotonic()
    code = main(["--org", "abc", "--access-token", "secret-token-4711", "--base-url", f"http://127.0.0.1:{port}/api",
                 "--pipelines-dir", str(tmp_path / "p"), "--duckdb-file", str(tmp_path / "tallyfy_data.duckdb")])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert elapsed < 8, f"took {elapsed:.1f}s"
    assert err == [f"tallyfy-load: org abc failed: cannot reach http://127.0.0.1:{port} (connection refused)"
                   " on GET /api/organizations/abc/users: check the base URL and the network"], err


def db_files(tmp_path):
    return sorted(p.name for p in tmp_path.glob("tallyfy_data.duckdb*"))


def test_when_every_org_fails_nothing_is_printed_and_no_database_file_is_left(two_orgs, tmp_path, capsys):
    two_orgs.forbidden_orgs = {ORG_A, ORG_B}
    code = command(two_orgs, tmp_path, [ORG_A, ORG_B])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""  # no summary table of zeros, no "destination: ..." line
    err = captured.err.strip().splitlines()
    assert len(err) == 2 and all(" failed: " in line and "HTTP 403" in line for line in err), err
    assert db_files(tmp_path) == []  # not an empty database, not a half-created one

    two_orgs.forbidden_orgs = set()  # the next run, access granted, loads everything into a new file
    assert command(two_orgs, tmp_path, [ORG_A, ORG_B]) == 0
    assert "destination: duckdb" in capsys.readouterr().out
    loader = Loader(two_orgs, tmp_path, pipeline_name="tallyfy")
    for table in ("members", "groups", "tags", "guests"):
        counts = dict(loader.rows(f"SELECT org_id, count(*) FROM tallyfy.{table} GROUP BY 1"))
        assert counts == {o: len(records(getattr(two_orgs.orgs[o], table))) for o in (ORG_A, ORG_B)}, table


def test_a_refused_connection_leaves_no_database_file_and_prints_no_summary(tmp_path, capsys):
    code = main(["--org", "abc", "--access-token", "t", "--base-url", f"http://127.0.0.1:{closed_port()}/api",
                 "--pipelines-dir", str(tmp_path / "p"), "--duckdb-file", str(tmp_path / "tallyfy_data.duckdb")])
    assert code == 1 and capsys.readouterr().out == ""
    assert db_files(tmp_path) == []


def test_a_run_stopped_at_once_leaves_no_database_file(two_orgs, tmp_path, capsys):
    """401 stops the whole run with an exception: the file it opened holds no load, so it goes too."""
    assert command(two_orgs, tmp_path, [ORG_A, ORG_B], token="expired-token-0000") == 1
    assert capsys.readouterr().out == ""
    assert db_files(tmp_path) == []


def test_when_every_org_fails_an_existing_database_is_kept_as_it_was(two_orgs, tmp_path, capsys):
    assert command(two_orgs, tmp_path, [ORG_A], "--resources", "tags") == 0
    capsys.readouterr()
    two_orgs.forbidden_orgs = {ORG_A, ORG_B}
    code = command(two_orgs, tmp_path, [ORG_A, ORG_B], "--resources", "tags")
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    loader = Loader(two_orgs, tmp_path, pipeline_name="tallyfy")
    assert loader.rows("SELECT org_id, count(*) FROM tallyfy.tags GROUP BY 1") == [
        (ORG_A, len(records(two_orgs.orgs[ORG_A].tags)))]


def test_when_some_orgs_fail_the_summary_is_printed(two_orgs, tmp_path, capsys):
    two_orgs.forbidden_orgs = {ORG_B}
    assert command(two_orgs, tmp_path, [ORG_A, ORG_B], "--resources", "tags") == 1
    out = capsys.readouterr().out
    assert "tags" in out and f"destination: duckdb, dataset: tallyfy, at {tmp_path / 'tallyfy_data.duckdb'}" in out


def test_a_duckdb_file_another_process_holds_is_one_line_naming_it(two_orgs, tmp_path, capsys):
    """A notebook, a DuckDB shell or another load with the file open: DuckDB refuses the lock.
    The command says which process holds which file and what to do, in one line; nothing is
    loaded, and the file is as the holder has it."""
    import subprocess
    import sys

    db = tmp_path / "tallyfy_data.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]);"
                               " c.execute('CREATE TABLE held (x INT)'); print('ready', flush=True); time.sleep(60)",
                               str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        code = command(two_orgs, tmp_path, [ORG_A])
        err = capsys.readouterr().err.strip().splitlines()
    finally:
        holder.kill()
        holder.wait()
    assert code == 1
    assert len(err) == 1, err
    assert err[0] == (f"tallyfy-load: the DuckDB file {db} is open in another process, pid {holder.pid}"
                      f" ({sys.executable} -c import duckdb, sys, time; c = duckdb.connect(sys.argv[1]);"
                      " c.execute('CREATE TABLE held (x INT)'); print('ready', flush=True); time.sleep(60)"
                      f" {db}): close it there (or wait for that load to end), then run again"), err[0]
    assert data_tables(tmp_path) == []
