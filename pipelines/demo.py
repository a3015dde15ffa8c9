"""`--demo`: the bundled simulator serving one synthetic org, for the lifetime of a run.

The org has a modest workflow too (templates, processes with their tasks and comments, one-off
tasks, a year of activity), sized so the demo stays fast at the default request budget.
"""

from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

from tallyfy_source.simulator import Simulator, SyntheticOrg
from tallyfy_source.simulator.timestamps import BASE_NOW

DEMO_ORG_ID = "7a11f5de" + "0" * 24
DEMO_TOKEN = "demo-token-not-a-secret"
#: the demo's activity feed from 90 days before the simulated org's clock (not the real one)
DEMO_ACTIVITY_START = (BASE_NOW - timedelta(days=90)).date().isoformat()


@contextmanager
def demo_simulator(members: int = 300, groups: int = 40, tags: int = 200, guests: int = 80, templates: int = 10,
                   processes: int = 100, oneoff_tasks: int = 30) -> Iterator[Simulator]:
    org = SyntheticOrg.generate(DEMO_ORG_ID, members=members, groups=groups, tags=tags, guests=guests, seed=7,
                                templates=templates, processes=processes, oneoff_tasks=oneoff_tasks)
    sim = Simulator(orgs=[org], token=DEMO_TOKEN).start()
    try:
        yield sim
    finally:
        sim.stop()
