"""The simulator serves what Tallyfy's documentation shows (`tests/simulator/documented_shapes.py`: field
names and JSON types per endpoint, each from its doc page's response example), by default, and
each documented variant under its switch."""

import pytest
import requests

from tallyfy_source.simulator import Simulator, SyntheticOrg, parse_ts
from tests.simulator.documented_shapes import (ABSENT, ACTOR_KEYS, ELEMENTS, GUEST_DETAIL_KEYS, GUEST_STATS_KEYS, N,
                                     SHAPES)

JSON = {"int": int, "str": str, "bool": bool, "list": list, "dict": dict, N: type(None)}


@pytest.fixture(scope="module")
def org():
    return SyntheticOrg.generate(seed=11, members=30, groups=8, tags=20, guests=8, templates=6, processes=30,
                                 oneoff_tasks=8)


@pytest.fixture
def sim(org):
    with Simulator(org, token="sim-token-contract") as s:
        yield s


def _requests(org):
    """route key -> (path, query) of a request that shows it."""
    with org.lock:
        task = next(t for t in org.values("tasks") if t["run_id"])
        member = next(iter(org.values("members")))
        tagged = next(k[1] for k in org.tag_links if k[0] == "checklists")
        return {
            "users": ("users", ""), "users/{id}": (f"users/{member['id']}", "with=stats,groups"),
            "groups": ("groups", ""), "groups/{id}": (f"groups/{next(iter(org.values('groups')))['id']}", ""),
            "tags": ("tags", "with=statistics&all=true"),
            "tags/{id}": (f"tags/{next(iter(org.values('tags')))['id']}", "with=statistics"),
            "guests": ("guests", "with=stats"), "guests/{email}": (f"guests/{next(iter(org.values('guests')))['email']}", ""),
            "checklists": ("checklists", "per_page=100"),
            "checklists/{id}": (f"checklists/{tagged}", "with=steps,tags"),
            "runs": ("runs", "per_page=100"), "runs/{id}": (f"runs/{task['run_id']}", "with=checklist,tasks,tags"),
            "tasks": ("tasks", "per_page=100"), "runs/{id}/tasks": (f"runs/{task['run_id']}/tasks", "with=step"),
            "tasks/{id}": (f"tasks/{task['id']}", "with=form_fields,run,step"),
            "activity-feeds": ("activity-feeds", "per_page=100&with=audit,parent"),
        }


def served(sim, org, key):
    path, query = _requests(org)[key]
    r = requests.get(f"{sim.base_url}/organizations/{org.org_id}/{path}?{query}", headers=sim.headers(), timeout=10)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    return data if isinstance(data, list) else [data]


def _types(value):
    return tuple(JSON[t] for t in ((value,) if isinstance(value, str) else value))


def _at(rec, dotted):
    for part in dotted.split("."):
        rec = rec[part]
    return rec


@pytest.mark.parametrize("key", list(SHAPES))
def test_every_documented_field_is_served_with_its_documented_type(sim, org, key):
    page, fields = SHAPES[key]
    rows = served(sim, org, key)
    assert rows, f"{key}: nothing served"
    for rec in rows:
        for name, types in fields.items():
            assert name in rec, f"{key} ({page}): no {name}"
            ok = _types(types)
            assert isinstance(rec[name], ok) and not (bool not in ok and isinstance(rec[name], bool)), (
                f"{key} ({page}): {name} = {rec[name]!r}, documented {types}")
        assert not ABSENT.get(key, set()) & set(rec), f"{key} ({page}) carries {ABSENT[key] & set(rec)}"
    for (k, dotted), kind in ELEMENTS.items():
        if k == key:
            elements = [e for rec in rows for e in _at(rec, dotted)]
            assert elements and all(type(e) is JSON[kind] for e in elements), (key, dotted)


def test_nested_objects_carry_the_documented_keys(sim, org):
    assert all(set(g["details"]) == GUEST_DETAIL_KEYS for g in served(sim, org, "guests"))
    assert all(set(g["stats"]) == GUEST_STATS_KEYS for g in served(sim, org, "guests"))  # bare
    feed = served(sim, org, "activity-feeds")
    assert all(set(a) == ACTOR_KEYS for e in feed for a in e["actor"])
    classes = {e["auditable_type"] for e in feed} | {t for e in feed for t in e["actor_type"]}
    assert {"App\\Models\\Task", "App\\Models\\Run", "App\\Models\\Checklist", "App\\Models\\User"} <= classes
    assert all(set(e["audit"]) == {"data"} and set(e["parent"]) == {"data"} for e in feed)
    assert all(set(t["owners"]["users"][0]) == {"id", "full_name"} for t in served(sim, org, "tasks")
               if t["owners"]["users"])
    tmpl = served(sim, org, "checklists/{id}")[0]
    assert all(set(t) == {"id", "title", "color"} for t in tmpl["tags"])
    assert all(f["checklist_id"] == tmpl["id"] for f in tmpl["prerun"])
    assert all(isinstance(s["captures"], list) for s in tmpl["steps"])  # the bare list the SDK parses
    run = served(sim, org, "runs/{id}")[0]
    assert set(run["tasks"]) == {"data"} and set(run["tags"]) == {"data"}
    task = served(sim, org, "tasks/{id}")[0]
    assert all(set(task[k]) == {"data"} for k in ("form_fields", "run", "step"))
    assert all("data" not in t["step"] for t in served(sim, org, "runs/{id}/tasks"))  # bare on that page


