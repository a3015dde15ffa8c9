"""`processes_history` and `process_tags_history` (issue 19): a version per change of a process's
status, archival, progress or tags, kept by the loads themselves at no extra request; one version per process per load, no
duplicates on a rerun, every other process's version left alone between sweeps. Expected values
come from the simulator's records (`both_walks`), not from the loaded tables. DuckDB and PostgreSQL.
"""

import pytest

from tallyfy_source.simulator import Simulator, SyntheticOrg
from tests.conftest import TOKEN
from tests.workflow.test_workflow import ORG, SIZE, START, WORKFLOW, _unwrap, both_walks

HISTORY = ("SELECT process_id, status, is_archived, progress__complete, progress__total, progress__percent, removed"
           " FROM tallyfy.processes_history")


@pytest.fixture
def sim():
    org = SyntheticOrg.generate(ORG, seed=3, **SIZE)
    with Simulator(orgs=[org], token=TOKEN) as server:
        yield server


def served_versions(org):
    """{process id: (status, is_archived, complete, total, percent, removed)} and {id: sorted tag ids}."""
    versions, tags = {}, {}
    for p in both_walks(org, "runs", ["tags"], "too"):
        progress = p["progress"]
        versions[p["id"]] = (p["status"], p["is_archived"], progress["complete"], progress["total"],
                             progress["percent"], False)
        tags[p["id"]] = sorted(str(t["tag_id"]) for t in _unwrap(p["tags"]))
    return versions, tags


def active_versions(loader):
    rows = loader.rows(HISTORY + " WHERE valid_to IS NULL")
    assert len(rows) == len({r[0] for r in rows}), "one active version per process"
    return {r[0]: tuple(r[1:]) for r in rows}


def active_tags(loader):
    """{process: its tags now} (a process without tags has one row with tag_id NULL: [None])."""
    rows = loader.rows("SELECT process_id, tag_id FROM tallyfy.process_tags_history WHERE valid_to IS NULL")
    out = {}
    for process, tag in rows:
        out.setdefault(process, []).append(tag)
    return {p: sorted(t, key=str) for p, t in out.items()}


def as_links(tags):
    return {p: t or [None] for p, t in tags.items()}


def tags_at(loader, process_id, moment):
    """The tags a process carried at `moment`: the one query an analyst writes."""
    query = ("SELECT tag_id FROM tallyfy.process_tags_history WHERE process_id = %s AND tag_id IS NOT NULL"
             " AND valid_from <= %s AND (valid_to IS NULL OR valid_to > %s) ORDER BY tag_id")
    with loader.pipeline().sql_client() as client:
        return [r[0] for r in client.execute_sql(query, process_id, moment, moment)]


def versions_of(loader, process_id):
    return loader.rows(HISTORY.replace("SELECT process_id, ", "SELECT valid_from, valid_to, ")
                       + f" WHERE process_id = '{process_id}' ORDER BY valid_from")


def test_the_first_load_starts_one_version_per_process_as_served(sim, loader):
    loader.run(resources=WORKFLOW, activity_start_date=START)
    versions, tags = served_versions(sim.org)
    assert active_versions(loader) == versions
    assert active_tags(loader) == as_links(tags)
    assert loader.rows("SELECT count(*) FROM tallyfy.processes_history WHERE valid_to IS NOT NULL") == [(0,)]


def test_each_change_adds_one_version_and_retires_the_one_before(sim, loader):
    org = sim.org
    loader.run(resources=WORKFLOW, activity_start_date=START)
    before, tags_before = served_versions(org)
    live = [r for r in org.values("runs") if r["archived_at"] is None]
    progressed = next(r for r in live if any(t["status"] != "completed" for t in org._tasks_of(r["id"])))
    task = next(t for t in org._tasks_of(progressed["id"]) if t["status"] != "completed")
    org.complete_task(task["id"])
    retagged, archived, deleted = [r for r in live if r["id"] != progressed["id"]][:3]
    tag = next(t for t in org.values("tags") if not t["auto_generated"])["id"]
    had_tag = any(row["tag_id"] == tag for row in org.tag_links.get(("runs", retagged["id"]), ()))
    org.retag("runs", retagged["id"], tag, add=not had_tag)
    org.archive_process(archived["id"])
    org.delete_process(deleted["id"])
    sim.reset_counts()
    loader.run(resources=WORKFLOW)  # between sweeps: the feed names the four

    after, tags = served_versions(org)
    assert active_versions(loader) == {**after, deleted["id"]: (None, None, None, None, None, True)}
    assert active_tags(loader) == {**as_links(tags), deleted["id"]: [None]}
    changed = {progressed["id"], archived["id"], deleted["id"]}  # the retag is a tags-only change
    for process in changed:
        (start, end, *old), (start2, end2, *new) = versions_of(loader, process)
        assert end == start2 and end2 is None and start < start2
        assert tuple(old) == before[process] and tuple(new) != tuple(old)
    assert [(end,) for _, end, *_ in versions_of(loader, retagged["id"])] == [(None,)]
    [(first, second)] = loader.rows("SELECT min(valid_from), max(valid_from) FROM tallyfy.processes_history")
    assert tags_at(loader, retagged["id"], first) == tags_before[retagged["id"]]
    assert tags_at(loader, retagged["id"], second) == tags[retagged["id"]] != tags_before[retagged["id"]]
    unchanged = loader.rows("SELECT count(*) FROM tallyfy.processes_history WHERE process_id NOT IN ("
                            + ", ".join(f"'{p}'" for p in changed) + ") AND valid_to IS NOT NULL")
    assert unchanged == [(0,)]
    assert loader.rows("SELECT count(*) FROM tallyfy.processes_history") == [(len(before) + len(changed),)]


