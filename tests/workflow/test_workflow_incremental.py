"""Keeping the workflow tables current between sweeps (issue 12, second slice): the activity
feed names what changed, one request per changed process/template/one-off task brings it in, a
sweep (full read) heals what the feed missed. Request counts and exact tables, on DuckDB and
PostgreSQL; expected rows from the simulator's oracle (tests/workflow/test_workflow.py's `expected`).
"""

import pytest

from tallyfy_source.simulator import Simulator, SyntheticOrg
from tallyfy_source.simulator.lifecycle import event
from tallyfy_source.simulator import FaultPlan, change_between
from tests.conftest import TOKEN, Loader
from tests.workflow.test_workflow import (ORG, SIZE, START, WORKFLOW, assert_activity_equals_simulator,
                                 assert_workflow_equals_simulator, make_changes)

SMALL = dict(SIZE, templates=5, processes=20, oneoff_tasks=10)
RESOURCES = ("checklists", "runs", "tasks")
PROPERTY_SIZE = dict(members=12, groups=4, tags=10, guests=5, templates=4, processes=8, oneoff_tasks=6)


@pytest.fixture
def sim():
    org = SyntheticOrg.generate(ORG, seed=5, **SMALL)
    with Simulator(orgs=[org], token=TOKEN) as server:
        yield server


def feed_state(loader, resource="processes"):
    return loader.pipeline().state["sources"]["tallyfy"]["resources"][resource]["orgs"][ORG]


def list_requests(sim):
    return sum(sim.request_count(resource=r, kind="list") for r in RESOURCES)


def test_a_rerun_with_no_change_costs_one_shared_feed_page(sim, loader):
    loader.run(resources=WORKFLOW, activity_start_date=START)
    newest = max(e["id"] for e in sim.org.served("activity", query={}))
    for resource in ("templates", "processes", "tasks"):
        state = feed_state(loader, resource)
        assert state["feed"]["id"] == newest and state["last_sweep"]
    sim.reset_counts()
    loader.run(resources=WORKFLOW)
    # one feed page shared by templates, processes and tasks, one for the activity resource:
    # at most 2 requests per workflow resource per org, nothing else
    assert sim.request_count(resource="activity") == 2
    assert len(sim.requests) == 2
    assert all(r["query"].get("created_after") for r in sim.requests)
    assert {r.mode for r in loader.reports if r.resource != "activity"} == {"incremental (activity feed)"}
    assert_workflow_equals_simulator(loader, sim.org)


def test_changed_processes_are_fetched_side_by_side_once_each(sim, duckdb_loader):
    """With `concurrency` 4 and a slow API, the single reads of 8 changed processes overlap (the
    simulator counts the requests it is answering when each arrives); still one per process."""
    loader = duckdb_loader
    org = sim.org
    loader.run(resources=WORKFLOW, activity_start_date=START)
    runs = [r for r in org.values("runs") if any(t["status"] != "completed" for t in org._tasks_of(r["id"]))][:8]
    for run in runs:
        org.complete_task(next(t for t in org._tasks_of(run["id"]) if t["status"] != "completed")["id"])
    sim.reset_counts()
    sim.latency = 0.2
    loader.run(resources=WORKFLOW, concurrency=4)
    items = [r for r in sim.requests if r["resource"] == "runs" and r["kind"] == "item"]
    assert sorted(r["path"].rsplit("/", 1)[1] for r in items) == sorted(r["id"] for r in runs)
    assert max(r["in_flight"] for r in items) >= 2
    assert_workflow_equals_simulator(loader, org)


def test_k_changed_processes_cost_k_plus_feed_pages_plus_a_few(sim, duckdb_loader):
    loader = duckdb_loader
    org = sim.org
    loader.run(resources=WORKFLOW, activity_start_date=START)
    runs = [r for r in org.values("runs") if any(t["status"] != "completed" for t in org._tasks_of(r["id"]))]
    k = min(8, len(runs))
    for run in runs[:k]:
        task = next(t for t in org._tasks_of(run["id"]) if t["status"] != "completed")
        org.complete_task(task["id"])
        org.comment_on_task(task["id"], "Done, see attachment")
    sim.reset_counts()
    loader.run(resources=WORKFLOW)
    assert sim.request_count(resource="runs", kind="item") == k  # ONE request per changed process
    assert list_requests(sim) == 0
    feed_pages = sim.request_count(resource="activity")
    assert len(sim.requests) <= k + feed_pages + 10
    assert_workflow_equals_simulator(loader, org)