def test_feed_without_includes_has_no_audit_or_parent(sim, org):
    r = requests.get(f"{sim.base_url}/organizations/{org.org_id}/activity-feeds", headers=sim.headers(), timeout=10)
    assert all("audit" not in e and "parent" not in e for e in r.json()["data"])


# ------------------------------------------------------------------ variants
VARIANTS = [
    ("update_field_name", "updated_at", "checklists", lambda r: "updated_at" in r and "last_updated" not in r),
    ("update_field_name", "last_updated", "users", lambda r: "last_updated" in r and "updated_at" not in r),
    ("task_owners", "ids", "tasks", lambda r: all(isinstance(u, int) for u in r["owners"]["users"])),
    ("task_owners", "objects", "tasks/{id}", lambda r: all(isinstance(u, dict) for u in r["owners"]["users"])),
    ("template_owner_ids", "int", "checklists", lambda r: isinstance(r["owner_id"], int)),
    ("template_owner_ids", "str", "checklists/{id}", lambda r: isinstance(r["created_by"], str)),
    ("group_member_ids", "int", "groups/{id}", lambda r: all(isinstance(m, int) for m in r["members"])),
    ("group_member_ids", "str", "groups", lambda r: all(isinstance(m, str) for m in r["members"])),
    ("include_wrapping", "wrapped", "checklists/{id}", lambda r: isinstance(r["steps"], dict)
     and all(isinstance(s["captures"], dict) for s in r["steps"]["data"])),
    ("include_wrapping", "bare", "tasks/{id}", lambda r: isinstance(r["form_fields"], list)),
    ("include_wrapping", "wrapped", "guests", lambda r: set(r["stats"]) == {"data"}),
    ("template_tags", "links", "checklists/{id}", lambda r: r["tags"] and all("tag_id" in t for t in r["tags"])),
    ("template_list_archived_at", True, "checklists", lambda r: "archived_at" in r),
    ("feed_shape", "bare", "activity-feeds", lambda r: isinstance(r["verb"], str)
     and r["auditable_type"] in ("Task", "Run", "Checklist", "Thread")),
    ("feed_offset", "+05:30", "activity-feeds", lambda r: r["created_at"].endswith("+05:30")),
]


@pytest.mark.parametrize("switch,value,key,check", VARIANTS, ids=[f"{v[0]}={v[1]}:{v[2]}" for v in VARIANTS])
def test_each_variant_serves_its_form(sim, org, switch, value, key, check):
    assert not all(check(r) for r in served(sim, org, key)) or switch == "task_owners"
    setattr(sim, switch, value)
    rows = served(sim, org, key)
    assert rows and all(check(r) for r in rows)


def test_offset_timestamps_are_the_same_instants(sim, org):
    utc = served(sim, org, "activity-feeds")
    sim.feed_offset = "+05:30"
    shifted = served(sim, org, "activity-feeds")
    assert [parse_ts(e["created_at"]) for e in shifted] == [parse_ts(e["created_at"]) for e in utc]
    assert all(e["created_at"].endswith("Z") for e in utc)


def test_the_oracle_serves_what_the_server_serves_under_each_variant(sim, org):
    for switch, value, _, _ in VARIANTS:
        setattr(sim, switch, value)
        for resource, path in (("tasks", "tasks"), ("activity", "activity-feeds"), ("checklists", "checklists")):
            r = requests.get(f"{sim.base_url}/organizations/{org.org_id}/{path}?per_page=100",
                             headers=sim.headers(), timeout=10)
            assert r.json()["data"] == org.served(resource, **{switch: value})[:100], (switch, resource)
        setattr(sim, switch, getattr(Simulator(org), switch))


@pytest.mark.parametrize("word,kind", [("user", "App\\Models\\User")])
def test_feed_filters_take_bare_words(sim, org, word, kind):
    base = f"{sim.base_url}/organizations/{org.org_id}/activity-feeds?per_page=100"
    for query, check in ((f"actor_type={word}", lambda e: e["actor_type"] == [kind]),
                         ("type=Task", lambda e: e["type"] == ["Task"]),
                         ("entity_type=run", lambda e: e["auditable_type"] == "App\\Models\\Run"),
                         ("verb=completed", lambda e: e["verb"] == ["completed"])):
        rows = requests.get(f"{base}&{query}", headers=sim.headers(), timeout=10).json()["data"]
        assert rows and all(check(e) for e in rows), query


#: the update time's name on each endpoint's documentation page
UPDATE_TIME = {"users": "updated_at", "groups": "last_updated", "checklists": "last_updated", "runs": "last_updated",
               "tasks": "last_updated"}


@pytest.mark.parametrize("key, field", list(UPDATE_TIME.items()))
def test_the_update_time_carries_only_its_documented_name(sim, org, key, field):
    other = "updated_at" if field == "last_updated" else "last_updated"
    rows = served(sim, org, key)
    assert rows and all(field in r and other not in r for r in rows)


def test_the_documented_feed_without_includes_is_the_response_example_minus_them(sim, org):
    """Asked without `with=`, an event has every field of the example but `audit`/`parent`."""
    events = requests.get(f"{sim.base_url}/organizations/{org.org_id}/activity-feeds?per_page=100",
                          headers={**sim.headers(), "X-Tallyfy-Client": "TallyfySDK"}, timeout=10).json()["data"]
    expected = set(SHAPES["activity-feeds"][1]) - {"audit", "parent"}
    assert events and all(set(e) == expected for e in events)
    assert all(e["organization_id"] == org.org_id for e in events)
