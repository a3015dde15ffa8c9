"""The Tallyfy API simulator, exercised over real HTTP with `requests` (no mocks)."""

import math
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tallyfy_source.endpoints import ENDPOINTS, MAX_PER_PAGE
from tallyfy_source.simulator import Fault, FaultPlan, Simulator, SyntheticOrg, parse_ts
from tallyfy_source.simulator.org import BASE_NOW, TS_STYLES, ts_style

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def org():
    return SyntheticOrg.generate(seed=7)


@pytest.fixture(scope="module")
def sim(org):
    with Simulator(org, token="sim-token-test") as s:
        yield s


@pytest.fixture
def fresh():
    """A small org and its own simulator, for tests that mutate or change settings."""
    o = SyntheticOrg.generate(members=40, groups=12, tags=30, guests=10, seed=3)
    with Simulator(o, token="sim-token-fresh") as s:
        yield s, o


def get(sim, org_id, resource_path, raw_query="", headers=None, **kw):
    url = f"{sim.base_url}/organizations/{org_id}/{resource_path}"
    if raw_query:
        url += "?" + raw_query
    return requests.get(url, headers=sim.headers() if headers is None else headers, timeout=10, **kw)


def all_rows(sim, org_id, path, raw_query=""):
    rows, page = [], 1
    while True:
        q = f"per_page=100&page={page}" + (f"&{raw_query}" if raw_query else "")
        body = get(sim, org_id, path, q).json()
        rows += body["data"]
        if body["meta"]["pagination"]["links"] == []:
            return rows
        page += 1


# ------------------------------------------------------------------ synthetic data
def test_generate_is_deterministic():
    a = SyntheticOrg.generate(seed=11, members=50, groups=10, tags=20, guests=5)
    b = SyntheticOrg.generate(seed=11, members=50, groups=10, tags=20, guests=5)
    c = SyntheticOrg.generate(seed=12, members=50, groups=10, tags=20, guests=5)
    assert a == b and a.snapshot() == b.snapshot()
    assert a != c
    assert re.fullmatch(r"[0-9a-f]{32}", a.org_id) and a.org_id != c.org_id
    assert SyntheticOrg.generate("my-org", members=3, groups=1, tags=1, guests=1).org_id == "my-org"


def test_generated_shapes(org):
    members, groups, tags, guests = org.members, org.groups, org.tags, org.guests
    assert (len(members), len(groups), len(tags), len(guests)) == (300, 30, 200, 60)
    assert len({m["id"] for m in members}) == 300 and all(isinstance(m["id"], int) for m in members)
    assert len({m["email"] for m in members}) == 300
    assert {m["status"] for m in members} == {"active", "invited", "disabled"}
    assert all(m["last_login_at"] is None for m in members if m["status"] == "invited")
    assert all((m["disabled_at"] is not None) == (m["status"] == "disabled") for m in members)
    assert any(m["role"][0].isupper() for m in members)
    assert all(re.fullmatch(r"[0-9a-f]{32}", g["id"]) for g in groups + tags)
    assert len({g["name"] for g in groups}) == len(groups)
    assert any(not g["members"] for g in groups) or min(len(g["members"]) for g in groups) <= 2
    member_ids = {m["id"] for m in members}
    assert all(set(g["members"]) <= member_ids for g in groups)
    assert len({t["title"] for t in tags}) == 200 and all(len(t["title"]) <= 30 for t in tags)
    auto = [t for t in tags if t["auto_generated"]]
    assert 10 <= len(auto) <= 60
    assert all(re.match(r"(from|task|step):", t["title"]) for t in auto)
    assert all(t["color"] is None or re.fullmatch(r"#[0-9a-f]{6}", t["color"]) for t in tags)
    stats = list(org.tag_statistics.values())
    assert any(not any(s.values()) for s in stats)  # many zeros
    assert any(s["archived_process"] and not s["active_process"] for s in stats)  # archived-only
    assert len({g["email"] for g in guests}) == 60 and "status" in guests[0]["details"]
    assert set(org.member_stats) == member_ids and set(org.guest_stats) == {g["email"] for g in guests}