@pytest.mark.parametrize("reading", ["too", "only"])
def test_every_kind_of_change_is_exact_after_an_incremental_run(sim, loader, reading):
    sim.archived_reading = reading
    org = sim.org
    loader.run(resources=WORKFLOW, activity_start_date=START)
    changed = make_changes(org)
    sim.reset_counts()
    loader.run(resources=WORKFLOW)
    assert list_requests(sim) == 0, "no full read: the feed named every change"
    assert_workflow_equals_simulator(loader, org, reading)
    assert_activity_equals_simulator(loader, org)
    assert loader.rows(f"SELECT count(*) FROM tallyfy.processes WHERE id = '{changed['deleted_run']}'") == [(0,)]
    assert loader.rows(f"SELECT count(*) FROM tallyfy.templates WHERE id = '{changed['deleted_template']}'") == [(0,)]
    ids = ", ".join(f"'{t}'" for t in changed["deleted_tasks"])
    assert loader.rows(f"SELECT count(*) FROM tallyfy.tasks WHERE id IN ({ids})") == [(0,)]
    assert loader.rows(f"SELECT count(*) FROM tallyfy.comments WHERE task_id IN ({ids})") == [(0,)]
    assert loader.rows(f"SELECT count(*) FROM tallyfy.tasks WHERE id = '{changed['new_task']}'") == [(1,)]


def test_changes_are_exact_when_the_server_ignores_sort(sim, duckdb_loader):
    sim.honour_sort = False
    loader = duckdb_loader
    loader.run(resources=WORKFLOW, activity_start_date=START)
    make_changes(sim.org)
    sim.reset_counts()
    loader.run(resources=WORKFLOW)
    assert list_requests(sim) == 0
    assert_workflow_equals_simulator(loader, sim.org)


def test_a_dropped_event_is_stale_until_the_next_sweep_then_exact(sim, loader):
    org = sim.org
    loader.run(resources=WORKFLOW, activity_start_date=START)
    task = next(t for t in org.values("tasks") if t["status"] != "completed" and t["run_id"]
                and t["archived_at"] is None)
    sim.drop_next_event(n=3)  # the completion and anything it triggers write no event
    org.complete_task(task["id"])
    loader.run(resources=WORKFLOW)
    got = loader.rows(f"SELECT status FROM tallyfy.tasks WHERE id = '{task['id']}'")
    assert got != [("completed",)], "the feed never named it: stale until the sweep"
    loader.run(resources=WORKFLOW, sweep_interval_hours=0)
    assert_workflow_equals_simulator(loader, org)
    # and the cursor moved with the sweep: the next rerun is incremental and cheap again
    sim.reset_counts()
    loader.run(resources=WORKFLOW)
    assert list_requests(sim) == 0
    assert_workflow_equals_simulator(loader, org)


def test_feed_lag_is_exact_on_the_run_after_the_lag_passes(sim, duckdb_loader):
    loader = duckdb_loader
    org = sim.org
    loader.run(resources=WORKFLOW, activity_start_date=START)
    sim.feed_lag_seconds = 120
    changed = make_changes(org)
    sim.reset_counts()
    loader.run(resources=WORKFLOW)
    assert list_requests(sim) == 0 and sim.request_count(kind="item") == 0  # the feed shows nothing yet
    assert loader.rows(f"SELECT count(*) FROM tallyfy.tasks WHERE id = '{changed['new_task']}'") == [(0,)]
    org.tick(121)
    loader.run(resources=WORKFLOW)
    assert_workflow_equals_simulator(loader, org)


