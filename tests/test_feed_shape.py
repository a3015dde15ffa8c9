"""The simulator answers in the documented shapes by default (issue 16): the activity feed as
the response example of the API reference page "Get activity feed for a process"
(tallyfy/documentation, code-samples/processes/get-process-activity.mdx) types each field, and
the update time as each endpoint's page spells it. The field table below is written down from
that page once, as this project's fixture; the simulator is held to it."""

import pytest
import requests

from tallyfy_source.simulator import Simulator, SyntheticOrg

#: field -> JSON type(s) in the documented response example (None: null allowed)
DOCUMENTED_EVENT = {
    "id": (int,), "organization_id": (str,), "verb": (list,), "source": (list,), "actor_type": (list,),
    "actor_id": (list,), "actor": (list,), "auditable_type": (str,), "auditable_id": (str,),
    "parentable_type": (str, type(None)), "parentable_id": (str, type(None)), "type": (list,),
    "description": (list,), "field": (list, type(None)), "old_value": (list, type(None)),
    "text": (list, type(None)), "references": (list, type(None)), "created_at": (str,), "undoable": (bool,),
}
ACTOR_KEYS = {"email", "username", "first_name", "last_name", "full_name", "profile_pic", "resize_profile_pic"}
#: the update time's name on each endpoint's documentation page
UPDATE_TIME = {"users": "updated_at", "groups": "last_updated", "checklists": "last_updated", "runs": "last_updated",
               "tasks": "last_updated"}


@pytest.fixture(scope="module")
def served():
    org = SyntheticOrg.generate("feed0000" * 4, seed=4, members=10, groups=3, tags=6, guests=3, templates=3,
                                processes=6, oneoff_tasks=3)
    with Simulator(org, token="tok") as sim:
        yield org, sim


def get(sim, org, path, **params):
    response = requests.get(f"{sim.base_url}/organizations/{org.org_id}/{path}", params=params,
                            headers={**sim.headers(), "X-Tallyfy-Client": "TallyfySDK"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_every_event_has_the_documented_fields_and_types(served):
    org, sim = served
    events = get(sim, org, "activity-feeds", per_page=100)
    assert events
    for event in events:
        assert set(event) == set(DOCUMENTED_EVENT), set(event) ^ set(DOCUMENTED_EVENT)
        for field, types in DOCUMENTED_EVENT.items():
            assert isinstance(event[field], types), (field, event[field])
        assert event["auditable_type"].startswith("App\\Models\\")
        assert all(isinstance(i, int) for i in event["actor_id"])
        assert all(t.startswith("App\\Models\\") for t in event["actor_type"])
        assert all(set(a) == ACTOR_KEYS for a in event["actor"])
        assert event["organization_id"] == org.org_id


def test_the_feed_filters_take_bare_words_against_the_documented_form(served):
    org, sim = served
    tasks = get(sim, org, "activity-feeds", per_page=100, type="Task")
    runs = get(sim, org, "activity-feeds", per_page=100, entity_type="run")
    assert tasks and all(e["type"] == ["Task"] for e in tasks)
    assert runs and all(e["auditable_type"] == "App\\Models\\Run" for e in runs)


@pytest.mark.parametrize("path, field", list(UPDATE_TIME.items()))
def test_the_update_time_is_spelled_as_each_page_documents_it(served, path, field):
    org, sim = served
    rows = get(sim, org, path, per_page=5)
    other = "updated_at" if field == "last_updated" else "last_updated"
    assert rows and all(field in r and other not in r for r in rows)


def test_the_bare_form_and_an_offset_are_switches(served):
    org, sim = served
    sim.feed_shape, sim.feed_offset = "bare", "+05:30"
    try:
        event = get(sim, org, "activity-feeds", per_page=1)[0]
    finally:
        sim.feed_shape, sim.feed_offset = "documented", None
    assert isinstance(event["verb"], str) and "\\" not in event["auditable_type"]
    assert event["created_at"].endswith("+05:30")
