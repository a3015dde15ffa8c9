"""Property: the workflow tables keep the README's promises while the org's work changes.

A hypothesis state machine runs the connector (templates, processes, tasks + comments,
activity, through the tests' `Loader` into a DuckDB file) against the simulator while the org
changes in every way the simulator's workflow mutations can change it: a task completed,
re-opened, reassigned or commented on, a new one-off task, a process launched, archived,
unarchived or deleted, a template edited, archived, unarchived or deleted, a tag added to or
removed from a template, process or task. Each change's feed event is recorded, dropped (the
feed never shows it) or held (it shows up late, behind newer events). Changes also land
between two page requests of a run's walks (`change_between`; the feed's pages too) and
between the feed read and a single-record GET (an `item=True` mutate fault); the feed lags
(`feed_lag_seconds`), the server ignores `sort` or not, a truthy `archived` means "too" or
"only", runs sweep (forced) or run between sweeps (`sweep_interval_hours` far away), with
pages of 3 or 5 so that every walk has many pages.

Invariants, checked after EVERY run:
1. No live record is ever deleted: a template, process, task or comment that is in its table
   before a run and exists upstream before and after it is in its table after it.
2. A quiet sweep (no change while it ran) leaves every workflow table exactly equal to the
   simulator's oracle (`tests/test_workflow.expected`), and the `activity` table too when the
   feed has no lag. So whatever the feed missed (a dropped event, a late one) heals at the
   next sweep.
3. A quiet run between sweeps leaves exact every record whose changes the feed has shown: each
   process (with its tasks and their comments), one-off task (with its comments) and template
   is exactly the oracle's, except those with a change since the last quiet sweep whose event
   was dropped or held, those whose newest change is still inside the feed's lag, and the
   processes of a deleted template (their kick-off answers keep their labels until the process
   is read again or the next sweep: the README says so). The `activity` table is exact too
   when the feed has no lag and no late event showed up since the last quiet sweep. So a
   change the feed recorded is in the tables after one run, and a change that landed during a
   run (between two pages, or between the feed read and a single GET) after the next quiet run.

The search is steered to short sequences that mean something: a batch of changes followed at
once by a run between sweeps; missed changes followed by a run between sweeps and a sweep; a
record created since the last run with a change landing mid-walk just before the page that
holds it, then a quiet run; a change landing between the feed read and the single GET, then a
quiet run. The hand sequences at the bottom are plain tests over the same machine.

`make test` runs EXAMPLES examples; `TALLYFY_PROPERTY_EXAMPLES=200` (or `make fuzz`) more.
"""

import os
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Callable, Dict, List, Optional, Set, Tuple

import duckdb
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from tallyfy_source.simulator import FaultPlan, Simulator, SyntheticOrg, change_between
from tallyfy_source.simulator.faults import Fault
from tests.conftest import TOKEN, Loader
from tests.simulator.support import events_still_dropped_or_held
from tests.workflow.test_workflow import (START, assert_activity_equals_simulator, assert_workflow_equals_simulator, read_alone,
                                 expected, loaded_children)

EXAMPLES = int(os.environ.get("TALLYFY_PROPERTY_EXAMPLES", "5"))
ORG = "c0ffee00c0ffee00c0ffee00c0ffee00"
SIZE = dict(members=12, groups=4, tags=10, guests=5, templates=4, processes=6, oneoff_tasks=4)
RESOURCES = ["templates", "processes", "tasks", "activity"]
WORKFLOW = ("templates", "processes", "tasks")
BETWEEN_SWEEPS = 8_760  # sweep_interval_hours (the largest allowed): no sweep falls due during a test
ROOTS = ("templates", "processes", "tasks", "comments")
PARENT = {"templates__steps": "templates", "templates__tags": "templates", "processes__kickoff_answers": "processes",
          "processes__tags": "processes", "tasks__assignees": "tasks", "tasks__tags": "tasks",
          "tasks__form_fields": "tasks"}