def test_flag_mode_flags_a_deleted_process_with_its_tasks_and_comments(sim, duckdb_loader):
    loader = duckdb_loader
    org = sim.org
    run = next(r for r in org.values("runs") if org.threads and any(org.threads.get(t["id"]) for t in org._tasks_of(r["id"])))
    tasks = [t["id"] for t in org._tasks_of(run["id"])]
    loader.run(resources=WORKFLOW, activity_start_date=START, deleted_records="flag")
    org.delete_process(run["id"])
    sim.reset_counts()
    loader.run(resources=WORKFLOW, deleted_records="flag")
    assert list_requests(sim) == 0
    assert loader.rows(f"SELECT missing_since IS NOT NULL FROM tallyfy.processes WHERE id = '{run['id']}'") == [(True,)]
    ids = ", ".join(f"'{t}'" for t in tasks)
    flagged = loader.rows(f"SELECT count(*) FROM tallyfy.tasks WHERE id IN ({ids}) AND missing_since IS NOT NULL")
    assert flagged == [(len(tasks),)]
    assert loader.rows(f"SELECT count(*) FROM tallyfy.comments WHERE task_id IN ({ids}) AND missing_since IS NULL") == [(0,)]


def test_kickoff_labels_are_read_once_and_again_after_the_template_changes(sim, duckdb_loader):
    loader, org = duckdb_loader, sim.org
    loader.run(resources=WORKFLOW, activity_start_date=START)
    labels = feed_state(loader)["labels"]
    runs = [r for r in org.values("runs") if r["prerun"] and not r["archived_at"]
            and any(t["status"] != "completed" for t in org._tasks_of(r["id"]))]
    template = runs[0]["checklist_id"]
    siblings = [r for r in runs if r["checklist_id"] == template]
    assert labels[template] == {f["id"]: f["label"] for f in org.served_item("checklists", template)["prerun"]}

    def answer_labels(run_id):
        return dict(loader.rows("SELECT c.field_id, c.label FROM tallyfy.processes__kickoff_answers c JOIN"
                                f" tallyfy.processes p ON c._dlt_parent_id = p._dlt_id WHERE p.id = '{run_id}'"))

    # a changed process of a template whose labels are kept: no request for them
    task = next(t for t in org._tasks_of(siblings[0]["id"]) if t["status"] != "completed")
    org.complete_task(task["id"])
    sim.reset_counts()
    loader.run(resources=WORKFLOW)
    assert sim.request_count(resource="checklists") == 0
    # the template's kick-off fields renamed: read again for the next changed process of it
    prerun = [dict(f, label=f"{f['label']} (renamed)") for f in org._wf("checklists", template)["prerun"]]
    org.edit_template(template, prerun=prerun)
    task = next((t for t in org._tasks_of(siblings[-1]["id"]) if t["status"] != "completed"), None)
    org.comment_on_task(task["id"] if task else org._tasks_of(siblings[-1]["id"])[0]["id"], "Relabelled?")
    sim.reset_counts()
    loader.run(resources=WORKFLOW)
    # one read by the templates resource (its row), one by processes (the labels)
    assert sim.request_count(resource="checklists", kind="item") == 2
    renamed = {f["id"]: f["label"] for f in prerun}
    assert answer_labels(siblings[-1]["id"]) == {k: renamed[k] for k in siblings[-1]["prerun"]}
    assert feed_state(loader)["labels"][template] == renamed
    if len(siblings) > 1:  # an unchanged process keeps its labels until the next sweep...
        assert all(not v.endswith("(renamed)") for v in answer_labels(siblings[0]["id"]).values())
    loader.run(resources=WORKFLOW, sweep=True)  # ...which relabels every answer
    assert_workflow_equals_simulator(loader, org)


def test_an_event_naming_only_an_unloaded_process_task_brings_in_its_process(sim, duckdb_loader):
    loader, org = duckdb_loader, sim.org
    loader.run(resources=WORKFLOW, activity_start_date=START)
    template = next(t for t in org.values("checklists") if not t["archived_at"])
    org.drop_next_events(1)  # the launch's event is missed...
    run = org.launch_process(template["id"], name="Launched unseen")
    task = org._tasks_of(run["id"])[0]
    with org.lock:  # ...and the next event names the task alone, no process
        org._emit(event(org.tick(), "updated", None, "Task", task["id"], "Task", "renamed a task"))
    sim.reset_counts()
    loader.run(resources=WORKFLOW)
    # the task read once (placing it in its process), then its process with all its tasks
    assert sim.request_count(resource="tasks", kind="item") == 1
    assert sim.request_count(resource="runs", kind="item") == 1
    assert loader.rows(f"SELECT name FROM tallyfy.processes WHERE id = '{run['id']}'") == [("Launched unseen",)]
    assert loader.rows(f"SELECT count(*) FROM tallyfy.tasks WHERE run_id = '{run['id']}'") == [
        (len(org._tasks_of(run["id"])),)]
    # the process was never in a list read: what only the runs list serves is NULL until the sweep
    assert loader.rows(f"SELECT due_soon, can_add_oot FROM tallyfy.processes WHERE id = '{run['id']}'") == [
        (None, None)]
    assert_workflow_equals_simulator(loader, org, first_read_alone={"processes": {run["id"]}})
    loader.run(resources=WORKFLOW, sweep_interval_hours=0)
    assert loader.rows(f"SELECT due_soon, can_add_oot FROM tallyfy.processes WHERE id = '{run['id']}'") == [
        (False, True)]
    assert_workflow_equals_simulator(loader, org)


