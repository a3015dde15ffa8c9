"""The Dagster definition (deploy/dagster_definitions.py): one unit per configured org, and a
unit run for real.

Units run in process (Dagster's `execute_in_process`, its own ephemeral instance) against the
bundled simulator over HTTP, into DuckDB and PostgreSQL: a unit's directory tables must equal its
org in the simulator field by field, every table must hold as many rows as `tallyfy-load` loads
for that org, the views must be there, and nothing of another org may be read or land until that
org's own unit runs. Then `dagster job execute` runs the file as users do.
"""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import dagster as dg

from deploy import dagster_definitions as dd
from pipelines.tallyfy_pipeline import main as tallyfy_load
from pipelines.views import VIEWS
from tallyfy_source import RESOURCE_NAMES
from tallyfy_source import destinations as atomic
from tallyfy_source.errors import ConfigError
from tallyfy_source.simulator import Simulator
from tests.conftest import TOKEN, Loader, make_org
from tests.expected import assert_rows_match, records, table_row

REPO = Path(__file__).resolve().parents[2]
START = "2025-01-01"  # the activity feed from before every generated event
ORG_A = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
ORG_B = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
SMALL = dict(members=45, groups=6, tags=25, guests=8, templates=4, processes=15, oneoff_tasks=5)
# the source's dlt resources, one asset each: `tasks` fills the tasks and comments tables
RESOURCES = ("members", "groups", "tags", "guests", "templates", "processes", "tasks", "activity")

# dagster's own pydantic use, not ours
pytestmark = pytest.mark.filterwarnings("ignore:The `__fields__` attribute is deprecated")


def asset_keys(org_id):
    return {dg.AssetKey(["tallyfy", f"org_{org_id}", name]) for name in RESOURCES}


def test_resources_are_every_table_of_tallyfy_load():
    assert set(RESOURCES) | {"comments"} == set(RESOURCE_NAMES)


def test_the_definition_loads_from_config_with_one_unit_per_org_and_no_token(tmp_path, monkeypatch):
    """What `dagster dev -f deploy/dagster_definitions.py` loads: no token, no request, no file."""
    db = tmp_path / "later.duckdb"
    monkeypatch.setenv("SOURCES__TALLYFY__ORG_ID", f"{ORG_A}, {ORG_B}")
    monkeypatch.setenv("TALLYFY_DUCKDB", str(db))
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    defs = dd.defs()
    dg.Definitions.validate_loadable(defs)

    graph = defs.resolve_asset_graph()
    assert set(graph.get_all_asset_keys()) == asset_keys(ORG_A) | asset_keys(ORG_B)
    for org_id in (ORG_A, ORG_B):
        assert {key for key in asset_keys(org_id) if graph.get(key).group_name == f"tallyfy_org_{org_id}"} \
            == asset_keys(org_id)
    tasks = graph.get(dg.AssetKey(["tallyfy", f"org_{ORG_A}", "tasks"]))
    assert tasks.metadata["tallyfy/tables"] == "tasks, comments"

    # one op per org (the unit), each with every resource of that org, all loading into one dataset
    units = {a.op.name: a for a in defs.assets}
    assert set(units) == {f"load_tallyfy_org_{ORG_A}", f"load_tallyfy_org_{ORG_B}"}
    for org_id in (ORG_A, ORG_B):
        unit = units[f"load_tallyfy_org_{org_id}"]
        assert set(unit.keys) == asset_keys(org_id)
        assert unit.op.tags[dd.DATASET_TAG] == "tallyfy" and unit.op.tags[dd.ORG_TAG] == org_id
        assert unit.op.pool == dd.POOL
        pipeline = next(iter(unit.metadata_by_key.values()))["dagster_dlt/pipeline"]
        assert (pipeline.pipeline_name, pipeline.dataset_name) == (f"tallyfy_{org_id}", "tallyfy")
        assert pipeline.destination.destination_name == "duckdb"

    jobs = {job.name for job in defs.resolve_all_job_defs()}
    assert {f"tallyfy_org_{ORG_A}", f"tallyfy_org_{ORG_B}", "tallyfy_all_orgs"} <= jobs
    assert set(defs.resolve_job_def("tallyfy_all_orgs").asset_layer.executable_asset_keys) \
        == asset_keys(ORG_A) | asset_keys(ORG_B)
    assert set(defs.resolve_job_def(f"tallyfy_org_{ORG_B}").asset_layer.executable_asset_keys) == asset_keys(ORG_B)
    schedule = defs.resolve_schedule_def("tallyfy_all_orgs_schedule")
    assert (schedule.job_name, schedule.cron_schedule) == ("tallyfy_all_orgs", "17 */6 * * *")
    assert not db.exists()


