"""THE single-record GET (`api/single.py`): the one contract for what its answer proves.

Against the simulator on 127.0.0.1 (a real `RESTClient` with the item hook), with faults for the
answers a live API gives now and then; a scripted client only for a client without the hook."""

import pytest

from tallyfy_source.api.client import RetryableStatus, UnreadableBody
from tallyfy_source.api.endpoints import MEMBERS
from tallyfy_source.api.single import SingleAnswer, get_one, names_a_missing_record, read_one
from tallyfy_source.errors import TallyfyAPIError
from tallyfy_source.simulator import Fault, FaultPlan
from tests.kernel.test_read_decisions import ORG, FakeResponse, ScriptedClient, client_of, item_requests, sim  # noqa: F401


def a_member(sim):
    return sim.org.records("members")[4]


def test_a_found_record_is_its_data_exactly(sim):
    member = a_member(sim)
    answer = read_one(client_of(sim), ORG, "users", member["id"], {"with": "stats"})
    served = next(r for r in sim.org.served("members", include=["stats"]) if r["id"] == member["id"])
    assert (answer.outcome, answer.record, answer.error) == ("found", served, None)
    [request] = item_requests(sim)
    assert request["path"] == f"/api/organizations/{ORG}/users/{member['id']}"


def test_the_params_asked_are_sent_and_not_changed(sim):
    params = {"with": "stats"}
    read_one(client_of(sim), ORG, "users", a_member(sim)["id"], params)
    assert params == {"with": "stats"}
    [request] = item_requests(sim)
    assert request["query"].get("with") == "stats"


def test_a_404_naming_the_record_proves_it_deleted(sim):
    answer = read_one(client_of(sim), ORG, "users", 987654321, {})
    assert (answer.outcome, answer.record, answer.error) == ("deleted", None, None)


def test_a_403_is_forbidden_with_the_servers_error(sim):
    sim.faults = FaultPlan([Fault("status", status=403, item=True)])
    answer = read_one(client_of(sim), ORG, "users", a_member(sim)["id"], {})
    assert answer.outcome == "forbidden" and answer.record is None
    assert isinstance(answer.error, TallyfyAPIError) and answer.error.status == 403 and answer.error.org_id == ORG


@pytest.mark.parametrize("status", [400, 401, 404])
def test_another_error_status_proves_nothing(sim, status):
    """A 404 from the fault is a plain error page, not Tallyfy's naming one."""
    sim.faults = FaultPlan([Fault("status", status=status, item=True)])
    answer = read_one(client_of(sim), ORG, "users", a_member(sim)["id"], {})
    assert answer.outcome == "unknown" and answer.record is None
    assert isinstance(answer.error, TallyfyAPIError) and answer.error.status == status


@pytest.mark.parametrize("kind, error", [("status", RetryableStatus), ("truncated", UnreadableBody),
                                         ("not_json", UnreadableBody)])
def test_an_answer_still_failing_after_the_retries_proves_nothing(sim, kind, error):
    sim.faults = FaultPlan([Fault(kind, item=True, times=None)])
    answer = read_one(client_of(sim), ORG, "users", a_member(sim)["id"], {})
    assert answer.outcome == "unknown" and answer.record is None and isinstance(answer.error, error)
    assert len(item_requests(sim)) == 2  # the test client's max_attempts: the hook made it retry


@pytest.mark.parametrize("body, outcome", [
    ({"data": {"id": 5}}, "found"),
    ({"data": [{"id": 5}]}, "unknown"),  # a list where one record belongs
    ({"data": None}, "unknown"),
    (["data"], "unknown"),
])
def test_a_client_without_the_hook_reads_the_body_itself(body, outcome):
    response = FakeResponse(body=body)
    response.__dict__.pop("_tallyfy_body", None)  # as a client without the hook leaves it
    answer = read_one(ScriptedClient(lambda path, params: response), ORG, "users", 5, {})
    assert answer.outcome == outcome
    assert answer.record == ({"id": 5} if outcome == "found" else None)
    assert (answer.error is None) == (outcome == "found")
    if outcome == "unknown":
        assert isinstance(answer.error, UnreadableBody)


def test_a_200_that_is_not_json_proves_nothing_without_the_hook():
    response = FakeResponse(body=None, json_error=True)
    answer = read_one(ScriptedClient(lambda path, params: response), ORG, "users", 5, {})
    assert answer.outcome == "unknown" and isinstance(answer.error, UnreadableBody)


def test_the_url_escapes_the_key_but_keeps_its_at_sign():
    client = ScriptedClient(lambda path, params: FakeResponse(body={"data": {"id": 1}}))
    read_one(client, ORG, "guests", "a b/c@example.com", {"x": "1"})
    assert client.asked == [(f"organizations/{ORG}/guests/a%20b%2Fc@example.com", {"x": "1"})]