def test_a_record_a_disturbed_sweep_missed_is_loaded_by_the_next_quiet_run(tmp_path):
    """A one-off task created after the last run sits first on page 2 of the tasks walk; while
    the sweep reads, a process with tasks on page 1 is archived, so the task slides onto page 1,
    already read: neither walk sees it, and it was never loaded, so no check finds it. The sweep
    used to store the feed's newest event (newer than the task's creation) as the cursor, so the
    next quiet run, reading the feed from there, never learnt of the task: it stayed missing until
    the next sweep. A sweep whose walks saw rows move keeps the cursor where it was, and is not
    a complete sweep: the next run sweeps again (issue 16)."""
    org = SyntheticOrg.generate(ORG, seed=9, **PROPERTY_SIZE)
    with Simulator(orgs=[org], token=TOKEN) as sim:
        loader = Loader(sim, tmp_path)
        loader.run(resources=WORKFLOW, activity_start_date=START, per_page=5)
        task = org.add_oneoff_task("Slides onto a page already read")["id"]
        order = org.served("tasks", query={})
        place = [t["id"] for t in order].index(task)
        run = next(t["run_id"] for t in order[:place] if t["run_id"])
        sim.faults = FaultPlan([change_between("tasks", 2, lambda: org.archive_process(run))])
        loader.run(resources=WORKFLOW, per_page=place, concurrency=1, sweep_interval_hours=0)
        assert sim.faults.fired and not loader.rows(f"SELECT id FROM tallyfy.tasks WHERE id = '{task}'")
        state = feed_state(loader, "tasks")
        assert "last_sweep" not in state  # not a complete sweep: rows moved
        sim.faults = None
        loader.run(resources=WORKFLOW, per_page=5)  # quiet: a sweep again, whatever the interval
        assert {r.mode for r in loader.reports if r.resource == "tasks"} == {"full", "full, archived=only"}
        assert_workflow_equals_simulator(loader, org)


# ------------------------------------------------------------------ every form the feed comes in (issue 16)
VARIANTS = {  # (shape, created_at offset, order when the feed ignores `sort`)
    "documented": ("documented", None, None),
    "bare-words-and-scalars": ("bare", None, None),
    "offset-ahead-of-utc": ("documented", "+05:30", None),
    "offset-behind-utc-oldest-first": ("documented", "-08:00", "oldest"),
    "bare-oldest-first": ("bare", None, "oldest"),
    "documented-ignores-sort-newest-first": ("documented", None, "newest"),
}


def feed_variant(sim, variant):
    sim.feed_shape, sim.feed_offset, sim.feed_ignores_sort = VARIANTS[variant]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_change_is_exact_after_one_run_between_sweeps_in_every_feed_form(sim, loader, variant):
    """Class names or bare words, lists or scalars, `Z` or offsets, a feed sorted or not: every
    change kind is exact after ONE run between sweeps (before issue 16, the documented form
    matched nothing and the tables stayed stale until the sweep)."""
    feed_variant(sim, variant)
    org = sim.org
    loader.run(resources=WORKFLOW, activity_start_date=START)
    changed = make_changes(org)
    sim.reset_counts()
    loader.run(resources=WORKFLOW)
    assert {r.mode for r in loader.reports if r.resource != "activity"} == {"incremental (activity feed)"}
    assert list_requests(sim) == 0, "no full read: the feed named every change"
    assert_workflow_equals_simulator(loader, org)
    assert_activity_equals_simulator(loader, org, shape=sim.feed_shape)
    assert loader.rows(f"SELECT count(*) FROM tallyfy.processes WHERE id = '{changed['deleted_run']}'") == [(0,)]
    assert loader.rows(f"SELECT count(*) FROM tallyfy.tasks WHERE id = '{changed['new_task']}'") == [(1,)]
    # the activity table holds plain columns, whatever the form: no child tables
    assert not loader.rows("SELECT table_name FROM information_schema.tables WHERE table_schema = 'tallyfy'"
                           " AND table_name LIKE 'activity\\_\\_%' ESCAPE '\\'")


