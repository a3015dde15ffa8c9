"""Stored state written by the code before the two-wings move (commit 1a43326) is read by today's
code without migration (issue 17): the per-org cursors, sweep times, kick-off labels and feed
positions keep their keys. The fixture is that commit's resource state after one full load of
this seeded org (`tests/fixtures/resource_state_1a43326.json`, written by running 1a43326's
source against its simulator; the seeded org has the same records in both versions)."""

import json
from pathlib import Path

from tallyfy_source.simulator import Simulator, SyntheticOrg
from tests.conftest import TOKEN, Loader
from tests.workflow.test_workflow import assert_activity_equals_simulator, assert_workflow_equals_simulator

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "resource_state_1a43326.json"
ORG = "5a7e" * 8
EVERY = ["members", "groups", "tags", "guests", "templates", "processes", "tasks", "activity"]


#: maps whose keys are data (record ids, template ids), not layout
DATA_KEYED = ("digests", "labels", "suspects")


def layout(value, name=None):
    """The keys of a stored state, all the way down (values and data-keyed maps left out)."""
    if name in DATA_KEYED:
        return type(value).__name__
    return {k: layout(v, k) for k, v in value.items()} if isinstance(value, dict) else None


def test_a_state_written_before_the_move_is_read_and_kept_in_its_layout(tmp_path):
    old = json.loads(FIXTURE.read_text())
    org = SyntheticOrg.generate(ORG, seed=5, members=12, groups=3, tags=6, guests=3, templates=3, processes=6,
                                oneoff_tasks=3)
    with Simulator(orgs=[org], token=TOKEN) as sim:
        loader = Loader(sim, tmp_path)
        loader.run(resources=EVERY, activity_start_date="2025-01-01")  # the tables the old load left
        pipeline = loader.pipeline()
        with pipeline.managed_state() as state:  # ... and the state it stored
            state["sources"]["tallyfy"]["resources"] = json.loads(FIXTURE.read_text())
        task = next(t for t in org.values("tasks") if t["run_id"] and t["status"] != "completed"
                    and t["archived_at"] is None)
        org.complete_task(task["id"])
        org.edit_template(org.values("checklists")[0]["id"], title="Renamed after the move")
        org.add_oneoff_task("Filed after the move")
        org.update_member(org.values("members")[0]["id"], job_title="Changed after the move")
        sim.reset_counts()
        loader.run(resources=EVERY, sweep_interval_hours=8760)
        modes = {r.resource: r.mode for r in loader.reports}
        stored = loader.pipeline().state["sources"]["tallyfy"]["resources"]
        # the old feed positions and sweep times were read: every workflow kind between sweeps,
        # the activity table from its stored newest event, no workflow list walked
        assert {modes[k] for k in ("templates", "processes", "tasks")} == {"incremental (activity feed)"}
        assert modes["activity"] == "new events (newest first)"
        assert sum(sim.request_count(resource=r, kind="list") for r in ("checklists", "runs", "tasks")) == 0
        assert_workflow_equals_simulator(loader, org)
        assert_activity_equals_simulator(loader, org, start="2025-01-01")
    assert layout(stored) == layout(old)
    assert stored["processes"]["orgs"][ORG]["labels"] == old["processes"]["orgs"][ORG]["labels"]
    assert stored["processes"]["orgs"][ORG]["feed"]["id"] > old["processes"]["orgs"][ORG]["feed"]["id"]
