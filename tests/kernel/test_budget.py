"""The request budget keeps every 60 s and 10 s window within the limit (on a fake clock)."""

import threading

from tallyfy_source.api.budget import RequestBudget


def send_times(per_minute, count):
    """Send times of `count` sequential requests on a fake clock that sleeping advances."""
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    budget = RequestBudget(per_minute, margin=0.0, clock=lambda: now[0], sleep=sleep)
    times = []
    for _ in range(count):
        budget.acquire()
        times.append(now[0])
    return times


def max_in_window(times, seconds):
    return max(sum(1 for t in times if start <= t < start + seconds) for start in times)


def test_no_60s_window_holds_more_than_the_limit():
    times = send_times(100, 350)
    assert max_in_window(times, 60.0) <= 100


def test_no_10s_window_holds_more_than_a_sixth_of_the_limit():
    times = send_times(100, 350)
    assert max_in_window(times, 10.0) <= 16


def test_the_budget_is_not_slower_than_needed():
    # 600/min allows 100 per 10 s: 400 requests need 30 s of waiting, not more
    times = send_times(600, 400)
    assert times[-1] == 30.0


def test_concurrent_callers_share_one_budget():
    budget = RequestBudget(60, margin=0.0)
    budget._clock = lambda: 0.0
    slept = []
    budget._sleep = slept.append
    threads = [threading.Thread(target=budget.acquire) for _ in range(25)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 10 fit in the first 10 s window at once; the other 15 were each told to wait
    assert sum(1 for s in slept if s > 0) == 15


def test_runs_in_one_process_share_the_budget_of_one_api():
    first = RequestBudget.shared("https://api.example.test/api", 100)
    assert RequestBudget.shared("https://api.example.test/api", 100) is first
    assert RequestBudget.shared("https://other.example.test/api", 100) is not first


def test_each_token_has_its_own_shared_budget():
    """Tallyfy limits each token's user: two tokens on one API root get two budgets, the same
    token (two sources in one process) the same one."""
    api = "https://tokens.example.test/api"
    first = RequestBudget.shared(api, 100, token="token-of-org-a")
    assert RequestBudget.shared(api, 100, token="token-of-org-a") is first
    assert RequestBudget.shared(api, 100, token="token-of-org-b") is not first
    assert RequestBudget.shared(api, 100) is not first


def test_a_request_woken_late_counts_when_it_went():
    """A sleeper woken 2 s late (the GIL held elsewhere) sent 2 s later than its slot: the next
    window must be counted from then, or 101 requests land in 10 s and the server answers 429."""
    now = [0.0]
    late = {100}  # the 101st request wakes 2 s after its slot

    def sleep(seconds):
        now[0] += seconds + (2.0 if len(times) in late else 0.0)

    budget = RequestBudget(600, margin=0.0, clock=lambda: now[0], sleep=sleep)
    times = []
    for _ in range(300):
        budget.acquire()
        times.append(now[0])
    assert times[100] == 12.0  # slot 10 s, woken at 12 s
    assert max_in_window(times, 10.0) <= 100
