"""Fault injection over HTTP: each kind's effect on the answer, how often rules fire, and the
repeatable random plan."""

import pytest
import requests

from tallyfy_source.simulator import Fault, FaultPlan
from tests.simulator.support import fresh, get  # noqa: F401 (fixtures)


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
