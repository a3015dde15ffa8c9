"""Moving a generated org in time (`simulator/clock_shift.py`): every timestamp it holds, in
every spelling, by the same whole number of days, shared records once; the demo's org ends today."""

import re
from datetime import date, datetime, timedelta, timezone

import pytest

from pipelines.demo import demo_activity_start, demo_simulator
from tallyfy_source.simulator import SyntheticOrg
from tallyfy_source.simulator.clock_shift import move_to_day, shift_in_place

STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}")


def stamps(org):
    return [datetime.fromisoformat(s.replace(" ", "T")) for s in STAMP.findall(repr(org.snapshot()))]


@pytest.mark.parametrize("day", [date(2027, 3, 15), date(2026, 1, 2)])
def test_every_timestamp_moves_by_the_same_days(day):
    org = SyntheticOrg.generate("ab" * 16, members=20, groups=3, tags=6, guests=4, seed=2, templates=2,
                                processes=6, oneoff_tasks=2)
    before = stamps(org)
    delta = move_to_day(org, day)
    after = stamps(org)
    assert org.now == datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    assert len(after) == len(before) > 500
    assert {a - b for a, b in zip(after, before)} == {delta}


@pytest.mark.parametrize("text, moved", [
    ("2026-11-01T10:00:00Z", "2026-11-03T10:00:00Z"),
    ("2026-11-01T10:00:00.000Z", "2026-11-03T10:00:00.000Z"),
    ("2026-11-01T10:00:00+05:30", "2026-11-03T10:00:00+05:30"),
    ("2026-11-01T10:00:00.000000Z", "2026-11-03T10:00:00.000000Z"),
    ("2026-11-01 10:00:00", "2026-11-03 10:00:00"),
    ("2026-12-31", "2027-01-02"),
    ("Report 2026-11-01 draft", "Report 2026-11-01 draft"),
    ("a1b2", "a1b2"),
])
def test_each_spelling_is_kept(text, moved):
    shared = {"at": text}
    both = [shared, {"nested": [shared, datetime(2026, 1, 1, tzinfo=timezone.utc)]}]
    shift_in_place(both, timedelta(days=2), set())
    assert shared["at"] == moved  # once, though reached twice
    assert both[1]["nested"][1] == datetime(2026, 1, 3, tzinfo=timezone.utc)


def test_the_demo_org_ends_today_and_its_feed_starts_90_days_before():
    with demo_simulator(members=10, groups=2, tags=5, guests=2, templates=2, processes=5, oneoff_tasks=1) as sim:
        today = datetime.now(timezone.utc).date()
        assert sim.org.now.date() == today
        assert demo_activity_start(sim) == (today - timedelta(days=90)).isoformat()
        newest = max(e["created_at"] for e in sim.org.served("activity", query={}))
        assert newest[:10] <= today.isoformat()


def test_open_tasks_fall_due_around_the_clock_and_the_processes_follow():
    from tallyfy_source.simulator.clock_shift import open_work_due_around_now
    from tallyfy_source.simulator.timestamps import parse_ts

    org = SyntheticOrg.generate("cd" * 16, members=20, groups=3, tags=6, guests=4, seed=5, templates=3,
                                processes=30, oneoff_tasks=5)
    moved = open_work_due_around_now(org, seed=5)
    open_tasks = [t for t in org.values("tasks") if t["status"] != "completed" and t["archived_at"] is None
                  and t["deadline"]]
    assert moved == len(open_tasks) > 20
    late = [t for t in open_tasks if parse_ts(t["deadline"]) < org.now]
    assert 0 < len(late) < len(open_tasks) / 2
    assert all(org.now - timedelta(days=7) < parse_ts(t["deadline"]) < org.now + timedelta(days=21) for t in open_tasks)
    for run in org.values("runs"):
        tasks = [t for t in org.values("tasks") if t["run_id"] == run["id"]]
        late_here = sum(t in late for t in tasks)
        assert run["late_tasks"] == late_here
        if run["status"] != "complete" and not run["has_open_issue"]:
            assert run["status"] == ("delayed" if late_here else "active")
