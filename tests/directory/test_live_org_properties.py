"""Property: whatever the org does between (and during) runs, the README's promises hold.

A hypothesis state machine interleaves random org changes (updates, inserts, deletes,
same-second edits, null, unreadable and far-future update times), changes scheduled to land
between two page requests of the next run, and runs with random page sizes, concurrency,
sweeps and a server that honours or ignores `sort`. After EVERY run it checks:
- never a live record deleted: a record in the table before the run that still exists
  upstream is in the table after it;
- a run during which the org did not change leaves the tables exact: all of them after a
  sweep; without a sweep, tags and guests exact, and every member and group with a readable
  update time present and equal (deletions of members and groups wait for the next sweep, and
  so do edits of records without a readable update time);
- a run during which the org changed is healed by the next quiet run (the same checks).

`make test` runs a few examples; TALLYFY_PROPERTY_EXAMPLES=200 runs more.
"""

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from tallyfy_source.simulator import FaultPlan, Simulator, SyntheticOrg, change_between
from tallyfy_source.simulator.org import KEY_FIELD, parse_ts
from tests.conftest import TOKEN, Loader
from tests.expected import assert_rows_match
from tests.directory.test_full_load import (
    assert_tables_equal_simulator,
    expected_groups,
    expected_members,
)

EXAMPLES = int(os.environ.get("TALLYFY_PROPERTY_EXAMPLES", "6"))
RESOURCES = ("members", "groups", "tags", "guests")
TIMED = ("members", "groups")
HOW = ("plain", "same_second", "no_time", "unreadable", "future")


def readable(value) -> bool:
    if value is None:
        return False
    try:
        parse_ts(value)
        return True
    except ValueError:
        return False


class LiveOrg(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="tallyfy-prop-"))
        self.org = SyntheticOrg.generate("feedfacefeedfacefeedfacefeedface", seed=11,
                                         members=25, groups=10, tags=12, guests=8)
        self.sim = Simulator(orgs=[self.org], token=TOKEN).start()
        self.loader = Loader(self.sim, self.folder)
        self.pending = []
        self.edits = 0

    def teardown(self):
        self.sim.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    # ------------------------------------------------------------------ the org changes
    def keys(self, resource):
        return [r[KEY_FIELD[resource]] for r in self.org.records(resource)]

    def pick(self, resource, n):
        keys = self.keys(resource)
        return keys[n % len(keys)] if keys else None

    def edit(self, resource, n, how):
        key = self.pick(resource, n)
        if key is None:
            return
        self.edits += 1
        change = {"members": {"job_title": f"Edit {self.edits}"}, "groups": {"description": f"Edit {self.edits}"},
                  "tags": {"color": "#%06x" % self.edits}, "guests": {"first_name": f"Edit{self.edits}"}}[resource]
        if resource in TIMED and how != "plain":
            change["updated_at"] = {"same_second": self.org.now_str(), "no_time": None,
                                    "unreadable": "not a time", "future": "2099-01-01T00:00:00Z"}[how]
        getattr(self.org, f"update_{resource[:-1]}")(key, **change)

    def insert(self, resource):
        getattr(self.org, f"add_{resource[:-1]}")()

    def delete(self, resource, n):
        if len(self.keys(resource)) > 3:
            getattr(self.org, f"delete_{resource[:-1]}")(self.pick(resource, n))

    def apply(self, what, resource, n, how="plain"):
        {"edit": lambda: self.edit(resource, n, how), "insert": lambda: self.insert(resource),
         "delete": lambda: self.delete(resource, n)}[what]()

    @rule(resource=st.sampled_from(RESOURCES), n=st.integers(0, 10**6), how=st.sampled_from(HOW))
    def edit_between_runs(self, resource, n, how):
        self.edit(resource, n, how)

    @rule(resource=st.sampled_from(RESOURCES))
    def insert_between_runs(self, resource):
        self.insert(resource)

    @rule(resource=st.sampled_from(RESOURCES), n=st.integers(0, 10**6))
    def delete_between_runs(self, resource, n):
        self.delete(resource, n)

    @rule(resource=st.sampled_from(RESOURCES), page=st.integers(2, 4), n=st.integers(0, 10**6),
          what=st.sampled_from(("edit", "insert", "delete")), how=st.sampled_from(HOW))
    def change_during_the_next_run(self, resource, page, n, what, how):
        self.pending.append(change_between(resource, page, lambda: self.apply(what, resource, n, how)))

    # ------------------------------------------------------------------ a run and its promises
    @initialize()
    def first_load(self):
        self.loader.run(per_page=5)
        assert_tables_equal_simulator(self.loader, self.org)

    @rule(per_page=st.sampled_from((3, 5, 10)), concurrency=st.sampled_from((1, 4)), sweep=st.booleans(),
          honour_sort=st.booleans())
    def run(self, per_page, concurrency, sweep, honour_sort):
        before = {r: self.table_keys(r) for r in RESOURCES}
        upstream_before = {r: set(map(str, self.keys(r))) for r in RESOURCES}
        plan = FaultPlan(self.pending)
        self.pending = []
        self.sim.faults, self.sim.honour_sort = plan, honour_sort
        self.loader.run(per_page=per_page, concurrency=concurrency, sweep_interval_hours=0 if sweep else 24)
        self.sim.faults, self.sim.honour_sort = None, True
        assert not [r.error for r in self.loader.reports if r.error]
        for resource in RESOURCES:
            live = upstream_before[resource] & set(map(str, self.keys(resource)))
            lost = (before[resource] & live) - self.table_keys(resource)
            assert not lost, f"{resource}: live records deleted: {sorted(lost)}"
        if not plan.fired:
            self.check_quiet_run(sweep)

    def table_keys(self, resource):
        return {str(k) for (k,) in self.loader.rows(f"SELECT {KEY_FIELD[resource]} FROM tallyfy.{resource}")}

    def check_quiet_run(self, swept):
        if swept:
            assert_tables_equal_simulator(self.loader, self.org)
            return
        assert_tables_equal_simulator(self.loader, self.org, resources=("tags", "guests"))
        for resource, expected in (("members", expected_members), ("groups", expected_groups)):
            timed = {str(r[KEY_FIELD[resource]]) for r in self.org.records(resource) if readable(r.get("updated_at"))}
            table = [row for row in self.loader.table(resource) if str(row[KEY_FIELD[resource]]) in timed]
            want = [row for row in expected(self.org) if str(row[KEY_FIELD[resource]]) in timed]
            assert_rows_match(table, want, ("org_id", KEY_FIELD[resource]))


LiveOrg.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=10, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_the_readme_promises_hold_while_the_org_changes = LiveOrg.TestCase