#: every change kind; `MOVERS` take records out of a walk (rows slide onto pages already read)
KINDS = ("complete_task", "reopen_task", "reassign_task", "comment_on_task", "add_oneoff_task", "launch_process",
         "archive_process", "unarchive_process", "delete_process", "edit_template", "archive_template",
         "unarchive_template", "delete_template", "retag")
MOVERS = ("archive_process", "delete_process", "archive_template", "delete_template", "unarchive_process")
#: the structural kinds drawn more often than the others
KIND = st.sampled_from(KINDS + MOVERS)
N = st.integers(0, 10**6)
FEED = st.sampled_from(("recorded", "recorded", "recorded", "dropped", "held"))
CHANGE = st.tuples(KIND, N, FEED)
RECORDED = st.tuples(KIND, N, st.just("recorded"))
#: missed changes: deletions most of all, which only a sweep can confirm
MISSED = st.tuples(st.sampled_from(KINDS + ("delete_process", "delete_template") * 3), N,
                   st.sampled_from(("dropped", "held")))
PER_PAGE = st.sampled_from((3, 5))
#: (walk, query the walk carries): the two `archived` walks of each list, and the feed
WALKS = {"tasks": ("tasks", {"archived": None}), "tasks archived": ("tasks", {"archived": "only"}),
         "processes": ("runs", {"archived": None}), "processes archived": ("runs", {"archived": "only"}),
         "templates": ("checklists", {"archived": None}), "activity": ("activity", None)}
Unit = Tuple[str, str]  # ("template" | "process" | "task" (one-off), id)


def pick(items, n):
    return items[n % len(items)] if items else None


