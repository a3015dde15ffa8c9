"""The directory's guarantees hold for the workflow resources (issue 12): templates, processes,
tasks (+ comments) and the activity feed survive every transient fault with exact tables and
exactly one retry per fault, on the full read (both `archived` walks, the feed's newest-event
read, the activity table's read) and between sweeps (the shared feed read, `runs/{id}`,
`checklists/{id}`, `tasks/{id}`); an org whose workflow endpoints fail is reported in one line
naming org, endpoint and fix, its cursors stay, the other org loads exactly and the next run
heals it.

Real simulator over HTTP, real DuckDB; expected rows from the simulator's oracle
(`tests/workflow/test_workflow.py`). Kills: `tests/pipelines/test_kill.py`; the token: `tests/pipelines/test_secrets.py`;
bad input: `tests/kernel/test_input_edge_cases.py`.
"""

import logging
from collections import Counter

import pytest

from pipelines.tallyfy_pipeline import main
from tallyfy_source.simulator import Simulator, SyntheticOrg
from tallyfy_source.simulator.faults import Fault, FaultPlan
from tests.conftest import TOKEN, Loader
from tests.pipelines.test_kill import Command, table_states
from tests.snapshots import snapshot
from tests.directory.test_full_load import assert_tables_equal_simulator
from tests.workflow.test_workflow import (START, assert_activity_equals_simulator, assert_workflow_equals_simulator,
                                 walk_requests)

ORG = "f00dfeed0000f00dfeed0000f00dfeed"
ORG_B = "beefcafe1111beefcafe1111beefcafe"
SIZE = dict(members=20, groups=4, tags=15, guests=5, templates=4, processes=12, oneoff_tasks=8)
WORKFLOW = ["templates", "processes", "tasks", "activity"]
WORKFLOW_TABLES = ("templates", "processes", "tasks", "activity")  # resources keeping per-org state


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch):
    """Exponential waits of 0.05 s, 0.1 s, ... (dlt's runtime setting, read by the session)."""
    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "0.05")


def make_org(org_id=ORG, seed=5):
    return SyntheticOrg.generate(org_id, seed=seed, **SIZE)


@pytest.fixture
def sim():
    with Simulator(orgs=[make_org()], token=TOKEN) as server:
        yield server


def retry_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "tallyfy_source" and r.getMessage().startswith("retry ")]


def asked(sim):
    """(path, query) -> how often it was asked; and how many of those answers were faults."""
    def key(r):
        return r["path"], tuple(sorted(r["query"].items()))
    return Counter(key(r) for r in sim.requests), Counter(key(r) for r in sim.requests if r["fault"])


def assert_each_request_once_and_each_fault_retried_once(sim, faults):
    """Every distinct request was asked once, a faulted one exactly twice (the fault, then one
    retry that was answered), and every fault rule fired exactly once."""
    counts, faulted = asked(sim)
    assert [rule.fired for rule in faults] == [1] * len(faults), [(r.resource, r.query, r.key, r.fired) for r in faults]
    assert sum(faulted.values()) == len(faults)
    for request, n in counts.items():
        assert n == 1 + faulted[request] and faulted[request] <= 1, (request, n, faulted[request])
    last = {}
    for r in sim.requests:
        last[(r["path"], tuple(sorted(r["query"].items())))] = r["status"]
    assert set(last.values()) == {200}, last  # every request ended answered


def assert_retry_lines(caplog, faults):
    """One retry line per fault, none silent; a 429's says it waited its Retry-After (1 s)."""
    lines = retry_lines(caplog)
    assert len(lines) == len(faults), lines
    if faults[0].kind == "retry_after":
        assert all("got HTTP 429, waiting 1.00s" in line for line in lines), lines
    return lines


def state(pipeline, resource, org_id=ORG):
    resources = pipeline.state.get("sources", {}).get("tallyfy", {}).get("resources", {})
    return resources.get(resource, {}).get("orgs", {}).get(org_id)


def workflow_states(pipeline, org_id):
    return {resource: state(pipeline, resource, org_id) for resource in WORKFLOW_TABLES}


def change(org):
    """A changed process (a task completed), a changed template, a new one-off task: what an
    incremental run fetches one by one. Returns their keys."""
    task = next(t for t in org.values("tasks") if t["run_id"] and t["status"] != "completed"
                and t["archived_at"] is None)
    org.complete_task(task["id"])
    template = next(t for t in org.values("checklists") if t["archived_at"] is None)
    org.edit_template(template["id"], title="Renamed while faults fly")
    new = org.add_oneoff_task("Call the auditor")
    return {"runs": task["run_id"], "checklists": template["id"], "tasks": new["id"]}


