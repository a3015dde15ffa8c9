"""Fixtures and helpers shared by the simulator's tests (`tests/simulator/`); the workflow's property
test borrows `events_still_dropped_or_held`."""

from pathlib import Path

import pytest
import requests

from tallyfy_source.simulator import Simulator, SyntheticOrg, parse_ts

ROOT = Path(__file__).resolve().parents[2]


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


def times_of(rows, field="updated_at"):
    return [parse_ts(r[field]) for r in rows]


def events_still_dropped_or_held(org) -> int:
    """How many of the org's next feed events `drop_next_events` / `hold_next_events` will still
    drop or hold. The simulator keeps the counts privately; should a rewrite rename them, this
    answers a huge number, so a caller counts every later change as possibly missed by the feed
    (its test gets weaker, never wrong)."""
    try:
        return int(org._drop_events) + int(org._hold_events)
    except (AttributeError, TypeError, ValueError):
        return 10**9