def test_timestamps_mixed_and_ordered(org):
    styles = {ts_style(m["created_at"]) for m in org.members}
    assert styles == set(range(len(TS_STYLES)))
    for rec in org.members + org.groups:
        created, updated = parse_ts(rec["created_at"]), parse_ts(rec["updated_at"])
        assert created <= updated < BASE_NOW == org.now
        assert ts_style(rec["created_at"]) == ts_style(rec["updated_at"])
        assert created.microsecond == 0
    same = sum(m["created_at"] == m["updated_at"] for m in org.members)
    assert 50 < same < 200
    updated = [m["updated_at"] for m in org.members]
    assert len(set(updated)) > 150 and len(set(updated)) < len(updated)  # distinct, with some ties


def test_memberships_per_group_average():
    big = SyntheticOrg.generate(members=300, groups=400, tags=1, guests=1, memberships_per_group=50, seed=1)
    assert 0.85 * 50 * 400 < big.memberships() < 1.1 * 50 * 400


# ------------------------------------------------------------------ envelope and paging
def test_envelope_and_meta(sim, org):
    r = get(sim, org.org_id, "users", "per_page=50&page=2")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"data", "meta"}
    p = body["meta"]["pagination"]
    assert {k: p[k] for k in ("total", "count", "per_page", "current_page", "total_pages")} == {
        "total": 300, "count": 50, "per_page": 50, "current_page": 2, "total_pages": 6}
    assert set(p["links"]) == {"next", "previous"}
    nxt = requests.get(p["links"]["next"], headers=sim.headers(), timeout=10).json()
    assert nxt["meta"]["pagination"]["current_page"] == 3
    assert [m["id"] for m in body["data"]] == [m["id"] for m in org.served("members")[50:100]]
    first = get(sim, org.org_id, "users", "per_page=50").json()["meta"]["pagination"]
    assert first["current_page"] == 1 and set(first["links"]) == {"next"}


def test_links_empty_list_on_last_page_and_past_the_end(sim, org):
    last = get(sim, org.org_id, "users", "per_page=50&page=6").json()
    assert last["meta"]["pagination"]["links"] == [] and len(last["data"]) == 50
    past = get(sim, org.org_id, "users", "per_page=50&page=9").json()
    assert past["data"] == []
    p = past["meta"]["pagination"]
    assert (p["total"], p["count"], p["current_page"], p["total_pages"], p["links"]) == (300, 0, 9, 6, [])
    empty = get(sim, org.org_id, "users", "q=no-such-person-anywhere").json()["meta"]["pagination"]
    assert (empty["total"], empty["count"], empty["total_pages"], empty["links"]) == (0, 0, 1, [])


@pytest.mark.parametrize("resource", list(ENDPOINTS))
def test_default_per_page_per_endpoint(sim, org, resource):
    ep = ENDPOINTS[resource]
    body = get(sim, org.org_id, ep.path, "all=true").json()
    p = body["meta"]["pagination"]
    assert p["per_page"] == ep.server_default_per_page
    assert p["count"] == min(p["total"], ep.server_default_per_page) == len(body["data"])
    assert p["total_pages"] == math.ceil(p["total"] / ep.server_default_per_page)


def test_per_page_capped_at_100(sim, org):
    p = get(sim, org.org_id, "users", "per_page=500").json()["meta"]["pagination"]
    assert (p["per_page"], p["count"], p["total_pages"]) == (MAX_PER_PAGE, 100, 3)


@pytest.mark.parametrize("query,field", [("per_page=0", "per_page"), ("per_page=-3", "per_page"),
                                         ("per_page=abc", "per_page"), ("page=0", "page"),
                                         ("page=x", "page")])
