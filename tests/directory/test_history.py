"""History that accumulates (issue 19): `tag_statistics_history` gets one row per tag and UTC
day from every load, at no extra request; reruns add no duplicates, days accumulate."""

from datetime import date, datetime, timezone

import pytest

from tallyfy_source.read import orgs
from tallyfy_source.directory.history import tag_statistics_rows
from tests.conftest import Loader


class Clock(datetime):
    """`datetime` whose now() is what the test says (the source reads the clock once per org)."""

    at = datetime(2026, 12, 1, 23, 50, tzinfo=timezone.utc)

    @classmethod
    def now(cls, tz=None):
        return cls.at


def history(loader):
    return loader.rows("SELECT tag_id, snapshot_date, active_template, archived_template, active_process,"
                       " archived_process FROM tallyfy.tag_statistics_history ORDER BY 1, 2")


def served(org, day):
    return sorted((t["id"], day, *(t["statistics"]["data"][k] for k in
                                   ("active_template", "archived_template", "active_process", "archived_process")))
                  for t in org.served("tags", ["statistics"], query={"all": "true"}))


def test_each_day_keeps_the_counts_of_its_last_load_and_days_accumulate(sim, tmp_path, monkeypatch):
    monkeypatch.setattr(orgs, "datetime", Clock)
    org = sim.org
    loader = Loader(sim, tmp_path)
    loader.run(resources=["tags"])
    sim.reset_counts()
    loader.run(resources=["tags"])  # a rerun the same day: no duplicate, no extra request
    assert sim.request_count(resource="tags") == sim.request_count()
    first_day = served(org, date(2026, 12, 1))
    assert history(loader) == first_day
    tag = org.values("tags")[0]["id"]
    org.set_tag_statistics(tag, active_process=77)
    Clock.at = datetime(2026, 12, 2, 0, 10, tzinfo=timezone.utc)  # 20 minutes later: the next UTC day
    loader.run(resources=["tags"])
    assert history(loader) == sorted(first_day + served(org, date(2026, 12, 2)))
    before = next(r for r in first_day if r[0] == tag)[4]
    assert before != 77
    assert loader.rows(f"SELECT snapshot_date, active_process FROM tallyfy.tag_statistics_history"
                       f" WHERE tag_id = '{tag}' ORDER BY 1") == [(date(2026, 12, 1), before), (date(2026, 12, 2), 77)]


@pytest.mark.parametrize("statistics", [{"data": {"active_template": 1, "archived_template": 2, "active_process": 3,
                                                  "archived_process": 4}},
                                        {"active_template": 1, "archived_template": 2, "active_process": 3,
                                         "archived_process": 4}])
def test_counts_wrapped_or_bare_give_the_same_row(statistics):
    now = datetime(2026, 12, 1, 8, tzinfo=timezone.utc)
    row, = tag_statistics_rows([{"org_id": "o", "id": 5, "title": "T", "statistics": statistics}], now)
    assert row == {"org_id": "o", "tag_id": "5", "snapshot_date": date(2026, 12, 1), "loaded_at": now, "title": "T",
                   "active_template": 1, "archived_template": 2, "active_process": 3, "archived_process": 4}
