"""The building blocks of synthetic workflow data: whom it may name (`People`), what generation
hands the org to keep (`Workflow`), the time rules every workflow generator keeps, and tag links.

History lies in the year before `BASE_NOW`; no deadline falls in the day after it, so the clock a
test advances (seconds per change) never makes a task late behind the data's back. Shared by
`generate_workflow.py` (templates, one-off tasks, the whole history) and `generate_processes.py`
(processes and their comments), which would otherwise import each other.
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Tuple

from .draws import hex32
from .timestamps import BASE_NOW

Record = Dict[str, Any]
YEAR = 365 * 86400
#: no generated deadline falls in [BASE_NOW, BASE_NOW + QUIET)
QUIET = timedelta(days=1)


@dataclass
class People:
    """Whom workflow records may name: members, guests, groups and (non-automatic) tags that exist."""

    members: List[int]
    guests: List[str]
    groups: List[str]
    tags: List[str]

    def owners(self, rng: random.Random) -> Record:
        users = rng.sample(self.members, min(len(self.members), rng.choice((1, 1, 1, 2)))) if self.members else []
        guests = [rng.choice(self.guests)] if self.guests and rng.random() < 0.12 else []
        groups = [rng.choice(self.groups)] if self.groups and rng.random() < 0.15 else []
        return {"users": sorted(users), "guests": guests, "groups": groups}

    def member(self, rng: random.Random) -> Optional[int]:
        return rng.choice(self.members) if self.members else None


@dataclass
class Workflow:
    """What generation hands the org to keep."""

    checklists: List[Record] = field(default_factory=list)
    steps: Dict[str, List[Record]] = field(default_factory=dict)
    runs: List[Record] = field(default_factory=list)
    tasks: List[Record] = field(default_factory=list)
    threads: Dict[str, List[Record]] = field(default_factory=dict)
    form_values: Dict[str, List[Record]] = field(default_factory=dict)
    tag_links: Dict[Tuple[str, str], List[Record]] = field(default_factory=dict)
    events: List[Tuple[datetime, Record]] = field(default_factory=list)
    next_run: int = 1
    next_task: int = 1


def quiet(when: datetime) -> datetime:
    """Deadlines keep out of the day after `BASE_NOW` (see the module docstring)."""
    return when + 2 * QUIET if BASE_NOW <= when < BASE_NOW + QUIET else when


def between(rng: random.Random, a: datetime, b: datetime) -> datetime:
    span = int((b - a).total_seconds())
    return a + timedelta(seconds=rng.randrange(span)) if span > 1 else a


def link_tags(rng: random.Random, wf: Workflow, people: People, kind: str, subject: str, k: int) -> None:
    if people.tags and k:
        wf.tag_links[(kind, subject)] = [{"id": hex32(rng), "tag_id": t}
                                         for t in rng.sample(people.tags, min(k, len(people.tags)))]