def test_invalid_paging_is_422(sim, org, query, field):
    r = get(sim, org.org_id, "groups", query)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] is True and field in body["errors"]


def test_full_walk_matches_served(sim, org):
    assert all_rows(sim, org.org_id, "users", "with=stats") == org.served("members", include={"stats"})
    assert all_rows(sim, org.org_id, "tags") == org.served("tags", all_tags=False)
    assert all_rows(sim, org.org_id, "tags", "all=true") == org.served("tags")


def test_total_pages_quirk(fresh):
    s, o = fresh
    s.total_pages_from_default = True
    p = get(s, o.org_id, "users", "per_page=10").json()["meta"]["pagination"]
    assert p["total_pages"] == 1 and p["total"] == 40 and "next" in p["links"]


# ------------------------------------------------------------------ query parsing and search
def test_plus_is_not_a_space(sim, org):
    target = next(m for m in org.members if " " in m["last_name"])
    words = target["last_name"].split(" ")
    needle = " ".join(words[:2]).lower()
    expected = {m["id"] for m in org.members
                if any(needle in (m[f] or "").lower() for f in ("first_name", "last_name", "email"))}
    raw = needle.replace(" ", "%20")
    got = {m["id"] for m in all_rows(sim, org.org_id, "users", f"q={raw}")}
    assert got == expected and target["id"] in got
    plus = get(sim, org.org_id, "users", "q=" + needle.replace(" ", "+")).json()
    assert plus["data"] == [] and plus["meta"]["pagination"]["total"] == 0
    # `requests` encodes spaces as '+': the simulator, like Tallyfy, reads them literally
    via_requests = requests.get(f"{sim.base_url}/organizations/{org.org_id}/users", params={"q": needle},
                                headers=sim.headers(), timeout=10).json()
    assert via_requests["meta"]["pagination"]["total"] == 0
    assert sim.requests[-1]["query"]["q"] == needle.replace(" ", "+")


def test_search_is_case_insensitive_per_endpoint(sim, org):
    group = next(g for g in org.groups if " " in g["name"])
    rows = all_rows(sim, org.org_id, "groups", "q=" + group["name"].upper().replace(" ", "%20"))
    assert group["id"] in {g["id"] for g in rows}
    tag = org.tags[0]
    assert tag["id"] in {t["id"] for t in all_rows(sim, org.org_id, "tags",
                                                   "all=true&q=" + tag["title"].lower().replace(" ", "%20"))}
    guest = org.guests[0]
    assert [g["email"] for g in all_rows(sim, org.org_id, "guests", "q=" + guest["email"].upper())] == [
        guest["email"]]


# ------------------------------------------------------------------ sorting
def _times(rows, field="updated_at"):
    return [parse_ts(r[field]) for r in rows]


@pytest.mark.parametrize("path,param", [("users", "sort"), ("groups", "sort_by"), ("groups", "sort")])
@pytest.mark.parametrize("field", ["updated_at", "last_updated"])
def test_sort_update_time_both_spellings(sim, org, path, param, field):
    desc = all_rows(sim, org.org_id, path, f"{param}=-{field}")
    times = _times(desc)
    assert times == sorted(times, reverse=True) and len(desc) == len(org.records(
        "members" if path == "users" else "groups"))
    asc = all_rows(sim, org.org_id, path, f"{param}={field}")
    assert _times(asc) == sorted(times)
    # strings in mixed formats would not sort like this: the server compares datetimes
    strings = [r["updated_at"] for r in desc]
    assert strings != sorted(strings, reverse=True) or path == "groups"


def test_sort_ties_are_stable_by_id(sim, org):
    rows = all_rows(sim, org.org_id, "users", "sort=updated_at")
    keys = [(parse_ts(r["updated_at"]), r["id"]) for r in rows]
    assert keys == sorted(keys)
    assert len({k[0] for k in keys}) < len(keys)  # ties exist and were ordered by id