# ------------------------------------------------------------------ transient faults
# (id, faults of that kind (dealt round-robin over the requests faulted), settings the run needs)
KINDS = [
    ("429-retry-after", [lambda: Fault("retry_after", retry_after="1")], {}),
    ("500-502-503-504", [lambda s=s: Fault("status", status=s) for s in (500, 502, 503, 504)], {}),
    ("connection-reset", [lambda: Fault("reset")], {}),
    ("read-timeout", [lambda: Fault("timeout", delay=1.5)], {"request_timeout": 0.5}),
    ("truncated-body-or-short-read", [lambda: Fault("truncated", fraction=0.4),
                                      lambda: Fault("truncated", fraction=0.4, full_length=True)], {}),
    ("html-instead-of-json", [lambda: Fault("not_json")], {}),
]

# every list request of a full (sweep) read: both walks of each list, the feed's first page for
# the newest event id (no `created_after`), the activity table's read (from the start day)
FULL_READ_TARGETS = [
    dict(resource="checklists", query={"archived": None}),
    dict(resource="checklists", query={"archived": "only"}),
    dict(resource="runs", query={"archived": None}),
    dict(resource="runs", query={"archived": "only"}),
    dict(resource="tasks", query={"archived": None}),
    dict(resource="tasks", query={"archived": "only"}),
    dict(resource="activity", query={"created_after": None}),
    dict(resource="activity", query={"created_after": START}),
]


def rules(makers, targets):
    out = []
    for n, target in enumerate(targets):
        fault = makers[n % len(makers)]()
        for name, value in target.items():
            setattr(fault, name, value)
        out.append(fault)
    return out


@pytest.mark.parametrize("makers,settings", [k[1:] for k in KINDS], ids=[k[0] for k in KINDS])
def test_every_workflow_request_survives_a_transient_fault_with_one_retry_and_exact_tables(
        sim, tmp_path, caplog, makers, settings):
    """One fault on every list request of a sweep, then on every request of the incremental run
    after it (the shared feed read, and the single GETs of a changed process, template and
    one-off task): each retried once, nothing else asked twice, tables exact both times."""
    caplog.set_level(logging.INFO, logger="tallyfy_source")
    org = sim.org
    loader = Loader(sim, tmp_path)

    # the sweep (first run: a full read)
    faults = rules(makers, FULL_READ_TARGETS)
    sim.faults = FaultPlan(faults)
    loader.run(resources=WORKFLOW, activity_start_date=START, **settings)
    assert [r.error for r in loader.reports if r.error] == []
    assert_each_request_once_and_each_fault_retried_once(sim, faults)
    for resource in ("checklists", "runs", "tasks"):
        assert sim.request_count(resource=resource, kind="list") == walk_requests(org, resource) + 2, resource
    assert_retry_lines(caplog, faults)
    assert_workflow_equals_simulator(loader, org)
    assert_activity_equals_simulator(loader, org)
    newest = max(e["id"] for e in org.served("activity", query={}))
    for resource in ("templates", "processes", "tasks"):
        kept = state(loader.pipeline(), resource)
        assert kept["feed"]["id"] == newest and kept["last_sweep"], resource

    # between sweeps: the feed names the changes, one GET each
    changed = change(org)
    caplog.clear()
    sim.reset_counts()
    faults = rules(makers, [dict(resource="activity")] + [
        dict(resource=resource, item=True, key=key) for resource, key in changed.items()])
    sim.faults = FaultPlan(faults)
    loader.run(resources=["templates", "processes", "tasks"], **settings)  # the feed read is theirs alone
    assert [r.error for r in loader.reports if r.error] == []
    assert {r.mode for r in loader.reports} == {"incremental (activity feed)"}
    assert_each_request_once_and_each_fault_retried_once(sim, faults)
    assert sim.request_count(kind="list", resource="activity") == 2  # the feed's one page, once more
    assert sim.request_count(kind="list") == 2
    for resource, key in changed.items():  # the changed process: once for processes AND tasks
        answers = [r for r in sim.requests if r["path"] == f"/api/organizations/{ORG}/{resource}/{key}"]
        assert [(bool(r["fault"]), r["status"]) for r in answers][1:] == [(False, 200)] and answers[0]["fault"]
    assert sim.request_count(kind="item") == 2 * len(changed)  # nothing else asked one by one
    lines = assert_retry_lines(caplog, faults)
    for key in changed.values():
        assert sum(key in line for line in lines) == 1, (key, lines)
    assert_workflow_equals_simulator(loader, org)
    newest = max(e["id"] for e in org.served("activity", query={}))
    for resource in ("templates", "processes", "tasks"):
        assert state(loader.pipeline(), resource)["feed"]["id"] == newest, resource


