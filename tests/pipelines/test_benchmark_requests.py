"""The deterministic part of `make bench`: request counts of our three scenarios.

Runs the benchmark harness itself (child processes against one simulator) on a
small org at zero latency with no rate limit; timings are not asserted.
"""

from benchmarks.floor import incremental_requests, pages_of, wall_floor
from benchmarks.report import render
from benchmarks import workflow
from benchmarks.run import TOKEN, build_parser, measure, run_all

SMALL = ["--members", "1000", "--groups", "150", "--memberships", "1500", "--tags", "250", "--guests", "120"]


def test_request_counts_of_full_noop_and_changed_runs():
    args = build_parser().parse_args(SMALL + ["--latency", "0", "--rate", "0", "--no-baselines", "--no-local", "--out", "-"])
    data = run_all(args, log=lambda line: None)
    runs = data["runs"]
    assert {name: run.get("error") for name, run in runs.items()} == dict.fromkeys(runs)

    # P = 10 member pages + 2 group pages + 3 tag pages + 2 guest pages, read exactly once, and
    # page 1 of members once more (no row crossed a boundary while pages were in flight; groups'
    # two pages are read one after the other)
    assert data["pages"] == {"members": 10, "groups": 2, "tags": 3, "guests": 2}
    assert runs["ours_full"]["requests"] == 18
    assert runs["ours_full"]["requests_by_resource"] == {"members": 11, "groups": 2, "tags": 3, "guests": 2}
    assert runs["ours_full"]["rows"]["members"] == 1000

    # no change: newest-first page + ascending probe per incremental resource, full tags and guests
    assert runs["ours_noop"]["requests_by_resource"] == {"members": 2, "groups": 2, "tags": 3, "guests": 2}
    assert runs["ours_noop"]["rows"] == {"tags": 250, "tag_statistics_history": 250, "guests": 120}

    # 1% changed (10 members, 2 groups): still on the first page, so the same requests
    assert data["changed"] == {"members": 10, "groups": 2}
    assert runs["ours_changed"]["requests_by_resource"] == {"members": 2, "groups": 2, "tags": 3, "guests": 2}
    assert runs["ours_changed"]["rows"]["members"] == 10
    assert runs["ours_changed"]["rows"]["groups"] == 2
    assert all(run["status_429"] == 0 for run in runs.values())

    assert data["expected"] == {"ours_full": 18, "ours_noop": 9, "ours_changed": 9}
    table = render(data)
    assert "| requests, full load | = P + rechecks = 18 | 18 | yes |" in table
    assert "| requests, incremental with no change | <= 2 x 2 + 5 = 9 | 9 | yes |" in table


def test_incremental_bound_counts_stop_page_and_probe():
    pages = pages_of({"members": 20_000, "groups": 2_000, "tags": 5_000, "guests": 5_000})
    assert pages == {"members": 200, "groups": 20, "tags": 50, "guests": 50}
    assert incremental_requests(pages, {}) == 2 + 2 + 100
    # 200 changed members fill pages 1-2; page 3 holds the first unchanged row, then the probe
    assert incremental_requests(pages, {"members": 200, "groups": 20}) == 4 + 2 + 100
    # a one-page resource needs no probe: its only page is also its last
    assert incremental_requests({"members": 1, "groups": 1}, {"members": 5}) == 2


def test_wall_floor_is_the_binding_bound():
    assert wall_floor(320, 0.25, 600, None) == 32.0  # rate limit only
    assert wall_floor(320, 0.25, 600, 8) == 32.0  # rate binds: 10 s of round trips at 8 in flight
    assert wall_floor(320, 0.25, None, 2) == 40.0  # no limit: round trips bind


