"""A run killed with SIGKILL (no cleanup at all) while extracting or while loading leaves
the whole destination (every table together) as it was or fully loaded, keeps the cursor
behind unloaded data, and the next run ends with exactly the upstream data: no row lost,
none duplicated. Also on PostgreSQL, and when the database itself refuses the publish.

The command runs as a subprocess (`python -m pipelines.tallyfy_pipeline` through a wrapper
that only adds a pause point) against the simulator in this process. The kill moments are
made deterministic rather than timed:
- extraction: the simulator holds the members request (a `timeout` fault with a long delay);
  the test kills once that request has arrived, while the other resources may be done;
- loading: the wrapper patches one load step to write a marker file and sleep; the test
  kills once the marker appears. `LOAD__WORKERS=1` makes dlt run load jobs one at a time,
  so the pause point is the same on every run:
    copy       after the first file was copied into the staging dataset (nothing published)
    publish    inside the one publishing transaction, after the first table's merge ran
               (the point where dlt alone would have left that table new and the rest old)
    complete   after every job ran, before the publishing transaction began
    published  after the publishing transaction committed, before dlt archived the package
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tallyfy_source.simulator import Simulator
from tallyfy_source.simulator.faults import Fault, FaultPlan
from tests.conftest import TOKEN, Loader, make_org
from tests.expected import records
from tests.snapshots import snapshot
from tests.directory.test_full_load import assert_tables_equal_simulator

# kill -9 of a child process and its exit status are POSIX; CI runs Linux
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

REPO = Path(__file__).resolve().parents[2]
SMALL = dict(members=250, groups=40, tags=60, guests=30)

WRAPPER = '''
import os, runpy, sys, time

point, marker = os.environ.get("KILL_TEST_PAUSE_AT"), os.environ.get("KILL_TEST_MARKER")

def pause():
    open(marker, "w").close()
    time.sleep(600)

def pause_after(owner, name):
    original = getattr(owner, name)
    def paused(*args, **kwargs):
        original(*args, **kwargs)
        pause()
    setattr(owner, name, paused)

if point == "copy":
    from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob
    pause_after(DuckDbCopyJob, "run")
elif point == "publish":
    import tallyfy_source.destinations
    pause_after(tallyfy_source.destinations, "run_sql")
elif point == "complete":
    from dlt.load.load import Load
    Load.complete_package = lambda self, *a, **k: pause()
elif point == "published":
    from tallyfy_source.destinations import PublishInOneTransaction
    pause_after(PublishInOneTransaction, "complete_load")

sys.argv[0] = "tallyfy-load"
runpy.run_module("pipelines.tallyfy_pipeline", run_name="__main__")
'''


class Command:
    """`tallyfy-load` against the simulator, one destination and one pipelines folder.

    The destination is a DuckDB file, or the PostgreSQL database `postgres` (a dlt destination
    object from the `destinations` fixture) when given; `self.db` is what `snapshot` reads.
    """

    def __init__(self, sim, tmp_path, postgres=None):
        self.sim, self.tmp_path, self.postgres = sim, tmp_path, postgres
        self.wrapper = tmp_path / "killable.py"
        self.wrapper.write_text(WRAPPER)
        self.db = postgres.config_params["credentials"] if postgres else tmp_path / "tallyfy_data.duckdb"
        self.marker = tmp_path / "paused"

    def loader(self):
        return Loader(self.sim, self.tmp_path, self.postgres, pipeline_name="tallyfy")

    def env(self, pause_at=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "TALLYFY_", "LOAD__"))}
        env.update(PYTHONPATH=str(REPO), LOAD__WORKERS="1", RUNTIME__REQUEST_BACKOFF_FACTOR="0.05")
        if self.postgres:
            env.update(DESTINATION__POSTGRES__CREDENTIALS=self.db)
        if pause_at:
            env.update(KILL_TEST_PAUSE_AT=pause_at, KILL_TEST_MARKER=str(self.marker))
        return env

    def args(self):
        return [sys.executable, str(self.wrapper), "--org", self.sim.org_ids[0], "--base-url", self.sim.base_url,
                "--access-token", TOKEN, "--pipelines-dir", str(self.tmp_path / "pipelines"),
                *(["--destination", "postgres"] if self.postgres else ["--duckdb-file", str(self.db)])]

    def run(self):
        result = subprocess.run(self.args(), cwd=self.tmp_path, env=self.env(), capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stderr
        return result

    def run_and_kill_when(self, ready, pause_at=None):
        proc = subprocess.Popen(self.args(), cwd=self.tmp_path, env=self.env(pause_at),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            while not ready():
                assert proc.poll() is None, f"finished before the kill point: {proc.communicate()}"
                assert time.monotonic() < deadline, "kill point never reached"
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL


def member_cursor(tmp_path, org_id):
    loader = Loader(None, tmp_path, pipeline_name="tallyfy")
    state = loader.pipeline().state
    return state["sources"]["tallyfy"]["resources"]["members"]["cursors"].get(org_id)


def change_upstream(org, salt):
    """Updates (cursor-visible), an insert and hard deletes (sweep-visible) of every resource."""
    members = sorted(m["id"] for m in records(org.members))
    for member_id in members[5:9]:
        org.update_member(member_id, job_title=f"Title {salt}")
    org.add_member()
    groups = records(org.groups)
    org.update_group(groups[2]["id"], name=f"Renamed {salt}")
    org.delete_tag(records(org.tags)[1]["id"])
    org.delete_guest(records(org.guests)[2]["email"])


def table_states(got, before, after):
    """table -> the load it matches: "before", "after", "unchanged" by the run, or "neither"."""
    def state(table):
        g, b, a = got.get(table), before.get(table), after.get(table)
        return "unchanged" if g == b == a else "before" if g == b else "after" if g == a else "neither"
    return {t: state(t) for t in set(before) | set(after) | set(got)}


@pytest.fixture
def killable(tmp_path):
    sim = Simulator(orgs=[make_org(**SMALL)], token=TOKEN).start()
    yield sim, Command(sim, tmp_path)
    sim.stop()


def test_killed_while_extracting(killable, tmp_path):
    sim, command = killable
    org = sim.org
    command.run()
    before = snapshot(command.db)
    cursor_before = member_cursor(tmp_path, org.org_id)
    change_upstream(org, "a")
    sim.faults = FaultPlan([Fault("timeout", resource="members", delay=60)])  # hold the members read
    command.run_and_kill_when(lambda: any(r["fault"] == "timeout" for r in sim.requests))

    assert snapshot(command.db) == before  # nothing of the killed run reached the destination
    assert member_cursor(tmp_path, org.org_id) == cursor_before
    sim.faults = None
    change_upstream(org, "b")
    command.run()
    assert_tables_equal_simulator(command.loader(), org)


@pytest.mark.parametrize("pause_at, left", [("copy", "before"), ("publish", "before"), ("complete", "before"),
                                           ("published", "after")])
def test_killed_while_loading_leaves_the_whole_destination_before_or_after(killable, tmp_path, pause_at, left):
    sim, command = killable
    org = sim.org
    command.run()
    before = snapshot(command.db)
    change_upstream(org, "a")
    command.run_and_kill_when(command.marker.exists, pause_at)
    killed = snapshot(command.db)

    command.run()  # redoes the interrupted run from the last completed load
    after = snapshot(command.db)
    assert before != after
    assert_tables_equal_simulator(command.loader(), org)
    assert killed == (before if left == "before" else after), table_states(killed, before, after)

    change_upstream(org, "b")
    command.run()
    assert_tables_equal_simulator(command.loader(), org)


def test_a_first_run_killed_while_publishing_leaves_no_rows(killable, tmp_path):
    """Before the first load there is no data: dlt has created the (empty) tables, nothing more."""
    sim, command = killable
    command.run_and_kill_when(command.marker.exists, "publish")
    killed = snapshot(command.db)
    assert killed and all(rows == [] for rows in killed.values()), {t: len(r) for t, r in killed.items()}
    command.run()
    assert_tables_equal_simulator(command.loader(), sim.org)


@pytest.mark.parametrize("pause_at, left", [("publish", "before"), ("published", "after")])
def test_killed_while_publishing_to_postgres_leaves_it_before_or_after(tmp_path, destinations, pause_at, left):
    """The server rolls back the open publishing transaction when the killed client's connection drops."""
    with Simulator(orgs=[make_org(**SMALL)], token=TOKEN).start() as sim:
        command = Command(sim, tmp_path, postgres=destinations("postgres"))
        command.run()
        before = snapshot(command.db)
        change_upstream(sim.org, "a")
        command.run_and_kill_when(command.marker.exists, pause_at)
        killed = snapshot(command.db)
        command.run()
        after = snapshot(command.db)
        assert before != after
        assert killed == (before if left == "before" else after), table_states(killed, before, after)
        assert_tables_equal_simulator(command.loader(), sim.org)