@pytest.mark.parametrize("body, key, proves", [
    ({"message": "No query results for model [App\\Models\\Run]."}, "abc", True),  # the class, not the key
    ({"message": "NO QUERY RESULTS"}, "abc", True),
    ({"message": None}, "abc", False),
    ({"message": None}, "X", False),  # no message names no key, even a one-letter one
    ({}, "abc", False),
    ({"code": None, "message": "run abc"}, "abc", True),
])
def test_what_a_message_without_a_code_proves(body, key, proves):
    assert names_a_missing_record(FakeResponse(status=404, body=body), key) is proves


# ------------------------------------------------------------------ what a reader that must know gets
def test_record_or_raise_gives_the_record_or_none():
    assert SingleAnswer("found", {"id": 1}).record_or_raise("x") == {"id": 1}
    assert SingleAnswer("deleted").record_or_raise("x") is None


def test_record_or_raise_names_the_record_and_keeps_status_and_org():
    error = TallyfyAPIError("HTTP 403 on GET /x: access denied", status=403, org_id="o9")
    with pytest.raises(TallyfyAPIError) as raised:
        SingleAnswer("forbidden", error=error).record_or_raise("org o9, processes p1")
    assert str(raised.value) == "org o9, processes p1: HTTP 403 on GET /x: access denied"
    assert (raised.value.status, raised.value.org_id) == (403, "o9")


def test_record_or_raise_raises_any_other_failure_as_it_is():
    error = UnreadableBody(FakeResponse(status=200, body="<html>"))
    with pytest.raises(UnreadableBody) as raised:
        SingleAnswer("unknown", error=error).record_or_raise("x")
    assert raised.value is error


def test_record_or_raise_without_an_error_says_there_was_no_answer():
    with pytest.raises(TallyfyAPIError, match=r"^org o, tasks t: no answer$"):
        SingleAnswer("unknown").record_or_raise("org o, tasks t")


def test_get_one_counts_its_request_and_names_the_record_when_it_fails(sim):
    class Report:
        requests = 0

    report = Report()
    member = a_member(sim)
    assert get_one(client_of(sim), MEMBERS, ORG, member["id"], {}, report)["id"] == member["id"]
    assert get_one(client_of(sim), MEMBERS, ORG, 987654321, {}, report) is None
    sim.faults = FaultPlan([Fault("status", status=403, item=True)])
    with pytest.raises(TallyfyAPIError, match=rf"^org {ORG}, members {member['id']}: HTTP 403"):
        get_one(client_of(sim), MEMBERS, ORG, member["id"], {}, report)
    assert report.requests == 3


# ------------------------------------------------------------------ side by side
def test_side_by_side_answers_in_key_order_whatever_finishes_first():
    import time

    from tallyfy_source.api.single import side_by_side

    def fetch(key):
        time.sleep(0.02 * (5 - key))  # the last keys finish first
        return key * 10

    assert list(side_by_side(fetch, [1, 2, 3, 4], 4)) == [(1, 10), (2, 20), (3, 30), (4, 40)]
    assert list(side_by_side(fetch, [], 4)) == []


def test_side_by_side_keeps_at_most_twice_the_workers_waiting():
    import threading

    from tallyfy_source.api.single import side_by_side

    started = []
    lock = threading.Lock()

    def fetch(key):
        with lock:
            started.append(key)
        return key

    reader = side_by_side(fetch, range(100), 3)
    first = next(reader)
    assert first == (0, 0)
    assert len(started) <= 6  # the window: 2 x workers asked before the first answer is taken
    assert [k for k, _ in reader] == list(range(1, 100))


def test_a_failed_fetch_raises_at_its_turn_and_nothing_more_is_asked():
    import threading

    from tallyfy_source.api.single import side_by_side

    asked = []
    lock = threading.Lock()

    def fetch(key):
        with lock:
            asked.append(key)
        if key == 2:
            raise TallyfyAPIError("HTTP 403 on GET /x: access denied", status=403)
        return key

    reader = side_by_side(fetch, range(50), 2)
    assert [next(reader), next(reader)] == [(0, 0), (1, 1)]
    with pytest.raises(TallyfyAPIError, match="403"):
        next(reader)
    assert max(asked) < 2 + 2 * 2 + 1  # the window after key 2, no further


def test_one_worker_fetches_one_at_a_time_in_the_callers_thread():
    import threading

    from tallyfy_source.api.single import side_by_side

    threads = set()
    assert list(side_by_side(lambda k: threads.add(threading.get_ident()) or k, [3, 1], 1)) == [(3, 3), (1, 1)]
    assert threads == {threading.get_ident()}


def test_two_workers_fetch_in_other_threads():
    import threading

    from tallyfy_source.api.single import side_by_side

    threads = set()
    assert list(side_by_side(lambda k: threads.add(threading.get_ident()) or k, [3, 1, 2], 2)) == [
        (3, 3), (1, 1), (2, 2)]
    assert threading.get_ident() not in threads and 1 <= len(threads) <= 2