def test_with_postgres_by_default_like_the_deploy_script(tmp_path, monkeypatch):
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    defs = dd.build_definitions(org_ids=[ORG_A])
    (unit,) = defs.assets
    pipeline = next(iter(unit.metadata_by_key.values()))["dagster_dlt/pipeline"]
    assert pipeline.destination.destination_name == "postgres"


def test_no_configured_org_says_how_to_set_one(tmp_path, monkeypatch):
    monkeypatch.setenv("TALLYFY_DUCKDB", str(tmp_path / "t.duckdb"))
    with pytest.raises(ConfigError, match="no org id: set SOURCES__TALLYFY__ORG_ID"):
        dd.defs()


@pytest.fixture
def two_orgs():
    orgs = [make_org(ORG_A, seed=5, **SMALL), make_org(ORG_B, seed=6, **{**SMALL, "members": 30})]
    with Simulator(orgs=orgs, token=TOKEN) as sim:
        yield sim, orgs


@pytest.fixture
def sim_config(monkeypatch):
    """dlt's config as a deployment sets it (env vars), read when a unit runs."""

    def point_at(sim):
        monkeypatch.setenv("SOURCES__TALLYFY__BASE_URL", sim.base_url)
        monkeypatch.setenv("SOURCES__TALLYFY__ACCESS_TOKEN", sim.token)
        monkeypatch.setenv("SOURCES__TALLYFY__REQUESTS_PER_MINUTE", "100000")
        monkeypatch.setenv("SOURCES__TALLYFY__ACTIVITY_START_DATE", START)

    return point_at


def counts_by_org(db, table):
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute(f"SELECT org_id, count(*) FROM tallyfy.{table} GROUP BY org_id").fetchall())


#: the directory tables, as the simulator serves them (key, served with)
DIRECTORY = {"members": (("org_id", "id"), ["stats"]), "groups": (("org_id", "id"), []),
             "tags": (("org_id", "id"), ["statistics"]), "guests": (("org_id", "email"), [])}


def assert_directory_equals_simulator(check, org):
    for table, (key, include) in DIRECTORY.items():
        loaded = [row for row in check.table(table) if row["org_id"] == org.org_id]
        assert_rows_match(loaded, [table_row(r, org.org_id) for r in org.served(table, include=include)], key)


def data_tables(check):
    names = check.rows("SELECT table_name FROM information_schema.tables"
                       " WHERE table_schema = 'tallyfy' AND table_type = 'BASE TABLE'")
    return sorted(name for (name,) in names if not name.startswith("_dlt"))


def table_counts(check):
    """rows of every data table (roots and child tables)."""
    return {table: check.rows(f"SELECT count(*) FROM tallyfy.{table}")[0][0] for table in data_tables(check)}


def tallyfy_load_counts(sim, tmp_path, org_id):
    """The oracle for "the same load": `tallyfy-load --org ID` into a DuckDB file of its own."""
    db = tmp_path / f"reference_{org_id}.duckdb"
    code = tallyfy_load(["--org", org_id, "--duckdb-file", str(db), "--pipeline-name", f"reference_{org_id}",
                         "--pipelines-dir", str(tmp_path / "reference")])
    assert code == 0
    return table_counts(Loader(sim, tmp_path, atomic.duckdb(credentials=str(db)), pipeline_name=f"read_{org_id}"))