# ------------------------------------------------------------------ one org failing
def command(sim, tmp_path, *extra):
    return main(["--org", ORG, "--org", ORG_B, "--base-url", sim.base_url, "--access-token", TOKEN,
                 "--requests-per-minute", "100000",
                 "--pipelines-dir", str(tmp_path / "pipelines"), "--duckdb-file", str(tmp_path / "tallyfy_data.duckdb"),
                 *extra])


@pytest.fixture
def two_orgs(monkeypatch):
    monkeypatch.setenv("SOURCES__TALLYFY__ACTIVITY_START_DATE", START)
    with Simulator(orgs=[make_org(ORG, seed=5), make_org(ORG_B, seed=6)], token=TOKEN) as server:
        yield server


def org_rows(db, org_id):
    """Every row of every table (child rows with their parent's key) that belongs to `org_id`."""
    return {table: [r for r in rows if org_id in r] for table, rows in snapshot(db).items()}


def assert_org_exact(loader, org):
    assert_tables_equal_simulator_for(loader, org)
    assert_workflow_equals_simulator(loader, org)
    assert_activity_equals_simulator(loader, org)


def assert_tables_equal_simulator_for(loader, org):
    """The directory tables' rows of one org equal the simulator's (the helper reads whole tables)."""
    class OneOrg:
        def table(self, name):
            return [r for r in loader.table(name) if r["org_id"] == org.org_id]

    assert_tables_equal_simulator(OneOrg(), org, resources=("members", "tags", "guests"))


@pytest.mark.parametrize("status,fix", [
    (403, "access denied: the token's user cannot read this organization"),
    (404, "not found: check the org id"),
])
def test_an_org_refused_on_its_workflow_endpoints_fails_alone_keeps_its_cursors_and_heals(
        two_orgs, tmp_path, capsys, status, fix):
    sim = two_orgs
    a, b = sim.orgs[ORG], sim.orgs[ORG_B]
    loader = Loader(sim, tmp_path, pipeline_name="tallyfy")
    assert command(sim, tmp_path) == 0
    capsys.readouterr()
    states_before = workflow_states(loader.pipeline(), ORG_B)
    assert all(states_before.values()), states_before
    b_before = org_rows(tmp_path / "tallyfy_data.duckdb", ORG_B)
    change(a)
    change(b)
    b.update_member(b.values("members")[0]["id"], job_title="Changed in org B")

    # every workflow endpoint of org B refuses: lists and single records
    sim.faults = FaultPlan([Fault("status", status=status, org_id=ORG_B, resource=r, times=None, item=item)
                            for r in ("checklists", "runs", "tasks", "activity") for item in (False, True)])
    sim.reset_counts()
    code = command(sim, tmp_path)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1, err
    line = err[0]
    assert line.startswith(f"tallyfy-load: org {ORG_B} failed (the other orgs loaded): "), line
    assert f"HTTP {status} on GET /api/organizations/{ORG_B}/activity-feeds" in line and fix in line, line
    assert ORG not in line
    # nothing retried: the shared feed read and the activity table's read, once each, then no more
    b_workflow = [r for r in sim.requests if r["org_id"] == ORG_B and r["resource"] in ("checklists", "runs", "tasks",
                                                                                          "activity")]
    assert [(r["resource"], r["status"]) for r in b_workflow] == [("activity", status)] * 2, b_workflow
    assert_org_exact(loader, a)  # the other org: exact
    assert_tables_equal_simulator_for(loader, b)  # org B's directory: loaded (its member change too)
    assert workflow_states(loader.pipeline(), ORG_B) == states_before  # no cursor of org B moved
    after = org_rows(tmp_path / "tallyfy_data.duckdb", ORG_B)
    for table in ("templates", "processes", "tasks", "comments", "activity", "templates__steps", "tasks__assignees"):
        assert after[table] == b_before[table], (table, [r for r in after[table] if r not in b_before[table]][:2], [r for r in b_before[table] if r not in after[table]][:2])

    sim.faults = None
    assert command(sim, tmp_path) == 0
    assert capsys.readouterr().err.strip() == ""
    assert_org_exact(loader, a)
    assert_org_exact(loader, b)
    healed = workflow_states(loader.pipeline(), ORG_B)
    assert healed["processes"]["feed"]["id"] > states_before["processes"]["feed"]["id"]
    assert healed["activity"]["newest_day"] >= states_before["activity"]["newest_day"]


