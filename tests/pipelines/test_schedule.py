"""Scheduled runs: two loads of the same pipeline never run at once.

Each process is told apart in the simulator's request log by the page size it asks for.
"""

import os
import subprocess
import sys

import dlt
import pytest

from pipelines.lock import PipelineLocked, pipeline_lock
from tallyfy_source.simulator import Simulator
from tests.conftest import TOKEN, Loader, make_org
from tests.expected import records
from tests.pipelines.test_command import REPO, run_command, summary_counts
from tests.directory.test_full_load import assert_tables_equal_simulator

NAME = "scheduled"
SIZES = dict(members=250, groups=20, tags=30, guests=10)


def lock_message(pid):
    return f"another tallyfy-load run holds the lock on pipeline {NAME} (pid {pid}); try again when it ends"


def command_args(sim, tmp_path, per_page):
    return ["--org", sim.org_ids[0], "--base-url", sim.base_url, "--access-token", sim.token,
            "--pipeline-name", NAME, "--pipelines-dir", str(tmp_path / "p"),
            "--duckdb-file", str(tmp_path / "shared.duckdb"), "--per-page", str(per_page),
            "--requests-per-minute", "100000"]


def start_command(args, cwd, wait_seconds):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "TALLYFY_"))}
    env.update(PYTHONPATH=str(REPO), TALLYFY_LOCK_WAIT_SECONDS=str(wait_seconds))
    return subprocess.Popen([sys.executable, "-m", "pipelines.tallyfy_pipeline", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_until_waiting(process):
    """stderr lines up to the one saying the process waits for the lock."""
    lines = []
    while True:
        line = process.stderr.readline()
        assert line, f"process ended without waiting for the lock: {''.join(lines)}"
        lines.append(line)
        if "is locked by another tallyfy-load run" in line:
            return lines


def test_lock_refuses_a_second_holder_and_frees_on_exit(tmp_path):
    with pipeline_lock(str(tmp_path), NAME, wait_seconds=0):
        with pytest.raises(PipelineLocked) as refused:
            with pipeline_lock(str(tmp_path), NAME, wait_seconds=0):
                pass
        assert str(refused.value) == lock_message(os.getpid())
        with pipeline_lock(str(tmp_path), "another_pipeline", wait_seconds=0):
            pass  # other pipelines are not blocked
    with pipeline_lock(str(tmp_path), NAME, wait_seconds=0):
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pipelines.lock import pipeline_lock\n"
         f"with pipeline_lock({str(tmp_path)!r}, {NAME!r}, wait_seconds=0):\n"
         "    print('held', flush=True); time.sleep(600)"],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(PipelineLocked, match=f"pid {holder.pid}"):
            with pipeline_lock(str(tmp_path), NAME, wait_seconds=0):
                pass
    finally:
        holder.kill()
        holder.wait()
    with pipeline_lock(str(tmp_path), NAME, wait_seconds=0):
        pass


def test_command_refuses_with_one_line_while_another_run_holds_the_lock(tmp_path):
    with Simulator(orgs=[make_org(**SIZES)], token=TOKEN).start() as sim:
        with pipeline_lock(str(tmp_path / "p"), NAME, wait_seconds=0):
            result = run_command(command_args(sim, tmp_path, 100), tmp_path, {"TALLYFY_LOCK_WAIT_SECONDS": "0"})
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [f"tallyfy-load: {lock_message(os.getpid())}"]
        assert sim.request_count() == 0
        assert not (tmp_path / "shared.duckdb").exists()


def test_bad_lock_wait_is_bad_input(tmp_path):
    result = run_command(["--org", "a" * 32, "--access-token", "t", "--pipelines-dir", str(tmp_path / "p")],
                         tmp_path, {"TALLYFY_LOCK_WAIT_SECONDS": "soon"})
    assert result.returncode == 2
    assert result.stderr.strip() == "tallyfy-load: TALLYFY_LOCK_WAIT_SECONDS='soon': use a number of seconds >= 0"


def test_two_runs_started_at_once_take_turns_and_leave_exact_tables(tmp_path):
    org = make_org(**SIZES)
    # latency keeps a run busy long enough for the other to be waiting on it
    with Simulator(orgs=[org], token=TOKEN, latency=0.05).start() as sim:
        with pipeline_lock(str(tmp_path / "p"), NAME, wait_seconds=0):
            # both started while the pipeline is busy: both must wait for it
            first = start_command(command_args(sim, tmp_path, 50), tmp_path, wait_seconds=120)
            second = start_command(command_args(sim, tmp_path, 40), tmp_path, wait_seconds=120)
            early = {first.pid: read_until_waiting(first), second.pid: read_until_waiting(second)}
        results = {}
        for process in (first, second):
            out, err = process.communicate(timeout=300)
            results[process.pid] = (process.returncode, out, "".join(early[process.pid]) + err)
        for pid, (code, _, err) in results.items():
            assert code == 0, err

        # the runs did not overlap: every request of one came before every request of the other
        sizes = [r["query"]["per_page"] for r in sim.requests]
        turns = [size for i, size in enumerate(sizes) if i == 0 or sizes[i - 1] != size]
        assert sorted(turns) == ["40", "50"], f"the runs interleaved: {turns}"

        # the later run continued from the state the earlier one committed
        later = first if turns[1] == "50" else second
        counts = summary_counts(results[later.pid][1])
        assert counts["members"] == (0, len(records(org.members)))
        assert counts["groups"] == (0, len(records(org.groups)))

        check = Loader(sim, tmp_path, dlt.destinations.duckdb(credentials=str(tmp_path / "shared.duckdb")),
                       pipeline_name="check")
        assert_tables_equal_simulator(check, org)


def test_a_fresh_runner_continues_from_the_state_kept_in_postgres(sim, tmp_path, destinations):
    """CI runners start empty: dlt restores the cursors from the destination, the run stays incremental."""
    credentials = destinations("postgres").config_params["credentials"]
    env = {"DESTINATION__POSTGRES__CREDENTIALS": credentials}
    base = ["--org", sim.org_ids[0], "--base-url", sim.base_url, "--access-token", sim.token,
            "--destination", "postgres", "--resources", "members", "--requests-per-minute", "100000"]
    first = run_command(base + ["--pipelines-dir", str(tmp_path / "runner1")], tmp_path, env)
    assert first.returncode == 0, first.stderr
    sim.reset_counts()
    second = run_command(base + ["--pipelines-dir", str(tmp_path / "runner2")], tmp_path, env)
    assert second.returncode == 0, second.stderr
    members = len(records(sim.org.members))
    assert summary_counts(second.stdout)["members"] == (0, members)
    assert sim.request_count(resource="members") <= 2


def test_the_deploy_script_is_what_dlt_deploy_can_read_and_it_loads(sim, tmp_path, destinations):
    from dlt._workspace.cli._deploy_command_helpers import get_visitors, parse_pipeline_info

    script = REPO / "deploy" / "tallyfy_scheduled.py"
    assert parse_pipeline_info(get_visitors(script.read_text(), str(script))) == [("tallyfy", None)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "TALLYFY_"))}
    env.update(sim.env(), PYTHONPATH=str(REPO), DLT_DATA_DIR=str(tmp_path / "dlt"),
               SOURCES__TALLYFY__REQUESTS_PER_MINUTE="100000",
               DESTINATION__POSTGRES__CREDENTIALS=destinations("postgres").config_params["credentials"])
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "destination: postgres, dataset: tallyfy" in result.stdout and "views: tag_usage" in result.stdout
    org = sim.org
    check = Loader(sim, tmp_path, dlt.destinations.postgres(credentials=env["DESTINATION__POSTGRES__CREDENTIALS"]),
                   pipeline_name="check")
    assert_tables_equal_simulator(check, org)