def test_one_org_unit_loads_that_org_like_tallyfy_load_and_the_next_adds_its_own(two_orgs, sim_config, tmp_path,
                                                                                  destination):
    """On DuckDB and on PostgreSQL: two orgs' units, one after the other, into one dataset."""
    sim, (org_a, org_b) = two_orgs
    sim_config(sim)
    defs = dd.build_definitions(org_ids=sim.org_ids, destination=destination, pipelines_dir=str(tmp_path / "pipelines"))
    check = Loader(sim, tmp_path, destination, pipeline_name="check")

    def by_org(table):
        return dict(check.rows(f"SELECT org_id, count(*) FROM tallyfy.{table} GROUP BY org_id"))

    result = defs.resolve_job_def(f"tallyfy_org_{ORG_A}").execute_in_process()
    assert result.success
    events = result.get_asset_materialization_events()
    assert {e.asset_key for e in events} == asset_keys(ORG_A)
    rows = {e.asset_key.path[-1]: e.materialization.metadata["rows_loaded"].value for e in events
            if "rows_loaded" in e.materialization.metadata}
    assert rows["members"] == len(records(org_a.members))
    assert sim.request_count(org_id=ORG_B) == 0  # the other org's unit has not run

    assert by_org("members") == {ORG_A: len(records(org_a.members))}
    assert_directory_equals_simulator(check, org_a)
    reference_a = tallyfy_load_counts(sim, tmp_path, ORG_A)
    assert {"members", "groups", "tags", "guests", "templates", "processes", "tasks", "comments",
            "activity"} <= set(reference_a)
    assert all(reference_a[table] > 0 for table in RESOURCE_NAMES), reference_a
    assert table_counts(check) == reference_a  # all nine tables and their child tables
    for table in ("templates", "processes", "tasks", "comments", "activity"):
        assert set(by_org(table)) == {ORG_A}, table
    for view in VIEWS:  # the reporting views, as after tallyfy-load
        check.rows(f"SELECT count(*) FROM tallyfy.{view.name}")

    # the second org's unit: its own pipeline into the same dataset; org A's rows stay as they were
    result = defs.resolve_job_def(f"tallyfy_org_{ORG_B}").execute_in_process()
    assert result.success
    assert {e.asset_key for e in result.get_asset_materialization_events()} == asset_keys(ORG_B)
    assert by_org("members") == {ORG_A: len(records(org_a.members)), ORG_B: len(records(org_b.members))}
    assert_directory_equals_simulator(check, org_a)
    assert_directory_equals_simulator(check, org_b)
    reference_b = tallyfy_load_counts(sim, tmp_path, ORG_B)
    assert table_counts(check) == {t: reference_a.get(t, 0) + reference_b.get(t, 0)
                                   for t in set(reference_a) | set(reference_b)}


def test_an_org_that_fails_fails_its_own_unit_in_one_line(two_orgs, sim_config, tmp_path):
    sim, (org_a, _) = two_orgs
    sim_config(sim)
    unknown = "f" * 32  # not an org of this token: the simulator refuses it
    db = tmp_path / "dagster.duckdb"
    defs = dd.build_definitions(org_ids=[ORG_A, unknown], destination=atomic.duckdb(credentials=str(db)),
                                pipelines_dir=str(tmp_path / "pipelines"))
    result = defs.resolve_job_def("tallyfy_all_orgs").execute_in_process(raise_on_error=False)
    assert not result.success
    steps = {e.step_key: e for e in result.all_events if e.is_step_success or e.is_step_failure}
    assert steps[f"load_tallyfy_org_{ORG_A}"].is_step_success
    failure = steps[f"load_tallyfy_org_{unknown}"]
    assert failure.is_step_failure
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith(f"org {unknown} failed: ") and "\n" not in description
    assert counts_by_org(db, "members") == {ORG_A: len(records(org_a.members))}


def test_dagster_runs_the_file_as_users_do_one_org_unit_at_a_time(two_orgs, tmp_path):
    """`dagster job execute -f deploy/dagster_definitions.py` from the project folder: config from
    env vars, a persistent instance, the multiprocess executor with its one-unit-at-a-time limit."""
    sim, orgs = two_orgs
    db = tmp_path / "cli.duckdb"
    (tmp_path / "dagster_home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "TALLYFY_", "DAGSTER_"))}
    env.pop("PYTHONPATH", None)  # the project folder is on the path because dagster runs there
    env.update(sim.env(), SOURCES__TALLYFY__REQUESTS_PER_MINUTE="100000", SOURCES__TALLYFY__ACTIVITY_START_DATE=START,
               TALLYFY_DUCKDB=str(db), DAGSTER_HOME=str(tmp_path / "dagster_home"), DLT_DATA_DIR=str(tmp_path / "dlt"))
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    result = subprocess.run([dagster, "job", "execute", "-f", "deploy/dagster_definitions.py", "-j", "tallyfy_all_orgs"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    # the run's events as Dagster stored them (its console output may drop a child's last lines)
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        kinds = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS}
        steps = [(entry.step_key, entry.dagster_event_type.value) for entry in instance.all_logs(run.run_id, of_type=kinds)]
    started = [step for step, event in steps if event == "STEP_START"]
    assert sorted(started) == sorted(f"load_tallyfy_org_{org.org_id}" for org in orgs)
    # the units took turns: each one finished before the next one started
    assert steps == [(step, event) for step in started for event in ("STEP_START", "STEP_SUCCESS")], steps
    assert counts_by_org(db, "members") == {org.org_id: len(records(org.members)) for org in orgs}