class Tables:
    """The loaded DuckDB file read directly (one connection; `Loader.rows` opens the pipeline
    for every query, 50 times slower), with `Loader`'s `rows` and `table`."""

    def __init__(self, path: str):
        self.con = duckdb.connect(path, read_only=True)
        self.names = {t for (t,) in self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'tallyfy'").fetchall()}

    def rows(self, sql: str) -> List[tuple]:
        return [tuple(r) for r in self.con.execute(sql).fetchall()]

    def table(self, name: str) -> List[Dict]:
        if name not in self.names:
            return []
        cursor = self.con.execute(f"SELECT * FROM tallyfy.{name}")
        columns = [c[0] for c in cursor.description]
        return [{k: v for k, v in zip(columns, row) if not k.startswith("_dlt_")} for row in cursor.fetchall()]

    def keys(self, name: str) -> Set[str]:
        return {str(k) for (k,) in self.rows(f"SELECT id FROM tallyfy.{name}")} if name in self.names else set()

    def close(self) -> None:
        self.con.close()


class WorkflowOrg(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="tallyfy-wfprop-"))
        self.org = SyntheticOrg.generate(ORG, seed=21, **SIZE)
        self.sim = Simulator(orgs=[self.org], token=TOKEN).start()
        self.loader = Loader(self.sim, self.folder)
        self.reading = "too"
        self.pending: List[Fault] = []  # changes to land during the next run
        self.stale: Set[Unit] = set()  # not promised exact until the next quiet sweep
        self.changed_at: Dict[Unit, object] = {}  # org time of each unit's newest change
        self.activity_stale = False  # a late event showed up since the last quiet sweep
        self.errors: List[BaseException] = []  # changes that failed inside the server's thread
        self.edits = 0
        self.log: List[str] = []
        self.loaded = False  # the first load ran
        self.healthy = True  # no step failed (teardown checks only what a passing example left)
        #: keys some full read loaded from its list; the others were first read by themselves and
        #: carry NULL in the fields only a list serves until a sweep (`tests/test_workflow.read_alone`)
        self.list_loaded: Dict[str, Set[str]] = {t: set() for t in ROOTS}

    def teardown(self):
        """Every example ends with the promises checked on whatever it left: a quiet run
        between sweeps, the same once the feed's lag is over, and a quiet sweep."""
        try:
            if self.healthy and self.loaded:
                self.pending = []
                self.run_once(sweep=False, per_page=5)
                if self.sim.feed_lag_seconds:
                    self.sim.feed_lag_seconds = 0
                    self.run_once(sweep=False, per_page=5)
                self.run_once(sweep=True, per_page=5)
        finally:
            self.sim.stop()
            shutil.rmtree(self.folder, ignore_errors=True)

    # ------------------------------------------------------------------ the org changes
    def unit_of_task(self, task) -> Unit:
        return ("process", task["run_id"]) if task["run_id"] else ("task", task["id"])

    def pool(self, kind: str) -> list:
        """The records a task or process change of `kind` picks from."""
        tasks, runs = self.org.values("tasks"), self.org.values("runs")
        return {"complete_task": [t for t in tasks if t["status"] != "completed"],
                "reopen_task": [t for t in tasks if t["status"] == "completed"],
                "reassign_task": tasks, "comment_on_task": tasks,
                "archive_process": [r for r in runs if r["archived_at"] is None],
                "unarchive_process": [r for r in runs if r["archived_at"] is not None],
                "delete_process": runs if len(runs) > 3 else []}.get(kind, [])

    def planned(self, kind: str, n: int) -> Optional[Callable[[], List[Unit]]]:
        """What `kind` would do to the record `n` picks, as a thunk returning the units it
        changes (None: no such record now)."""
        org = self.org
        templates, pool = org.values("checklists"), self.pool(kind)
        if kind in ("complete_task", "reopen_task", "reassign_task", "comment_on_task"):
            task = pick(pool, n)
            if task is None:
                return None
            unit = self.unit_of_task(task)
            if kind == "complete_task":
                return lambda: [unit] if org.complete_task(task["id"]) else []
            if kind == "reopen_task":
                return lambda: [unit] if org.reopen_task(task["id"]) else []
            if kind == "reassign_task":
                members, guests, groups = org.values("members"), org.values("guests"), org.values("groups")
                users = [pick(members, n)["id"]] + ([pick(members, n // 7)["id"]] if n % 3 else [])
                return lambda: [unit] if org.reassign_task(
                    task["id"], users=sorted(set(users)), guests=[pick(guests, n)["email"]] if n % 2 else [],
                    groups=[pick(groups, n)["id"]] if n % 5 == 0 else []) else []

            def comment():
                label = ("comment", "problem", "resolve", "advice", "improvement")[n % 5]
                try:
                    org.comment_on_task(task["id"], f"Remark {n}", label=label)
                except ValueError:  # nothing to resolve
                    org.comment_on_task(task["id"], f"Problem {n}", label="problem")
                return [unit]
            return comment
        if kind == "add_oneoff_task":
            return lambda: [("task", org.add_oneoff_task(f"One-off {n}")["id"])]
        if kind == "launch_process":
            template = pick(templates, n)
            return None if template is None else (
                lambda: [("process", org.launch_process(template["id"], name=f"Launched {n}")["id"])])
        if kind in ("archive_process", "unarchive_process", "delete_process"):
            run = pick(pool, n)
            if run is None:
                return None
            return lambda: (getattr(org, kind)(run["id"]), [("process", run["id"])])[1]
        if kind in ("edit_template", "archive_template", "unarchive_template", "delete_template"):
            pool = {"archive_template": [t for t in templates if t["archived_at"] is None],
                    "unarchive_template": [t for t in templates if t["archived_at"] is not None],
                    "delete_template": templates if len(templates) > 2 else []}.get(kind, templates)
            template = pick(pool, n)
            if template is None:
                return None
            unit = ("template", template["id"])
            if kind == "edit_template":
                self.edits += 1
                field = {"summary": f"Edit {self.edits}"} if n % 2 else {"title": f"Renamed {self.edits}"}
                return lambda: (org.edit_template(template["id"], **field), [unit])[1]
            if kind == "delete_template":
                def delete():
                    # its processes keep their answers' labels until read again or the next sweep
                    self.stale.update(("process", r["id"]) for r in org.values("runs")
                                      if r["checklist_id"] == template["id"])
                    org.delete_template(template["id"])
                    return [unit]
                return delete
            return lambda: (getattr(org, kind)(template["id"]), [unit])[1]
        if kind == "retag":
            what = ("checklists", "runs", "tasks")[n % 3]
            subject = pick(org.values(what), n // 3)
            tag = pick([t for t in org.values("tags") if not t["auto_generated"]], n // 7)
            if subject is None or tag is None:
                return None
            unit = self.unit_of_task(subject) if what == "tasks" else (
                {"checklists": "template", "runs": "process"}[what], subject["id"])

            def retag():
                try:
                    org.retag(what, subject["id"], tag["id"], add=True)
                except ValueError:  # already tagged: untag
                    org.retag(what, subject["id"], tag["id"], add=False)
                return [unit]
            return retag
        raise AssertionError(f"unknown change kind {kind}")

    def apply(self, kind: str, n: int, feed: str = "recorded") -> Optional[List[Unit]]:
        """Make one change now (its event recorded, dropped or held): the units it changed, or
        None when there is no such record to change."""
        thunk = self.planned(kind, n)
        if thunk is None:
            return None
        healthy, self.healthy = self.healthy, False
        if feed == "dropped":
            self.org.drop_next_events(1)
        elif feed == "held":
            self.org.hold_next_events(1)
            self.activity_stale = True
        missed = events_still_dropped_or_held(self.org) > 0
        units = thunk()
        self.log.append(f"{kind} {units} ({feed})")
        if missed:
            self.stale.update(units)
        for unit in units:
            self.changed_at[unit] = self.org.now
        self.healthy = healthy
        return units

    def apply_during_run(self, kind: str, n: int) -> Callable[[], None]:
        def action():
            try:
                self.apply(kind, n)
            except BaseException as error:  # the server would answer 500 and hide it
                self.errors.append(error)
                raise
        return action

    def apply_all(self, changes) -> None:
        for kind, n, feed in changes:
            self.apply(kind, n, feed)

    # ------------------------------------------------------------------ what is loaded, what exists
    def tables(self) -> Tables:
        return Tables(self.loader.db_path)

    def loaded_keys(self) -> Dict[str, Set[str]]:
        view = self.tables()
        try:
            return {t: view.keys(t) for t in ROOTS}
        finally:
            view.close()

    def upstream_keys(self) -> Dict[str, Set[str]]:
        want = expected(self.org, self.reading)
        return {t: set(map(str, want[t])) for t in ROOTS}

    # ------------------------------------------------------------------ a run and its promises
    def run_once(self, sweep: bool = False, per_page: int = 5, concurrency: int = 1, honour_sort: bool = True,
                 faults: Tuple[Fault, ...] = ()) -> bool:
        """One run and the invariants; True when a change landed during it."""
        self.healthy, self.loaded = False, True
        faults = list(faults) + self.pending
        self.pending = []
        before, upstream_before = self.loaded_keys(), self.upstream_keys()
        lag, now = self.sim.feed_lag_seconds, self.org.now
        plan = FaultPlan(faults)
        self.sim.faults, self.sim.honour_sort = plan, honour_sort
        try:
            self.loader.run(resources=RESOURCES, per_page=per_page, concurrency=concurrency, sweep=sweep,
                            sweep_interval_hours=BETWEEN_SWEEPS)
        finally:
            self.sim.faults, self.sim.honour_sort = None, True
        assert not self.errors, self.errors
        assert not [r.error for r in self.loader.reports if r.error]
        self.log.append(f"run sweep={sweep} per_page={per_page} fired={len(plan.fired)}")
        # 1. no live record deleted
        after, upstream_after = self.loaded_keys(), self.upstream_keys()
        for table in ROOTS:
            lost = (before[table] & upstream_before[table] & upstream_after[table]) - after[table]
            assert not lost, f"{table}: live records deleted: {sorted(lost)[:5]}"
        full = {r.resource for r in self.loader.reports if r.resource in ("templates", "processes", "tasks")
                and not r.mode.startswith("incremental")}
        for table in ROOTS:  # a full read, even a disturbed one, loads what it read from the lists
            if (table if table != "comments" else "tasks") in full:
                self.list_loaded[table] |= after[table] & upstream_after[table]
        if plan.fired:
            self.healthy = True
            return True
        swept = all(not r.mode.startswith("incremental") for r in self.loader.reports if r.resource in WORKFLOW)
        if swept:  # 2. a quiet sweep: everything exact
            self.check_exact(lag, activity=lag == 0)
            self.stale.clear()
            self.activity_stale = False
        else:  # 3. a quiet run between sweeps: every change the feed has shown is exact
            unseen = {u for u, when in self.changed_at.items() if when + timedelta(seconds=lag) > now}
            self.check_exact(lag, skip=self.stale | unseen, activity=lag == 0 and not self.activity_stale)
        self.healthy = True
        return False

    def check_exact(self, lag: int, skip: Optional[Set[Unit]] = None, activity: bool = True) -> None:
        view = self.tables()
        try:
            if skip is None:
                assert_workflow_equals_simulator(view, self.org, self.reading, self.read_alone_keys())
            else:
                self.assert_exact_except(view, skip)
            if activity:
                assert_activity_equals_simulator(view, self.org)
        finally:
            view.close()

    def read_alone_keys(self) -> Dict[str, Set[str]]:
        """Upstream records no full read has loaded from its list yet (see `list_loaded`)."""
        upstream = self.upstream_keys()
        return {t: upstream[t] - self.list_loaded[t] for t in ("templates", "processes", "tasks")}

    def assert_exact_except(self, view: Tables, skip: Set[Unit]) -> None:
        """The oracle's rows and the loaded rows, equal once the skipped units are left out."""
        want = expected(self.org, self.reading)
        for table, keys in self.read_alone_keys().items():
            for key in keys:
                want[table][key] = read_alone(self.org, table, key, want[table][key])
        got = {t: {r["id"]: r for r in view.table(t) if r["org_id"] == ORG} for t in ROOTS}
        skip_ids = {"templates": {k for kind, k in skip if kind == "template"}}
        processes = {k for kind, k in skip if kind == "process"}
        skip_ids["processes"] = processes
        skip_ids["tasks"] = {k for kind, k in skip if kind == "task"} | {
            k for side in (want, got) for k, row in side["tasks"].items() if row.get("run_id") in processes}
        skip_ids["comments"] = {k for side in (want, got) for k, row in side["comments"].items()
                                if row.get("task_id") in skip_ids["tasks"] or row.get("process_id") in processes}
        for table in ROOTS:
            have = {k: v for k, v in got[table].items() if k not in skip_ids[table]}
            need = {k: v for k, v in want[table].items() if k not in skip_ids[table]}
            assert set(have) == set(need), (table, "missing", sorted(set(need) - set(have))[:5],
                                            "extra", sorted(set(have) - set(need))[:5])
            for key, row in need.items():
                for column, value in row.items():
                    assert have[key].get(column) == value, (table, key, column, have[key].get(column), value)
        children = loaded_children(view, ORG)
        for table, rows in children.items():
            skipped = skip_ids[PARENT[table]]
            assert [r for r in rows if r[0] not in skipped] == [r for r in want[table] if r[0] not in skipped], table

    def walk_order(self, walk: str) -> List[str]:
        """The keys a walk serves, in its order, as the org stands."""
        resource, query = WALKS[walk]
        query = {k: v for k, v in (query or {}).items() if v is not None}
        return [str(r["id"]) for r in self.org.served(resource, query=query, archived_reading=self.reading)]

    def page_holding_an_unloaded_record(self, walk: str, per_page: int, n: int) -> Optional[int]:
        """The page (2 or later) of `walk` that holds a record the tables do not have (the n-th
        such record), or None when the tables have them all."""
        loaded = self.loaded_keys()[walk.split()[0]]
        unloaded = [i for i, key in enumerate(self.walk_order(walk)) if key not in loaded]
        return max(2, pick(unloaded, n) // per_page + 1) if unloaded else None

    # ------------------------------------------------------------------ rules
    @initialize(reading=st.sampled_from(("too", "only")))
    def first_load(self, reading):
        self.reading = self.sim.archived_reading = reading
        self.healthy = False
        self.loader.run(resources=RESOURCES, per_page=5, activity_start_date=START)
        self.list_loaded = {t: set(keys) for t, keys in self.loaded_keys().items()}  # all from the lists
        self.check_exact(0)
        self.healthy = self.loaded = True

    @rule(changes=st.lists(CHANGE, min_size=1, max_size=4), then_run=st.sampled_from((True, True, False)),
          per_page=PER_PAGE, honour_sort=st.booleans())
    def changes_then_a_run_between_sweeps(self, changes, then_run, per_page, honour_sort):
        """Changes, and (mostly) a run between sweeps right after them."""
        self.log.append("# changes" + (", run" if then_run else ""))
        self.apply_all(changes)
        if then_run:
            self.run_once(sweep=False, per_page=per_page, honour_sort=honour_sort)

    @rule(changes=st.lists(MISSED, min_size=1, max_size=3), per_page=PER_PAGE)
    def missed_changes_heal_at_the_next_sweep(self, changes, per_page):
        """Changes the feed drops or shows late: a run between sweeps, the late events show up,
        another run, then a sweep, exact."""
        self.log.append("# missed changes, run, late events show, run, sweep")
        self.apply_all(changes)
        self.run_once(sweep=False, per_page=per_page)
        if self.org.release_held_events():
            self.activity_stale = True
        self.run_once(sweep=False, per_page=per_page)
        if not self.run_once(sweep=True, per_page=per_page):
            assert not self.stale

    @rule(changes=st.lists(RECORDED, min_size=1, max_size=3), lag=st.sampled_from((30, 120)), per_page=PER_PAGE,
          sweep=st.booleans())
    def lagging_changes_are_exact_once_they_show(self, changes, lag, per_page, sweep):
        """The feed shows events `lag` seconds late: a run (sweep or not) while they are hidden,
        then one after they show."""
        self.log.append(f"# lag {lag}: changes, run, time passes, run")
        self.sim.feed_lag_seconds = lag
        try:
            self.apply_all(changes)
            self.run_once(sweep=sweep, per_page=per_page)
            self.org.tick(lag + 1)
            self.run_once(sweep=False, per_page=per_page)
        finally:
            self.sim.feed_lag_seconds = 0

    @rule(sweep=st.sampled_from((False, False, True)), per_page=PER_PAGE, concurrency=st.sampled_from((1, 1, 4)),
          honour_sort=st.booleans(), during=st.none() | st.tuples(st.sampled_from(sorted(WALKS)), st.integers(2, 6),
                                                                  RECORDED))
    def run(self, sweep, per_page, concurrency, honour_sort, during):
        """A run, maybe with a change landing in one of its walks: a list walk (the run is then
        a sweep) just before the page holding a record the tables do not have yet, else page N."""
        self.log.append("# run" + (f" with a change mid-walk of {during[0]}" if during else ""))
        faults = ()
        if during is not None:
            walk, page, change = during
            resource, query = WALKS[walk]
            if resource != "activity":
                sweep = True
                page = self.page_holding_an_unloaded_record(walk, per_page, change[1]) or page
            faults = (Fault("mutate", resource=resource, page=page, query=query,
                            action=self.apply_during_run(*change[:2])),)
        self.run_once(sweep=sweep, per_page=per_page, concurrency=concurrency, honour_sort=honour_sort,
                      faults=faults)

    @rule(new=st.sampled_from(("add_oneoff_task", "launch_process")), n=N, per_page=PER_PAGE,
          mover=st.sampled_from(("archive_process", "archive_process", "delete_process", "delete_process",
                                 "unarchive_process")))
    def a_new_record_slides_onto_a_page_already_read(self, new, n, per_page, mover):
        """A task created since the last run, and a change landing in the sweep's tasks walk just
        before the page that holds it, taking tasks off the pages already read (a process
        with a task there archived or deleted): the new task slides onto a page read already.
        Then a quiet run must bring it in."""
        self.log.append(f"# new {new}, {mover} mid tasks walk, quiet run")
        if not self.apply(new, n):
            return
        page = self.page_holding_an_unloaded_record("tasks", per_page, n)
        if page is None:
            return
        read = set(self.walk_order("tasks")[:(page - 1) * per_page])
        pool = self.pool(mover)
        if mover in ("archive_process", "delete_process"):
            hits = [i for i, run in enumerate(pool) if any(
                t["run_id"] == run["id"] and t["id"] in read for t in self.org.values("tasks"))]
            n = pick(hits, n) if hits else n
        fault = Fault("mutate", resource="tasks", page=page, query={"archived": None},
                      action=self.apply_during_run(mover, n))
        if self.run_once(sweep=True, per_page=per_page, faults=(fault,)):
            self.run_once(sweep=False, per_page=per_page)

    @rule(first=RECORDED, second=RECORDED, per_page=PER_PAGE)
    def change_between_the_feed_read_and_a_single_read(self, first, second, per_page):
        """A change the feed names, then another landing just before the run asks for the first
        one's record by itself; then a quiet run heals."""
        self.log.append("# change, another before its single read, quiet run")
        changed = self.apply(*first)
        if not changed:
            return
        resource = {"template": "checklists", "process": "runs", "task": "tasks"}[changed[0][0]]
        fault = Fault("mutate", item=True, resource=resource, action=self.apply_during_run(*second[:2]))
        if self.run_once(sweep=False, per_page=per_page, faults=(fault,)):
            self.run_once(sweep=False, per_page=per_page)


WorkflowOrg.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=6, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_workflow_promises_hold_while_the_org_changes = WorkflowOrg.TestCase


# ------------------------------------------------------------------ hand sequences
@pytest.fixture
def machine():
    m = WorkflowOrg()
    m.first_load("too")
    yield m
    m.healthy = False  # each hand sequence checks its own end
    m.teardown()


def first_open_task(org, run_task=True):
    return next(t for t in org.values("tasks") if t["status"] != "completed" and bool(t["run_id"]) == run_task
                and t["archived_at"] is None)


def test_a_task_completed_between_two_pages_of_the_tasks_walk_is_exact_after_a_quiet_run(machine):
    task = first_open_task(machine.org)
    fault = change_between("tasks", 2, lambda: machine.org.complete_task(task["id"]))
    assert machine.run_once(sweep=True, per_page=3, faults=(fault,))
    machine.run_once(sweep=False, per_page=3)  # quiet: exact for every unit
    machine.check_exact(0)


def test_every_change_kind_the_feed_records_is_exact_after_one_run_between_sweeps(machine):
    for kind in KINDS:
        assert [machine.apply(kind, n) for n in (0, 1)] != [None, None] or kind == "unarchive_template"
    assert not machine.run_once(sweep=False, per_page=3)  # quiet: invariant 3, every unit but...
    assert machine.stale and {kind for kind, _ in machine.stale} == {"process"}  # ...a deleted template's processes
    machine.run_once(sweep=True, per_page=3)  # which the sweep relabels
    assert not machine.stale


def test_every_change_kind_the_feed_missed_heals_at_the_next_sweep(machine):
    for kind in KINDS:
        machine.apply(kind, 1, "dropped")
        machine.apply(kind, 2, "held")
    machine.run_once(sweep=False, per_page=5)
    assert machine.org.release_held_events()  # the late events show up, behind newer ones
    machine.activity_stale = True
    machine.run_once(sweep=False, per_page=5)
    machine.run_once(sweep=True, per_page=5)  # invariant 2: all exact, the activity table too
    assert not machine.stale


def test_a_record_created_since_the_last_run_that_slides_onto_a_page_read_is_loaded_by_the_next_quiet_run(machine):
    machine.a_new_record_slides_onto_a_page_already_read("add_oneoff_task", 1, 3, "archive_process")
    machine.check_exact(0)


def test_a_change_before_the_single_read_is_exact_after_the_next_quiet_run(machine):
    machine.change_between_the_feed_read_and_a_single_read(("complete_task", 0, "recorded"),
                                                           ("complete_task", 1, "recorded"), 5)
    machine.check_exact(0)


def test_lagging_changes_are_exact_on_the_first_run_after_they_show(machine):
    changes = [(kind, 3, "recorded") for kind in ("complete_task", "comment_on_task", "launch_process",
                                                  "edit_template", "add_oneoff_task")]
    machine.lagging_changes_are_exact_once_they_show(changes, 120, 3, False)
    machine.check_exact(0)
