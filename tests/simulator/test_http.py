"""The simulator as an HTTP server: errors and other routes, the documented headers, the request
log, latency, the rate limiter, and the standalone command."""

import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tallyfy_source.simulator import Simulator, SyntheticOrg
from tests.simulator.support import ROOT, fresh, get, org, sim  # noqa: F401 (fixtures)


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
    r = get(sim, org.org_id, "blueprints")
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


# ------------------------------------------------------------------ documented headers
def test_the_client_header_is_required_with_any_value(fresh):
    """A client that stops sending `X-Tallyfy-Client` or `Accept: application/json` must fail
    against the simulator, as the docs say it fails against Tallyfy; any value of the header is
    accepted (the official SDK sends `TallyfySDK`), and the log records the value sent."""
    s, o = fresh
    good = s.headers()
    assert get(s, o.org_id, "users", headers=good).status_code == 200
    assert get(s, o.org_id, "users", headers={**good, "X-Tallyfy-Client": "TallyfySDK"}).status_code == 200
    assert s.requests[-1]["headers"]["X-Tallyfy-Client"] == "TallyfySDK"
    assert get(s, o.org_id, "users", headers={**good, "X-Tallyfy-Client": ""}).status_code == 404
    no_client = {k: v for k, v in good.items() if k != "X-Tallyfy-Client"}
    assert get(s, o.org_id, "users", headers=no_client).status_code == 404
    no_accept = {k: v for k, v in good.items() if k != "Accept"}
    assert get(s, o.org_id, "users", headers=no_accept).status_code == 406


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


# ------------------------------------------------------------------ standalone entry point
@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM ends a process without cleanup on Windows")
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
