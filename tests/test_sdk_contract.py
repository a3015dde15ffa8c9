"""Tallyfy's own Python SDK (PyPI `tallyfy`, a client no one on this project wrote) reads the
simulator without an error: the simulator serves what Tallyfy's client expects, not only what
our connector reads (issue 16). The SDK sends `X-Tallyfy-Client: TallyfySDK` and talks to the
base URL without `/api`; both are served.

Read methods the simulator does not serve yet (listed in the README's Simulator section):
`get_organization_users_list` / `get_organization_guests_list` (`users-list`, `guests-list`),
`get_task` / `get_task_comments` (`runs/{run}/tasks/{task}`), `get_template` /
`get_template_with_steps` (the single template's `prerun` shape), `get_template_steps` and
`get_kickoff_form_fields` (`checklists/{id}/steps`)."""

import pytest
from tallyfy import TallyfySDK

from tallyfy_source.simulator import Simulator, SyntheticOrg

ORG = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


@pytest.fixture(scope="module")
def served():
    org = SyntheticOrg.generate(ORG, seed=5, members=12, groups=4, tags=10, guests=5, templates=3, processes=6,
                                oneoff_tasks=3)
    with Simulator(orgs=[org], token="sdk-token") as sim:
        base = sim.base_url[:-len("/api")] if sim.base_url.endswith("/api") else sim.base_url
        yield org, sim, TallyfySDK(api_key="sdk-token", base_url=base, max_retries=0)


def _size(result):
    """How many records a read returned (1 for a single record)."""
    if isinstance(result, list):
        return len(result)
    if not type(result).__name__.endswith("List"):  # one record
        return 1
    lists = [v for v in vars(result).values() if isinstance(v, list)]
    return len(lists[0]) if lists else 0


READS = {
    "get_current_user_organizations": lambda sdk, ctx: sdk.get_current_user_organizations(),
    "get_user": lambda sdk, ctx: sdk.get_user(ORG, ctx["member"]),
    "get_organization_users": lambda sdk, ctx: sdk.get_organization_users(ORG, with_groups=True),
    "get_organization_guests": lambda sdk, ctx: sdk.get_organization_guests(ORG, with_stats=True),
    "get_groups": lambda sdk, ctx: sdk.get_groups(ORG),
    "get_group": lambda sdk, ctx: sdk.get_group(ORG, ctx["group"]),
    "get_tags": lambda sdk, ctx: sdk.get_tags(ORG),
    "get_tag": lambda sdk, ctx: sdk.get_tag(ORG, ctx["tag"]),
    "get_guest": lambda sdk, ctx: sdk.get_guest(ORG, ctx["guest"]),
    "get_organization_runs": lambda sdk, ctx: sdk.get_organization_runs(ORG),
    "get_process": lambda sdk, ctx: sdk.get_process(ORG, ctx["run"]),
    "get_tasks_for_process": lambda sdk, ctx: sdk.get_tasks_for_process(ORG, process_id=ctx["run"]),
    "get_standalone_task": lambda sdk, ctx: sdk.get_standalone_task(ORG, ctx["oneoff"]),
    "get_all_templates": lambda sdk, ctx: sdk.get_all_templates(ORG),
}


@pytest.mark.parametrize("method", list(READS))
def test_the_official_sdk_reads_the_simulator(served, method):
    org, sim, sdk = served
    run = org.values("runs")[0]["id"]
    ctx = {"member": org.values("members")[0]["id"], "group": org.values("groups")[0]["id"],
           "tag": org.values("tags")[0]["id"], "guest": org.values("guests")[0]["email"], "run": run,
           "oneoff": next(t["id"] for t in org.values("tasks") if t["run_id"] is None)}
    before = len(sim.requests)
    result = READS[method](sdk, ctx)
    assert result is not None and _size(result) > 0
    asked = sim.requests[before:]
    assert asked and all(r["status"] == 200 for r in asked)
    assert {r["headers"]["X-Tallyfy-Client"] for r in asked} == {"TallyfySDK"}


def test_the_sdk_parses_a_process_and_its_tasks_as_served(served):
    org, _, sdk = served
    run = org.values("runs")[0]
    process = sdk.get_process(ORG, run["id"])
    assert process.id == run["id"] and process.name == run["name"]
    tasks = sdk.get_tasks_for_process(ORG, process_id=run["id"])
    assert sorted(t.id for t in tasks.data) == sorted(t["id"] for t in org._tasks_of(run["id"]))