def test_a_publish_the_database_refuses_rolls_back_every_table(tmp_path, destinations):
    """A real error from PostgreSQL in the last table's merge (a trigger on `tags`, merged after
    groups, guests and members) leaves every table as before, fails the run with one line, and
    the next run loads it all."""
    import psycopg2

    with Simulator(orgs=[make_org(**SMALL)], token=TOKEN).start() as sim:
        command = Command(sim, tmp_path, postgres=destinations("postgres"))
        command.run()
        before = snapshot(command.db)
        refuse = ("CREATE FUNCTION tallyfy.refuse() RETURNS trigger LANGUAGE plpgsql AS"
                  " $$ BEGIN RAISE EXCEPTION 'tags are read-only today'; END $$;"
                  " CREATE TRIGGER refuse BEFORE INSERT OR DELETE ON tallyfy.tags"
                  " FOR EACH STATEMENT EXECUTE FUNCTION tallyfy.refuse()")
        with psycopg2.connect(command.db) as connection, connection.cursor() as cursor:
            cursor.execute(refuse)
        change_upstream(sim.org, "a")

        failed = subprocess.run(command.args(), cwd=tmp_path, env=command.env(), capture_output=True, text=True,
                                timeout=300)
        assert failed.returncode == 1
        assert failed.stderr.count("\n") == 1 and "tags are read-only today" in failed.stderr, failed.stderr
        assert snapshot(command.db) == before

        with psycopg2.connect(command.db) as connection, connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER refuse ON tallyfy.tags")
        command.run()
        assert snapshot(command.db) != before
        assert_tables_equal_simulator(command.loader(), sim.org)


def test_the_run_after_a_killed_load_also_brings_what_changed_since(killable, tmp_path):
    """dlt's `pipeline.run` with a pending package only finishes that package and returns; the
    command must then also extract, or a scheduled run after a crash would load stale data."""
    sim, command = killable
    org = sim.org
    command.run()
    change_upstream(org, "a")
    command.run_and_kill_when(command.marker.exists, "publish")
    change_upstream(org, "b")
    command.run()
    assert_tables_equal_simulator(command.loader(), org)
