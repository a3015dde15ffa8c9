"""A run killed with SIGKILL (no cleanup at all) while extracting or while loading leaves
every table as it was or fully loaded, keeps the cursor behind unloaded data, and the next
run ends with exactly the upstream data: no row lost, none duplicated.

The command runs as a subprocess (`python -m pipelines.tallyfy_pipeline` through a wrapper
that only adds a pause point) against the simulator in this process. The kill moments are
made deterministic rather than timed:
- extraction: the simulator holds the members request (a `timeout` fault with a long delay);
  the test kills once that request has arrived, while the other resources may be done;
- loading: the wrapper patches one dlt load step to write a marker file and sleep; the test
  kills once the marker appears. `LOAD__WORKERS=1` makes dlt run load jobs one at a time,
  so the pause point is the same on every run:
    copy      after the first file was copied into the staging dataset (nothing merged yet)
    merge     after the first table's merge transaction committed (other tables not yet)
    complete  after every table merged, before dlt recorded the load as complete
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
from tests.test_full_load import assert_tables_equal_simulator

REPO = Path(__file__).resolve().parents[1]
SMALL = dict(members=250, groups=40, tags=60, guests=30)

WRAPPER = '''
import os, runpy, sys, time

point, marker = os.environ.get("KILL_TEST_PAUSE_AT"), os.environ.get("KILL_TEST_MARKER")

def pause():
    open(marker, "w").close()
    time.sleep(600)

if point in ("copy", "merge"):
    if point == "copy":
        from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob as Job
    else:
        from dlt.destinations.job_client_impl import SqlLoadJob as Job
    original = Job.run
    def run(self):
        original(self)
        pause()
    Job.run = run
elif point == "complete":
    from dlt.load.load import Load
    Load.complete_package = lambda self, *a, **k: pause()

sys.argv[0] = "tallyfy-load"
runpy.run_module("pipelines.tallyfy_pipeline", run_name="__main__")
'''


class Command:
    """`tallyfy-load` against the simulator, one DuckDB file and one pipelines folder."""

    def __init__(self, sim, tmp_path):
        self.sim, self.tmp_path = sim, tmp_path
        self.wrapper = tmp_path / "killable.py"
        self.wrapper.write_text(WRAPPER)
        self.db = tmp_path / "tallyfy_data.duckdb"
        self.marker = tmp_path / "paused"

    def env(self, pause_at=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "TALLYFY_", "LOAD__"))}
        env.update(PYTHONPATH=str(REPO), LOAD__WORKERS="1", RUNTIME__REQUEST_BACKOFF_FACTOR="0.05")
        if pause_at:
            env.update(KILL_TEST_PAUSE_AT=pause_at, KILL_TEST_MARKER=str(self.marker))
        return env

    def args(self):
        return [sys.executable, str(self.wrapper), "--org", self.sim.org_ids[0], "--base-url", self.sim.base_url,
                "--access-token", TOKEN, "--duckdb-file", str(self.db),
                "--pipelines-dir", str(self.tmp_path / "pipelines")]

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


def assert_each_table_before_or_after(got, before, after, whole=True):
    tables = set(before) | set(after)
    states = {t: ("before" if got.get(t) == before.get(t) else "after" if got.get(t) == after.get(t) else "neither")
              for t in tables}
    assert "neither" not in states.values(), states
    if whole:
        assert len(set(states.values())) == 1 or got in (before, after), states
    return states


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
    assert_tables_equal_simulator(Loader(sim, tmp_path, pipeline_name="tallyfy"), org)


@pytest.mark.parametrize("pause_at", ["copy", "merge", "complete"])
def test_killed_while_loading(killable, tmp_path, pause_at):
    sim, command = killable
    org = sim.org
    command.run()
    before = snapshot(command.db)
    change_upstream(org, "a")
    command.run_and_kill_when(command.marker.exists, pause_at)
    killed = snapshot(command.db)

    command.run()  # redoes the interrupted run from the last completed load
    after = snapshot(command.db)
    assert_tables_equal_simulator(Loader(sim, tmp_path, pipeline_name="tallyfy"), org)
    # "merge": each table is before or after (one transaction per table), not all together
    states = assert_each_table_before_or_after(killed, before, after, whole=(pause_at != "merge"))
    if pause_at == "copy":
        assert set(states.values()) == {"before"}
    if pause_at == "complete":
        assert killed == after

    change_upstream(org, "b")
    command.run()
    loader = Loader(sim, tmp_path, pipeline_name="tallyfy")
    assert_tables_equal_simulator(loader, org)


def test_the_run_after_a_killed_load_also_brings_what_changed_since(killable, tmp_path):
    """dlt's `pipeline.run` with a pending package only finishes that package and returns; the
    command must then also extract, or a scheduled run after a crash would load stale data."""
    sim, command = killable
    org = sim.org
    command.run()
    change_upstream(org, "a")
    command.run_and_kill_when(command.marker.exists, "merge")
    change_upstream(org, "b")
    command.run()
    assert_tables_equal_simulator(Loader(sim, tmp_path, pipeline_name="tallyfy"), org)


@pytest.mark.xfail(strict=True, reason="dlt merges each table in its own transaction: a kill between two"
                   " tables' merges leaves some tables new, some old, until the next run finishes the load")
def test_killed_between_two_table_merges_leaves_the_whole_destination_before_or_after(killable, tmp_path):
    sim, command = killable
    command.run()
    before = snapshot(command.db)
    change_upstream(sim.org, "a")
    command.run_and_kill_when(command.marker.exists, "merge")
    killed = snapshot(command.db)
    command.run()
    assert killed in (before, snapshot(command.db))
