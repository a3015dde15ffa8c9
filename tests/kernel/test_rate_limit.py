"""The client-side request budget keeps a run under the server's limit: a simulator that
answers 429 above N requests per 60 s or N/6 per 10 s never has to."""

import pytest

from pipelines.tallyfy_pipeline import main
from tallyfy_source.simulator import Simulator
from tests.conftest import TOKEN, Loader, make_org
from tests.expected import assert_rows_match, records
from tests.directory.test_full_load import expected_groups, expected_guests, expected_members, expected_tags

EXPECTED = {"members": (expected_members, ("org_id", "id")), "groups": (expected_groups, ("org_id", "id")),
            "tags": (expected_tags, ("org_id", "id")), "guests": (expected_guests, ("org_id", "email"))}

ORG_A = "aaaa0000aaaa0000aaaa0000aaaa0000"
ORG_B = "bbbb1111bbbb1111bbbb1111bbbb1111"


def limited_sim(per_minute, *orgs):
    return Simulator(orgs=list(orgs), token=TOKEN, rate_limit_per_minute=per_minute)


def max_in_any_window(sim, seconds):
    times = sorted(r["time"] for r in sim.requests)
    return max((sum(1 for t in times[i:] if t < start + seconds) for i, start in enumerate(times)), default=0)


def command(sim, tmp_path, *extra):
    return main([a for org in sim.org_ids for a in ("--org", org)]
                + ["--base-url", sim.base_url, "--access-token", TOKEN, "--per-page", "10",
                   "--pipelines-dir", str(tmp_path / "pipelines"),
                   "--duckdb-file", str(tmp_path / "tallyfy_data.duckdb"), *extra])


def test_a_load_of_several_windows_never_gets_a_429(tmp_path):
    """Two orgs, four resources fetched side by side, pages in parallel: about 45 requests
    against 120/minute (20 per 10 s), so the budget must hold back for two 10 s windows."""
    orgs = [make_org(ORG_A, seed=1, members=150, groups=20, tags=25, guests=20),
            make_org(ORG_B, seed=2, members=120, groups=20, tags=25, guests=20)]
    with limited_sim(120, *orgs) as sim:
        assert command(sim, tmp_path, "--requests-per-minute", "120", "--resources", "members,groups,tags,guests") == 0
        assert sim.request_count(status=429) == 0
        assert sim.request_count() > 2 * 20  # more than two 10 s windows' worth
        assert max_in_any_window(sim, 10) <= 20
        loader = Loader(sim, tmp_path, pipeline_name="tallyfy")
        for table, (expected, key) in EXPECTED.items():  # both orgs, every row exact
            assert_rows_match(loader.table(table), [r for org in orgs for r in expected(org)], key)


@pytest.mark.parametrize("how", ["config", "default"])
def test_the_budget_comes_from_config_or_defaults_to_100(tmp_path, monkeypatch, how):
    """`SOURCES__TALLYFY__REQUESTS_PER_MINUTE=60` against a 60/minute server; with nothing
    set, 100/minute (Tallyfy's published limit) against a 100/minute server."""
    per_minute = 60 if how == "config" else 100
    if how == "config":
        monkeypatch.setenv("SOURCES__TALLYFY__REQUESTS_PER_MINUTE", str(per_minute))
    burst = -(-per_minute // 6)
    org = make_org(ORG_A, seed=3, members=10 * (burst + 2), groups=5, tags=5, guests=5)
    with limited_sim(per_minute, org) as sim:
        assert command(sim, tmp_path, "--resources", "members") == 0
        assert sim.request_count() > burst  # had to wait for a second 10 s window
        assert sim.request_count(status=429) == 0
        loader = Loader(sim, tmp_path, pipeline_name="tallyfy")
        assert_rows_match(loader.table("members"), expected_members(org), ("org_id", "id"))
        assert len(records(org.members)) == 10 * (burst + 2)