def test_other_sort_fields_and_defaults(sim, org):
    names = [g["name"].casefold() for g in all_rows(sim, org.org_id, "groups", "sort_by=name")]
    assert names == sorted(names)
    titles = [t["title"].casefold() for t in all_rows(sim, org.org_id, "tags", "all=true&sort=-title")]
    assert titles == sorted(titles, reverse=True)
    for param in ("sort", "sort_by"):
        guests = all_rows(sim, org.org_id, "guests", f"{param}=-created_at")
        assert [g["email"] for g in guests] == [g["email"] for g in org.served("guests")][::-1]
    ids = [m["id"] for m in all_rows(sim, org.org_id, "users")]
    assert ids == sorted(ids)
    created = _times(all_rows(sim, org.org_id, "groups"), "created_at")
    assert created == sorted(created)
    unknown = all_rows(sim, org.org_id, "users", "sort=-shoe_size")
    assert [m["id"] for m in unknown] == ids


def test_honour_sort_false_ignores_sort(fresh):
    s, o = fresh
    default = [g["id"] for g in all_rows(s, o.org_id, "groups")]
    assert [g["id"] for g in all_rows(s, o.org_id, "groups", "sort_by=-updated_at")] != default
    s.honour_sort = False
    assert [g["id"] for g in all_rows(s, o.org_id, "groups", "sort_by=-updated_at")] == default
    assert [m["id"] for m in all_rows(s, o.org_id, "users", "sort=-updated_at")] == sorted(
        m["id"] for m in o.members)


# ------------------------------------------------------------------ includes, tags, update-time spelling
def test_includes_are_wrapped(sim, org):
    plain = get(sim, org.org_id, "users", "per_page=5").json()["data"][0]
    assert "stats" not in plain and "groups" not in plain
    m = get(sim, org.org_id, "users", "per_page=5&with=stats,groups,country").json()["data"][0]
    assert m["stats"] == {"data": org.member_stats[m["id"]]}
    assert m["groups"]["data"] == [{"id": g["id"], "name": g["name"]} for g in org.served("groups")
                                   if m["id"] in g["members"]]
    t = get(sim, org.org_id, "tags", "with=statistics&all=true").json()["data"][0]
    assert t["statistics"] == {"data": org.tag_statistics[t["id"]]}
    assert "statistics" not in get(sim, org.org_id, "tags").json()["data"][0]
    g = get(sim, org.org_id, "guests", "with=stats").json()["data"][0]
    assert g["stats"] == {"data": org.guest_stats[g["email"]]}
    grp = next(x for x in all_rows(sim, org.org_id, "groups", "with=users,guests,assets") if x["members"])
    assert [u["id"] for u in grp["users"]["data"]] == grp["members"]
    assert grp["guests"] == org.group(grp["id"])["guests"]  # with=guests accepted, field unchanged
    assert grp["assets"] == {"data": []}


def test_auto_generated_tags_hidden_unless_all_true(sim, org):
    auto = {t["id"] for t in org.tags if t["auto_generated"]}
    for raw in ("", "all=1", "all=TRUE", "all=false", "all=True"):
        rows = all_rows(sim, org.org_id, "tags", raw)
        assert not auto & {t["id"] for t in rows}, raw
        assert len(rows) == 200 - len(auto)
    rows = all_rows(sim, org.org_id, "tags", "all=true")
    assert auto <= {t["id"] for t in rows} and len(rows) == 200


def test_last_updated_spelling_switch(fresh):
    s, o = fresh
    s.update_field_name = "last_updated"
    for path in ("users", "groups"):
        rec = get(s, o.org_id, path, "per_page=1").json()["data"][0]
        assert "last_updated" in rec and "updated_at" not in rec
        rows = all_rows(s, o.org_id, path, ("sort" if path == "users" else "sort_by") + "=-last_updated")
        assert _times(rows, "last_updated") == sorted(_times(rows, "last_updated"), reverse=True)
    assert "last_updated" not in get(s, o.org_id, "tags").json()["data"][0]
    one = get(s, o.org_id, f"users/{o.members[0]['id']}").json()["data"]
    assert one["last_updated"] == o.members[0]["updated_at"]
    assert o.served("groups", update_field_name="last_updated")[0].keys() >= {"last_updated"}