def test_workflow_request_counts_of_full_noop_changed_and_sweep_runs():
    """`--workflow` on a small org (about 500 tasks), every table loaded: a full load costs each
    list's pages under both `archived` walks, the directory's pages, the feed's pages and its first
    page once more (the cursor); between sweeps, one feed read serves the three workflow resources
    and a changed process costs one GET; a sweep costs the full load's list pages again."""
    from benchmarks.workflow import WorkflowSizes, make_workflow_org
    from tests.expected import full_read_requests, records

    args = build_parser().parse_args(["--workflow", "--workflow-scale", "0.01", "--no-small", "--changed-processes", "5",
                                      "--latency", "0", "--rate", "0", "--out", "-"])
    data = workflow.run_workflow(args, measure, TOKEN, log=lambda line: None)
    runs = data["runs"]
    assert {name: run.get("error") for name, run in runs.items()} == dict.fromkeys(runs)
    assert list(runs) == ["full_full", "full_noop", "full_changed", "full_sweep", "full_rest_api", "full_pandas"]

    org = make_workflow_org(WorkflowSizes().scaled(0.01), 1)  # the same org again (seeded)
    pages = lambda n: max(1, -(-n // 100))  # noqa: E731
    walks = {r: pages(len(org.served(r, query={}))) + pages(len(org.served(r, query={"archived": "only"})))
             for r in ("checklists", "runs", "tasks")}
    directory = {r: full_read_requests(r, getattr(org, r)) for r in ("members", "groups", "tags", "guests")}
    feed = pages(len(org.served("activity", query={"created_after": "2025-01-01"}))) + 2  # + first, last page
    assert walks == {"checklists": 2, "runs": 2, "tasks": 7} and feed == 10  # 508 tasks, 724 events
    labelled = len({r["checklist_id"] for r in org.values("runs") if r["prerun"]})  # kick-off labels
    assert labelled == 2
    full = runs["full_full"]
    assert full["requests_by_resource"] == {**directory, **walks, "checklists": 2 + labelled,
                                            "activity": feed} == data["expected"]["full"]
    assert full["requests_by_kind"]["item"] == labelled and full["requests"] == 25 + labelled
    assert full["rows"]["tasks"] == org.count("tasks") and full["rows"]["comments"] == data["figures"]["full"]["comments"]

    # no change, between sweeps: members one newest-first page (its only one: no probe), groups,
    # tags, guests one page each; no workflow list read; activity: the shared feed read and the
    # activity resource's read, one page each (each stops at the newest id loaded)
    noop = runs["full_noop"]["requests_by_resource"]
    assert noop == {"members": 1, "groups": 1, "tags": 1, "guests": 1, "checklists": 0, "runs": 0, "tasks": 0,
                    "activity": 2}
    # 5 processes changed: one GET each (`runs/{id}?with=tasks,...`), shared by processes and tasks
    changed = runs["full_changed"]
    assert data["changed"] == {"full": 5}
    assert changed["requests_by_resource"] == {**noop, "runs": 5}
    assert changed["requests_by_kind"]["item"] == 5
    # the next sweep: every list page again and the labels again, nothing to confirm; the feed's
    # first and last pages for the cursor and the activity resource's sweep from the day before the last one
    sweep = runs["full_sweep"]
    assert sweep["requests_by_resource"] == {**directory, **walks, "checklists": 2 + labelled, "activity": 3}
    assert sweep["requests_by_kind"]["item"] == labelled
    assert all(run["status_429"] == 0 for run in runs.values())

    # the baselines read each list once, without `archived`, 100 a page (the pandas script reads the
    # directory at the server's default page size); the same rows of the unarchived records
    unarchived = {r: len(org.served(r, query={})) for r in ("checklists", "runs", "tasks")}
    events = len(org.served("activity", query={"created_after": "2025-01-01"}))
    lists = {**{r: getattr(org, r) for r in ("members", "groups", "tags", "guests")}}
    sizes = {**{r: len(records(v)) for r, v in lists.items()}, **unarchived, "activity": events}
    rest = runs["full_rest_api"]
    assert rest["requests_by_resource"] == {r: pages(n) for r, n in sizes.items()}
    pandas = runs["full_pandas"]["requests_by_resource"]
    assert {r: pandas[r] for r in ("checklists", "runs", "tasks", "activity")} == {
        r: pages(sizes[r]) for r in ("checklists", "runs", "tasks", "activity")}
    assert pandas["tags"] == -(-sizes["tags"] // 10)  # the directory at the default page size
    assert runs["full_pandas"]["rows"]["tasks"] == unarchived["tasks"] == rest["rows"]["tasks"]
    assert "Ours against what a user would write instead" in workflow.render(data)
