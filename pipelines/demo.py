"""`--demo`: the bundled simulator serving one synthetic org, for the lifetime of a run.

The org has a modest workflow too (templates, processes with their tasks and comments, one-off
tasks, a year of activity), sized so the demo stays fast at the default request budget. Its year
ends today (`clock_shift.move_to_day`) and its open tasks fall due around today, a quarter of them
overdue (`open_work_due_around_now`): "overdue" and "launched in the last 30 days" mean what they
say whatever day the demo runs.
"""

from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from typing import Iterator, Optional

from tallyfy_source.simulator import Simulator, SyntheticOrg
from tallyfy_source.simulator.clock_shift import move_to_day, open_work_due_around_now

DEMO_ORG_ID = "7a11f5de" + "0" * 24
DEMO_TOKEN = "demo-token-not-a-secret"
#: the demo loads the activity feed of the last 90 days
DEMO_ACTIVITY_DAYS = 90


def demo_activity_start(sim: Simulator) -> str:
    """The first day of the demo's activity feed: DEMO_ACTIVITY_DAYS before the org's clock."""
    return (sim.org.now - timedelta(days=DEMO_ACTIVITY_DAYS)).date().isoformat()


@contextmanager
def demo_simulator(members: int = 300, groups: int = 40, tags: int = 200, guests: int = 80, templates: int = 10,
                   processes: int = 100, oneoff_tasks: int = 30, today: Optional[date] = None) -> Iterator[Simulator]:
    org = SyntheticOrg.generate(DEMO_ORG_ID, members=members, groups=groups, tags=tags, guests=guests, seed=7,
                                templates=templates, processes=processes, oneoff_tasks=oneoff_tasks)
    move_to_day(org, today or datetime.now(timezone.utc).date())
    open_work_due_around_now(org, seed=7)
    sim = Simulator(orgs=[org], token=DEMO_TOKEN).start()
    try:
        yield sim
    finally:
        sim.stop()
