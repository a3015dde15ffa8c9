"""One token per org (issue 18): a Tallyfy token belongs to one user in one org, so a
consultancy loading several orgs gives each its own (`access_tokens`, a table org id -> token),
with `access_token` for the orgs without one. Each org reads with its token only, each token has
its own request budget, and a missing or malformed table is refused before any request."""

import json

import pytest

from pipelines.tallyfy_pipeline import main
from tallyfy_source.api.budget import RequestBudget
from tallyfy_source.simulator import Simulator, SyntheticOrg
from tests.conftest import TOKEN, Loader
from tests.workflow.test_workflow import START, assert_activity_equals_simulator, assert_workflow_equals_simulator
from tests.workflow.test_workflow_faults import assert_tables_equal_simulator_for as assert_directory_exact

ORG_A, ORG_B, ORG_C = "a0a0" * 8, "b1b1" * 8, "c2c2" * 8
SIZE = dict(members=15, groups=3, tags=8, guests=4, templates=3, processes=8, oneoff_tasks=4)
OWN = {ORG_A: "token-of-a-user-in-org-a", ORG_B: "token-of-a-user-in-org-b"}


@pytest.fixture
def orgs(monkeypatch):
    monkeypatch.setenv("SOURCES__TALLYFY__ACTIVITY_START_DATE", START)
    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "0.05")
    with Simulator(orgs=[SyntheticOrg.generate(o, seed=i, **SIZE) for i, o in enumerate((ORG_A, ORG_B, ORG_C))],
                   token=TOKEN) as server:
        server.org_tokens = dict(OWN)  # each of these reads its org alone (403 on the others)
        yield server


def load(sim, tmp_path, *extra):
    return main(["--org", ORG_A, "--org", ORG_B, "--org", ORG_C, "--base-url", sim.base_url,
                 "--pipelines-dir", str(tmp_path / "pipelines"), "--duckdb-file", str(tmp_path / "tallyfy_data.duckdb"),
                 *extra])


def test_each_org_reads_with_its_own_token_and_the_others_with_the_default(orgs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SOURCES__TALLYFY__ACCESS_TOKENS", json.dumps(OWN))
    monkeypatch.setenv("SOURCES__TALLYFY__ACCESS_TOKEN", TOKEN)  # for ORG_C
    assert load(orgs, tmp_path) == 0, capsys.readouterr().err
    used = {}
    for request in orgs.requests:
        used.setdefault(request["org_id"], set()).add(request["token_org"])
    assert used == {ORG_A: {ORG_A}, ORG_B: {ORG_B}, ORG_C: {None}}  # None: the default token
    assert {r["status"] for r in orgs.requests} == {200}
    loader = Loader(orgs, tmp_path, pipeline_name="tallyfy")
    for org in orgs.orgs.values():
        assert_directory_exact(loader, org)
        assert_workflow_equals_simulator(loader, org)
        assert_activity_equals_simulator(loader, org)
    # one budget per token, kept by the process: the two own tokens and the default one
    digests = {key[1] for key in RequestBudget._shared if key[0] == orgs.base_url}
    assert len(digests) == 3
    secrets = set(OWN.values()) | {TOKEN}
    assert not any(s in text for s in secrets for text in (repr(RequestBudget._shared), capsys.readouterr().err))


@pytest.mark.parametrize("tokens, default, line", [
    ({ORG_A: "token-a"}, None, f"no access token for org {ORG_B}: add it under [sources.tallyfy.access_tokens]"
                               " in .dlt/secrets.toml, or set access_token for the orgs without their own"),
    ({ORG_A: " "}, TOKEN, f"the access token of org {ORG_A} in access_tokens is empty"),
    ("[1, 2]", TOKEN, "the configured access_tokens is not a table of names and values (a [section] in TOML, a JSON"
                      " object in an environment variable): fix its value in the environment (e.g."
                      " SOURCES__TALLYFY__...) or in .dlt/config.toml"),
])
def test_a_token_table_that_cannot_be_used_is_refused_before_any_request(orgs, tmp_path, monkeypatch, capsys,
                                                                         tokens, default, line):
    monkeypatch.setenv("SOURCES__TALLYFY__ACCESS_TOKENS", tokens if isinstance(tokens, str) else json.dumps(tokens))
    if default:
        monkeypatch.setenv("SOURCES__TALLYFY__ACCESS_TOKEN", default)
    else:
        monkeypatch.delenv("SOURCES__TALLYFY__ACCESS_TOKEN", raising=False)
    assert load(orgs, tmp_path) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"tallyfy-load: {line}"]
    assert orgs.requests == []
    assert not (tmp_path / "tallyfy_data.duckdb").exists()