def test_the_lock_file_sits_beside_the_pipeline_folder_on_any_os(tmp_path):
    """Built with os.path only (no POSIX path literals), so the command starts on Windows too."""
    from pipelines.lock import lock_path

    assert lock_path(str(tmp_path), "tallyfy") == os.path.join(str(tmp_path), ".tallyfy.lock")
    assert lock_path(os.path.join(str(tmp_path), "sub", ".."), "x") == os.path.join(str(tmp_path), ".x.lock")


ALL_TABLES = ("members", "groups", "tags", "guests", "templates", "processes", "tasks", "comments", "activity")


def test_the_deploy_script_loads_every_table_and_creates_the_views(tmp_path):
    """The same load as tallyfy-load: all nine tables and every reporting view, each with rows."""
    import duckdb

    from pipelines.views import VIEWS

    org = make_org(seed=3, members=60, groups=8, tags=20, guests=10, templates=4, processes=20, oneoff_tasks=5)
    sim = Simulator(orgs=[org], token=TOKEN).start()
    try:
        db = tmp_path / "scheduled.duckdb"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "TALLYFY_"))}
        env.update(sim.env(), PYTHONPATH=str(REPO), DLT_DATA_DIR=str(tmp_path / "dlt"), TALLYFY_DUCKDB=str(db),
                   SOURCES__TALLYFY__REQUESTS_PER_MINUTE="100000", SOURCES__TALLYFY__ACTIVITY_START_DATE="2025-01-01")
        result = subprocess.run([sys.executable, str(REPO / "deploy" / "tallyfy_scheduled.py")], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=300)
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr
    counts = summary_counts(result.stdout)
    assert set(ALL_TABLES) <= set(counts), result.stdout
    assert f"destination: duckdb, dataset: tallyfy, at {db}" in result.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        for name in ALL_TABLES + tuple(view.name for view in VIEWS):
            assert con.execute(f"SELECT count(*) FROM tallyfy.{name}").fetchone()[0] > 0, name
        assert con.execute("SELECT count(*) FROM tallyfy.members").fetchone()[0] == len(records(org.members))
    assert (tmp_path / "dlt" / "pipelines" / "tallyfy").is_dir()  # the pipeline dlt deploy looks up


def test_the_deploy_script_fails_in_one_line_like_the_command(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "TALLYFY_"))}
    env.update(PYTHONPATH=str(REPO), DLT_DATA_DIR=str(tmp_path / "dlt"),
               TALLYFY_DUCKDB=str(tmp_path / "missing" / "t.duckdb"))
    result = subprocess.run([sys.executable, str(REPO / "deploy" / "tallyfy_scheduled.py")], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"tallyfy_scheduled: DuckDB file {tmp_path}/missing/t.duckdb: folder")
    assert len(result.stderr.strip().splitlines()) == 1
