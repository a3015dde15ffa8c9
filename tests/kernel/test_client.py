"""The HTTP edge against the simulator: headers, Tallyfy's query encoding, error mapping."""

import pytest

from tallyfy_source.api.client import check_response, make_client, make_session
from tallyfy_source.errors import TallyfyAPIError
from tests.expected import records


def get(sim, path, params, token=None):
    client = make_client(sim.base_url, token or sim.token, session=make_session(max_attempts=1))
    return client.get(f"organizations/{sim.org_ids[0]}/{path}", params=params, hooks={"response": [check_response]})


def test_spaces_in_q_are_sent_as_percent_20_and_find_the_member(sim):
    member = next(m for m in records(sim.org.members) if " " in m["last_name"])  # e.g. "De La Cruz"
    response = get(sim, "users", {"q": member["last_name"], "per_page": 100})
    raw_query = sim.requests[-1]["raw_query"]
    assert "%20" in raw_query and "+" not in raw_query
    assert member["id"] in [row["id"] for row in response.json()["data"]]


def test_a_literal_plus_stays_a_plus(sim):
    get(sim, "users", {"q": "a+b"})
    assert "q=a%2Bb" in sim.requests[-1]["raw_query"]


def test_every_request_carries_the_three_documented_headers(sim):
    get(sim, "tags", {"per_page": 100})
    request = sim.requests[-1]
    assert request["headers"] == {"Accept": "application/json", "X-Tallyfy-Client": "APIClient"}
    assert request["has_auth"] and request["status"] == 200


def test_a_rejected_token_is_a_one_line_error_without_the_token(sim):
    with pytest.raises(TallyfyAPIError) as caught:
        get(sim, "users", {}, token="not-the-token-42")
    message = str(caught.value)
    assert caught.value.status == 401 and "\n" not in message
    assert "logs out of the web app" in message and "not-the-token-42" not in message