@pytest.mark.parametrize("order", [None, "oldest", "newest"], ids=["sorted", "ignores-sort-oldest-first",
                                                                  "ignores-sort-newest-first"])
@pytest.mark.parametrize("after_sweep", [False, True], ids=["after-first-load", "after-a-sweep"])
def test_request_bounds_hold_whatever_the_feed_order(sim, duckdb_loader, order, after_sweep):
    """No-change rerun: at most 2 requests per workflow resource and org (3 resources + activity),
    single reads counted; k changed processes: at most k + feed pages + 10. Before issue 16, an
    unsorted feed stored the 100th-oldest event as the cursor and the next quiet run re-fetched
    every process named since."""
    sim.feed_ignores_sort = order
    org, loader = sim.org, duckdb_loader
    loader.run(resources=WORKFLOW, activity_start_date=START)
    if after_sweep:
        org.tick(3600)
        loader.run(resources=WORKFLOW, sweep=True)
    newest = max(e["id"] for e in org.served("activity", query={}))
    assert feed_state(loader)["feed"]["id"] == newest  # whatever the order, the cursor is the newest event
    sim.reset_counts()
    loader.run(resources=WORKFLOW)
    assert len(sim.requests) <= 2 * 4, [(r["resource"], r["kind"], r["query"]) for r in sim.requests]
    assert sim.request_count(kind="item") == 0
    assert_workflow_equals_simulator(loader, org)
    runs = [r for r in org.values("runs") if r["archived_at"] is None
            and any(t["status"] != "completed" for t in org._tasks_of(r["id"]))][:6]
    for run in runs:
        org.complete_task(next(t for t in org._tasks_of(run["id"]) if t["status"] != "completed")["id"])
    sim.reset_counts()
    loader.run(resources=WORKFLOW)
    feed_pages = sim.request_count(resource="activity")
    assert sim.request_count(resource="runs", kind="item") == len(runs)
    assert len(sim.requests) <= len(runs) + feed_pages + 10
    assert_workflow_equals_simulator(loader, org)


# ------------------------------------------------------------------ every documented serving form (issue 16)
#: (switch, value): each form a page, the SDK or an older page shows (`simulator/switches.py`)
SERVING_VARIANTS = [
    ("task_owners", "ids"), ("task_owners", "objects"),
    ("template_owner_ids", "int"), ("template_owner_ids", "str"),
    ("group_member_ids", "int"), ("group_member_ids", "str"),
    ("include_wrapping", "wrapped"), ("include_wrapping", "bare"),
    ("template_tags", "links"), ("template_list_archived_at", True),
    ("update_field_name", "updated_at"), ("update_field_name", "last_updated"),
]


@pytest.mark.parametrize("switch,value", SERVING_VARIANTS, ids=[f"{s}={v}" for s, v in SERVING_VARIANTS])
def test_the_tables_are_the_same_whatever_form_the_server_serves(sim, loader, switch, value):
    """Each documented variant of a page (owners as ids or objects, ids as strings or integers,
    includes wrapped or bare, template tags as links, the update time's two names) loads the
    same tables as the documented default, after a full load and after one run between sweeps:
    the expected tables are computed from the default form."""
    setattr(sim, switch, value)
    org = sim.org
    loader.run(activity_start_date=START, resources=["members", "groups", "tags", "guests", *WORKFLOW])
    assert_workflow_equals_simulator(loader, org)
    make_changes(org)
    loader.run(resources=WORKFLOW)
    assert_workflow_equals_simulator(loader, org)
    assert_activity_equals_simulator(loader, org)
    if switch == "group_member_ids":  # member ids as strings or integers: the same integer column
        members = {(g["id"], int(m)) for g in org.values("groups") for m in g["members"]}
        assert members and set(loader.rows("SELECT group_id, value FROM tallyfy.groups__members")) == members