def test_a_rerun_and_a_sweep_without_changes_add_no_version(sim, loader):
    loader.run(resources=WORKFLOW, activity_start_date=START)
    first = loader.rows("SELECT count(*) FROM tallyfy.processes_history")
    loader.run(resources=WORKFLOW)
    loader.run(resources=WORKFLOW, sweep=True)  # every process read again, one version each kept
    assert loader.rows("SELECT count(*) FROM tallyfy.processes_history") == first
    assert loader.rows("SELECT count(*) FROM tallyfy.process_tags_history WHERE tag_id IS NOT NULL") == \
        loader.rows("SELECT count(*) FROM tallyfy.processes__tags")


def test_which_tags_were_on_which_processes_in_a_period_is_one_query(sim, loader):
    org = sim.org
    loader.run(resources=WORKFLOW, activity_start_date=START)
    _, tags_then = served_versions(org)
    process = next(p for p, t in tags_then.items() if len(t) >= 2)  # one tag stays, one goes
    removed_tag = tags_then[process][0]
    org.retag("runs", process, removed_tag, add=False)
    loader.run(resources=WORKFLOW)
    [(first, switched)] = loader.rows(f"SELECT valid_from, valid_to FROM tallyfy.process_tags_history"
                                      f" WHERE process_id = '{process}' AND tag_id = '{removed_tag}'")
    assert first < switched
    assert tags_at(loader, process, first) == tags_then[process]
    assert tags_at(loader, process, switched) == [t for t in tags_then[process] if t != removed_tag]


def test_changes_between_two_pages_of_the_walk_leave_one_version_each_and_heal_next_run(sim, loader):
    """The org changes while the first full read pages through the processes (10 a page): a task
    completed, a tag added, a process deleted, a process launched. Each process still has one
    active version after that load, and after the next run (the feed names the changes) the
    history's current versions are exactly what the API serves."""
    from tallyfy_source.simulator import FaultPlan, change_between

    org = sim.org
    live = [r for r in org.values("runs") if r["archived_at"] is None]
    open_run = next(r for r in live if any(t["status"] != "completed" for t in org._tasks_of(r["id"])))
    task = next(t for t in org._tasks_of(open_run["id"]) if t["status"] != "completed")
    retagged, deleted = [r for r in live if r["id"] != open_run["id"]][:2]
    tag = next(t for t in org.values("tags") if not t["auto_generated"])["id"]
    template = next(t for t in org.values("checklists") if t["status"] == "published")["id"]

    def mid_walk():
        org.complete_task(task["id"])
        org.retag("runs", retagged["id"], tag, add=not any(
            row["tag_id"] == tag for row in org.tag_links.get(("runs", retagged["id"]), ())))
        org.delete_process(deleted["id"])
        org.launch_process(template)

    sim.faults = FaultPlan([change_between("runs", 2, mid_walk)])
    loader.run(resources=WORKFLOW, activity_start_date=START, per_page=10)
    assert sim.faults.rules[0].fired == 1
    active_versions(loader)  # one active version per process, whatever the walk saw twice
    loader.run(resources=WORKFLOW, per_page=10)
    after, tags = served_versions(org)
    removed = {deleted["id"]: (None, None, None, None, None, True)} if versions_of(loader, deleted["id"]) else {}
    assert active_versions(loader) == {**after, **removed}
    assert active_tags(loader) == {**as_links(tags), **{p: [None] for p in removed}}
