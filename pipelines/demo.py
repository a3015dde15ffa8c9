"""`--demo`: the bundled simulator serving one synthetic org, for the lifetime of a run."""

from contextlib import contextmanager
from typing import Iterator

from tallyfy_source.simulator import Simulator, SyntheticOrg

DEMO_ORG_ID = "7a11f5de" + "0" * 24
DEMO_TOKEN = "demo-token-not-a-secret"


@contextmanager
def demo_simulator(members: int = 300, groups: int = 40, tags: int = 200, guests: int = 80) -> Iterator[Simulator]:
    org = SyntheticOrg.generate(DEMO_ORG_ID, members=members, groups=groups, tags=tags, guests=guests, seed=7)
    sim = Simulator(orgs=[org], token=DEMO_TOKEN).start()
    try:
        yield sim
    finally:
        sim.stop()
