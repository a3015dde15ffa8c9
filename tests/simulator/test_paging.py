"""The simulator's envelope and paging (meta, links, page sizes, 422s), and how it reads a query
(`+` is not a space; `q` searches per endpoint)."""

import math

import pytest
import requests

from tests.simulator.support import all_rows, fresh, get, org, sim  # noqa: F401 (fixtures)


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


# the documented defaults (`tallyfy-api.md`): groups, tags 10; guests 999; users 9999
@pytest.mark.parametrize("path,default", [("users", 9999), ("groups", 10), ("tags", 10), ("guests", 999)])
def test_default_per_page_per_endpoint(sim, org, path, default):
    body = get(sim, org.org_id, path, "all=true").json()
    p = body["meta"]["pagination"]
    assert p["per_page"] == default
    assert p["count"] == min(p["total"], default) == len(body["data"])
    assert p["total_pages"] == math.ceil(p["total"] / default)


def test_per_page_capped_at_100(sim, org):
    p = get(sim, org.org_id, "users", "per_page=500").json()["meta"]["pagination"]
    assert (p["per_page"], p["count"], p["total_pages"]) == (100, 100, 3)


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