# ------------------------------------------------------------------ errors and other routes
def test_auth_and_routing_errors(sim, org):
    h = sim.headers()
    no_auth = {k: v for k, v in h.items() if k != "Authorization"}
    r = get(sim, org.org_id, "users", headers=no_auth)
    assert r.status_code == 401
    assert r.json() == {"error": True, "message": "Unauthenticated.", "code": "UNAUTHENTICATED"}
    assert get(sim, org.org_id, "users", headers={**h, "Authorization": "Bearer nope"}).status_code == 401
    r = get(sim, org.org_id, "users", headers={k: v for k, v in h.items() if k != "X-Tallyfy-Client"})
    assert r.status_code == 404 and r.json()["code"] == "ENDPOINT_NOT_FOUND"
    r = get(sim, org.org_id, "checklists")
    assert r.status_code == 404 and r.json()["code"] == "ENDPOINT_NOT_FOUND"
    r = get(sim, "0" * 32, "users")
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    r = get(sim, org.org_id, "users/1")
    assert r.status_code == 404 and r.json()["code"] == "RESOURCE_NOT_FOUND"
    r = requests.post(f"{sim.base_url}/organizations/{org.org_id}/users", headers=h, json={}, timeout=5)
    assert r.status_code == 405 and r.json()["error"] is True


def test_forbidden_orgs(fresh):
    s, o = fresh
    s.forbidden_orgs.add(o.org_id)
    assert get(s, o.org_id, "groups").status_code == 403
    assert requests.get(f"{s.base_url}/me/organizations", headers=s.headers(), timeout=5).json()["data"] == []


def test_single_items_me_and_no_api_prefix(sim, org):
    m, g, t, gu = org.members[3], org.groups[2], org.tags[1], org.guests[4]
    assert get(sim, org.org_id, f"users/{m['id']}", "with=stats").json()["data"]["stats"]["data"] == \
        org.member_stats[m["id"]]
    assert get(sim, org.org_id, f"groups/{g['id']}").json()["data"]["name"] == g["name"]
    assert get(sim, org.org_id, f"tags/{t['id']}").json()["data"]["title"] == t["title"]
    assert get(sim, org.org_id, f"guests/{gu['email'].replace('@', '%40')}").json()["data"]["id"] == gu["id"]
    me = requests.get(f"{sim.base_url}/me/organizations", headers=sim.headers(), timeout=5).json()
    assert [o["id"] for o in me["data"]] == [org.org_id]
    r = requests.get(f"{sim.root_url}/organizations/{org.org_id}/tags?per_page=2", headers=sim.headers(),
                     timeout=5)
    assert r.status_code == 200 and len(r.json()["data"]) == 2


def test_two_orgs_are_separate():
    a = SyntheticOrg.generate(members=5, groups=2, tags=3, guests=1, seed=1)
    b = SyntheticOrg.generate(members=7, groups=2, tags=3, guests=1, seed=2)
    with Simulator([a, b]) as s:
        assert s.org_ids == [a.org_id, b.org_id]
        assert get(s, a.org_id, "users").json()["meta"]["pagination"]["total"] == 5
        assert get(s, b.org_id, "users").json()["meta"]["pagination"]["total"] == 7
        assert s.request_count(org_id=b.org_id) == 1
        assert s.env()["SOURCES__TALLYFY__ORG_ID"] == f"{a.org_id},{b.org_id}"