def test_a_changed_process_that_keeps_failing_fails_its_org_in_one_line_and_heals(two_orgs, tmp_path, capsys,
                                                                                    monkeypatch):
    """Persistent 500 on `runs/{id}` between sweeps: org B's processes and tasks fail (both need
    that answer), naming the request and the fix; its templates and activity load; the cursors
    of its processes and tasks stay; org A is exact; the next run brings the change."""
    monkeypatch.setenv("SOURCES__TALLYFY__MAX_ATTEMPTS", "3")
    sim = two_orgs
    a, b = sim.orgs[ORG], sim.orgs[ORG_B]
    loader = Loader(sim, tmp_path, pipeline_name="tallyfy")
    workflow = ["--resources", "templates,processes,tasks,comments,activity"]
    assert command(sim, tmp_path, *workflow) == 0
    states_before = workflow_states(loader.pipeline(), ORG_B)
    b_before = org_rows(tmp_path / "tallyfy_data.duckdb", ORG_B)
    change(a)
    run_id = change(b)["runs"]

    sim.faults = FaultPlan([Fault("status", status=500, org_id=ORG_B, resource="runs", item=True, times=None)])
    sim.reset_counts()
    code = command(sim, tmp_path, *workflow)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1, err
    line = err[0]
    assert line.startswith(f"tallyfy-load: org {ORG_B} failed (the other orgs loaded): "), line
    assert f"HTTP 500 on GET /api/organizations/{ORG_B}/runs/{run_id}" in line, line
    assert "try again later" in line, line
    # max_attempts tries, then given up: not once more for the second resource that needs it
    assert [r["status"] for r in sim.requests if r["path"].endswith(f"/runs/{run_id}")] == [500] * 3
    assert_workflow_equals_simulator(loader, a)
    after = workflow_states(loader.pipeline(), ORG_B)
    assert after["processes"] == states_before["processes"] and after["tasks"] == states_before["tasks"]
    assert after["templates"]["feed"]["id"] > states_before["templates"]["feed"]["id"]  # its templates went on
    assert after["activity"]["newest_day"] >= states_before["activity"]["newest_day"]
    rows = org_rows(tmp_path / "tallyfy_data.duckdb", ORG_B)
    for table in ("processes", "tasks", "comments", "tasks__assignees", "processes__kickoff_answers"):
        assert rows[table] == b_before[table], table
    assert rows["templates"] != b_before["templates"]

    sim.faults = None
    assert command(sim, tmp_path, *workflow) == 0
    assert_workflow_equals_simulator(loader, a)
    assert_workflow_equals_simulator(loader, b)
    assert_activity_equals_simulator(loader, b)
    assert workflow_states(loader.pipeline(), ORG_B)["processes"]["feed"]["id"] > states_before["processes"]["feed"]["id"]


# ------------------------------------------------------------------ SIGKILL
class WorkflowCommand(Command):
    """test_kill's `tallyfy-load` subprocess (every resource), with the activity feed from START;
    `sweep=True` makes its runs full reads (sweep_interval_hours 0)."""

    sweep = False

    def args(self):
        return super().args() + ["--requests-per-minute", "100000"]  # no client-side waits in a test

    def env(self, pause_at=None):
        env = super().env(pause_at)
        env.update(SOURCES__TALLYFY__ACTIVITY_START_DATE=START)
        if self.sweep:
            env.update(SOURCES__TALLYFY__SWEEP_INTERVAL_HOURS="0")
        return env


def stored_states(tmp_path, org_id=ORG, postgres=None):
    """Every resource's state for the org as the destination holds it (what the next run starts
    from once it has dropped the killed run's local folder, as the command does); read through
    a pipelines folder of its own, so the killed run's folder is left for the command."""
    probe = tmp_path / "probe"
    probe.mkdir(exist_ok=True)
    pipeline = Loader(None, probe, postgres or Loader(None, tmp_path).destination, pipeline_name="tallyfy").pipeline()
    pipeline = pipeline.drop()
    pipeline.sync_destination()
    resources = pipeline.state["sources"]["tallyfy"]["resources"]
    return {name: (kept.get("orgs") or {}).get(org_id) for name, kept in resources.items() if "orgs" in kept}


def local_states(tmp_path, org_id=ORG):
    """The same, as the pipeline folder the next run opens holds it."""
    resources = Loader(None, tmp_path, pipeline_name="tallyfy").pipeline().state["sources"]["tallyfy"]["resources"]
    return {name: (kept.get("orgs") or {}).get(org_id) for name, kept in resources.items() if "orgs" in kept}


def change_everything(org, salt):
    """Workflow changes the feed names (process, template, one-off task, a comment), a process
    deleted, and a directory change."""
    changed = change(org)
    task = next(t for t in org.values("tasks") if t["run_id"] and t["run_id"] != changed["runs"])
    org.comment_on_task(task["id"], f"Remark {salt}")
    victim = next(r for r in org.values("runs") if r["id"] not in (changed["runs"], task["run_id"]))
    org.delete_process(victim["id"])
    org.update_member(org.values("members")[0]["id"], job_title=f"Title {salt}")
    return changed


@pytest.fixture
def killable(tmp_path):
    with Simulator(orgs=[make_org()], token=TOKEN) as server:
        yield server, WorkflowCommand(server, tmp_path)


def assert_all_exact(command, org):
    loader = command.loader()
    assert_tables_equal_simulator(loader, org)
    assert_workflow_equals_simulator(loader, org)
    assert_activity_equals_simulator(loader, org)


@pytest.mark.parametrize("run", ["sweep", "incremental"])
def test_killed_while_extracting_workflow_data(killable, tmp_path, run):
    """Held on the request only that run makes (a list page of the sweep; the changed process's
    GET between sweeps), then SIGKILLed: nothing reached the destination, no cursor moved, the
    next run is exact."""
    sim, command = killable
    org = sim.org
    command.run()
    before, states = snapshot(command.db), stored_states(tmp_path)
    assert local_states(tmp_path) == states and states["processes"]["feed"]
    changed = change_everything(org, "a")
    command.sweep = run == "sweep"
    hold = Fault("timeout", resource="runs", delay=60) if command.sweep else Fault(
        "timeout", resource="runs", item=True, key=changed["runs"], delay=60)
    sim.faults = FaultPlan([hold])
    command.run_and_kill_when(lambda: any(r["fault"] == "timeout" for r in sim.requests))

    assert snapshot(command.db) == before
    assert local_states(tmp_path) == states and stored_states(tmp_path) == states
    sim.faults = None
    command.sweep = False
    command.run()
    assert_all_exact(command, org)


@pytest.mark.parametrize("run", ["sweep", "incremental"])
def test_killed_while_loading_workflow_data_leaves_every_table_before(killable, tmp_path, run):
    """Killed inside the one publishing transaction (tests/pipelines/test_kill.py's `publish` point, after
    the first table's merge ran): every table (workflow, its child tables, the directory) as
    before, the stored cursors as before; the next run (which discards the interrupted
    package) exact."""
    sim, command = killable
    org = sim.org
    command.run()
    before, states = snapshot(command.db), stored_states(tmp_path)
    change_everything(org, "a")
    command.sweep = run == "sweep"
    command.run_and_kill_when(command.marker.exists, "publish")
    killed = snapshot(command.db)
    assert stored_states(tmp_path) == states

    command.run()
    after = snapshot(command.db)
    assert killed == before and after != before, table_states(killed, before, after)
    assert_all_exact(command, org)
    moved = stored_states(tmp_path)
    assert moved["processes"]["feed"]["id"] > states["processes"]["feed"]["id"]


def test_killed_while_publishing_workflow_data_to_postgres_leaves_it_before(tmp_path, destinations):
    """The server rolls back the open publishing transaction when the killed client's
    connection drops: workflow tables and stored cursors as before; the next run exact."""
    with Simulator(orgs=[make_org()], token=TOKEN) as sim:
        command = WorkflowCommand(sim, tmp_path, postgres=destinations("postgres"))
        command.run()
        before = snapshot(command.db)
        states = stored_states(tmp_path, postgres=command.postgres)
        change_everything(sim.org, "a")
        command.run_and_kill_when(command.marker.exists, "publish")
        assert snapshot(command.db) == before
        assert stored_states(tmp_path, postgres=command.postgres) == states
        command.run()
        assert snapshot(command.db) != before
        assert_all_exact(command, sim.org)