# ------------------------------------------------------------------ mutations
def test_member_mutations_advance_clock_and_sort_first(fresh):
    s, o = fresh
    before = o.now
    target = o.members[5]["id"]
    cached_top = get(s, o.org_id, "users", "sort=-updated_at&per_page=1").json()["data"][0]
    assert cached_top["id"] != target  # the sorted order is cached; a mutation must invalidate it
    updated = o.update_member(target, job_title="Chief Tester")
    assert o.now > before and parse_ts(updated["updated_at"]) == o.now
    assert all(parse_ts(m["updated_at"]) < o.now for m in o.members if m["id"] != target)
    top = get(s, o.org_id, "users", "sort=-updated_at&per_page=1").json()["data"][0]
    assert (top["id"], top["job_title"]) == (target, "Chief Tester")
    new = o.add_member(first_name="Zed", email="zed@example.com")
    assert parse_ts(new["created_at"]) == o.now > parse_ts(updated["updated_at"])
    assert get(s, o.org_id, "users", "sort=-created_at&per_page=1").json()["data"][0]["email"] == "zed@example.com"
    assert get(s, o.org_id, f"users/{new['id']}").status_code == 200
    # delete: gone everywhere, groups that listed it were updated
    in_group = next(g for g in o.groups if g["members"])
    victim = in_group["members"][0]
    o.delete_member(victim)
    assert victim not in {m["id"] for m in all_rows(s, o.org_id, "users")}
    assert get(s, o.org_id, f"users/{victim}").status_code == 404
    g = get(s, o.org_id, f"groups/{in_group['id']}").json()["data"]
    assert victim not in g["members"] and parse_ts(g["updated_at"]) == o.now


def test_group_tag_guest_mutations(fresh):
    s, o = fresh
    grp = o.groups[0]
    o.update_group(grp["id"], members=[o.members[0]["id"]], guests=[])
    top = get(s, o.org_id, "groups", "sort_by=-updated_at&per_page=1").json()["data"][0]
    assert top["id"] == grp["id"] and top["members"] == [o.members[0]["id"]]
    o.delete_group(grp["id"])
    assert grp["id"] not in {g["id"] for g in all_rows(s, o.org_id, "groups")}
    new_group = o.add_group(name="Brand New Team")
    assert get(s, o.org_id, f"groups/{new_group['id']}").json()["data"]["name"] == "Brand New Team"

    tag = o.add_tag(title="Fresh Tag", statistics={"active_process": 4})
    o.set_tag_statistics(tag["id"], archived_process=9)
    o.update_tag(tag["id"], color="#000000")
    t = get(s, o.org_id, f"tags/{tag['id']}", "with=statistics").json()["data"]
    assert (t["color"], t["statistics"]["data"]["archived_process"], t["statistics"]["data"]["active_process"]) == (
        "#000000", 9, 4)
    assert "updated_at" not in t
    o.delete_tag(tag["id"])
    assert get(s, o.org_id, f"tags/{tag['id']}").status_code == 404

    guest = o.add_guest(email="new.guest@example.org")
    o.update_guest("new.guest@example.org", first_name="Neo")
    assert get(s, o.org_id, "guests", "q=new.guest").json()["data"][0]["first_name"] == "Neo"
    member_group = o.add_group(guests=[guest["email"]])
    o.delete_guest(guest["email"])
    assert get(s, o.org_id, "guests", "q=new.guest").json()["data"] == []
    assert o.group(member_group["id"])["guests"] == [] and parse_ts(o.group(member_group["id"])["updated_at"]) == o.now
    with pytest.raises(KeyError):
        o.update_member(999999, job_title="x")


def test_touch_random(fresh):
    s, o = fresh
    touched = o.touch_random("members", 5, rng_seed=1)
    assert len(set(touched)) == 5
    assert o.touch_random("members", 5, rng_seed=1) == touched  # same seed, same picks
    top = get(s, o.org_id, "users", "sort=-updated_at&per_page=5").json()["data"]
    assert {m["id"] for m in top} == set(touched)
    assert len({m["updated_at"] for m in top}) == 5
    assert len(o.touch_random("groups", 3, 2)) == 3 and len(o.touch_random("tags", 2, 2)) == 2
    assert len(o.touch_random("guests", 2, 2)) == 2


# ------------------------------------------------------------------ counting, latency, rate limit
def test_request_counting(fresh):
    s, o = fresh
    s.reset_counts()
    get(s, o.org_id, "users")
    get(s, o.org_id, "users", "page=2")
    get(s, o.org_id, "groups")
    get(s, o.org_id, "users", headers={"X-Tallyfy-Client": "APIClient", "Accept": "application/json"})  # no token: 401
    assert s.request_count() == 4
    assert s.request_count("members") == s.request_count("users") == 3
    assert s.request_count(status=401) == 1 and s.request_count(org_id=o.org_id, status=200) == 3
    log = s.requests[1]
    assert (log["method"], log["page"], log["raw_query"], log["query"], log["resource"]) == (
        "GET", 2, "page=2", {"page": "2"}, "members")
    assert log["has_auth"] and log["has_client_header"]
    s.reset_counts()
    assert s.request_count() == 0


def test_latency_overlaps_in_parallel(fresh):
    s, o = fresh
    s.latency = 0.3
    start = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda p: get(s, o.org_id, p).status_code, ["users", "groups", "tags", "guests"]))
    elapsed = time.monotonic() - start
    assert codes == [200] * 4
    assert 0.3 <= elapsed < 1.0


def test_rate_limit_429(fresh):
    s, o = fresh
    s.rate_limit_per_minute = 12  # => at most 2 per 10 s
    first = get(s, o.org_id, "tags")
    assert first.status_code == 200 and first.headers["X-RateLimit-Limit"] == "12"
    assert get(s, o.org_id, "tags").status_code == 200
    r = get(s, o.org_id, "tags")
    assert r.status_code == 429
    assert r.json() == {"error": True, "message": "Too Many Attempts.", "code": "TOO_MANY_REQUESTS"}
    assert 1 <= int(r.headers["Retry-After"]) <= 10 and r.headers["X-RateLimit-Remaining"] == "0"
    assert s.request_count(status=429) == 1
    s.rate_limit_per_minute = None
    assert get(s, o.org_id, "tags").status_code == 200


# ------------------------------------------------------------------ faults
def test_fault_status_fires_times_then_recovers(fresh):
    s, o = fresh
    s.faults = FaultPlan([Fault(kind="status", status=503, resource="members", page=2, times=1)])
    assert get(s, o.org_id, "users", "per_page=10").status_code == 200
    assert get(s, o.org_id, "groups", "page=2").status_code == 200  # other resource
    r = get(s, o.org_id, "users", "per_page=10&page=2")
    assert r.status_code == 503 and r.json()["error"] is True
    assert get(s, o.org_id, "users", "per_page=10&page=2").status_code == 200  # the retry succeeds
    assert s.request_count(status=503) == 1 and s.faults.fired[0]["request"] == 3
    assert [x["fault"] for x in s.requests] == [None, None, "status", None]


@pytest.mark.parametrize("value", ["0", "2", "Wed, 21 Oct 2026 07:28:00 GMT"])
def test_fault_retry_after(fresh, value):
    s, o = fresh
    s.faults = FaultPlan([Fault(kind="retry_after", retry_after=value)])
    r = get(s, o.org_id, "tags")
    assert r.status_code == 429 and r.headers["Retry-After"] == value
    assert r.json()["code"] == "TOO_MANY_REQUESTS"
    assert get(s, o.org_id, "tags").status_code == 200


def test_fault_reset(fresh):
    s, o = fresh
    s.faults = FaultPlan([Fault(kind="reset", request=1)])
    with pytest.raises(requests.ConnectionError):
        get(s, o.org_id, "users")
    assert get(s, o.org_id, "users").status_code == 200
    assert s.request_count(status=0) == 1


def test_fault_timeout(fresh):
    s, o = fresh
    s.faults = FaultPlan([Fault(kind="timeout", delay=0.6)])
    with pytest.raises(requests.Timeout):
        requests.get(f"{s.base_url}/organizations/{o.org_id}/users", headers=s.headers(), timeout=0.2)
    assert get(s, o.org_id, "users").status_code == 200


def test_fault_truncated(fresh):
    s, o = fresh
    s.faults = FaultPlan([Fault(kind="truncated"), Fault(kind="truncated", full_length=True)])
    r = get(s, o.org_id, "users")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    with pytest.raises(requests.RequestException):  # short read: the connection closed early
        get(s, o.org_id, "users")
    assert get(s, o.org_id, "users").json()["meta"]["pagination"]["total"] == 40


def test_fault_not_json_and_missing_meta(fresh):
    s, o = fresh
    s.faults = FaultPlan([Fault(kind="not_json"), Fault(kind="missing_meta")])
    r = get(s, o.org_id, "groups")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        r.json()
    body = get(s, o.org_id, "groups").json()
    assert "meta" not in body and len(body["data"]) == 10
    assert "meta" in get(s, o.org_id, "groups").json()


def test_fault_loop_serves_page_one(fresh):
    s, o = fresh
    s.faults = FaultPlan([Fault(kind="loop", resource="members", times=None)])
    p1 = get(s, o.org_id, "users", "per_page=10").json()
    p3 = get(s, o.org_id, "users", "per_page=10&page=3").json()
    assert p3["data"] == p1["data"] and p3["meta"]["pagination"]["current_page"] == 3
    s.faults = None
    assert get(s, o.org_id, "users", "per_page=10&page=3").json()["data"] != p1["data"]


def test_random_fault_plan_is_repeatable():
    def run(seed):
        plan = FaultPlan.random(seed=seed, rate=0.3)
        return [(f.kind if f else None) for f in (plan.next_fault("members", 1, "o") for _ in range(200))]

    a, b = run(5), run(5)
    assert a == b and a != run(6)
    assert 30 < sum(k is not None for k in a) < 90
    assert {k for k in a if k} <= {"status", "retry_after", "reset", "truncated", "not_json"}
    plan = FaultPlan([Fault(kind="status")])
    assert plan.next_fault("tags", 1, "o") is not None and plan.next_fault("tags", 1, "o") is None
    plan.reset()
    assert plan.next_fault("tags", 1, "o") is not None
    with pytest.raises(ValueError):
        Fault(kind="explode")


def test_random_faults_over_http(fresh):
    s, o = fresh
    s.faults = FaultPlan.random(seed=1, rate=0.5, kinds=["status", "not_json"])
    codes = [get(s, o.org_id, "tags").status_code for _ in range(20)]
    assert any(c >= 500 for c in codes) and 200 in codes
    assert len(s.faults.fired) == sum(1 for x in s.requests if x["fault"])


# ------------------------------------------------------------------ standalone entry point
def test_main_prints_env_and_stops_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tallyfy_source.simulator", "--port", "0", "--members", "5", "--groups", "2",
         "--tags", "3", "--guests", "1", "--token", "tok", "--last-updated"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(7)]
        text = "".join(lines)
        base = re.search(r"SOURCES__TALLYFY__BASE_URL=(\S+)", text).group(1)
        org_id = re.search(r"SOURCES__TALLYFY__ORG_ID=(\S+)", text).group(1)
        assert "SOURCES__TALLYFY__ACCESS_TOKEN=tok" in text
        r = requests.get(f"{base}/organizations/{org_id}/users", timeout=5,
                         headers={"Authorization": "Bearer tok", "X-Tallyfy-Client": "APIClient", "Accept": "application/json"})
        assert r.json()["meta"]["pagination"]["total"] == 5 and "last_updated" in r.json()["data"][0]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        proc.stdout.close()
