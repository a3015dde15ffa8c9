"""The seeded draws every generator shares (directory and workflow): an org's default id, random
hex ids, emails that avoid the ones taken, and creation/update times in the ~3 years before
`BASE_NOW` (with bulk updates that give several records the same update time).

Kept apart from the record generators so the workflow's generators use the same ids and times
without importing the directory's.
"""

import hashlib
import random
import unicodedata
from datetime import datetime, timedelta
from typing import Any, Container, List, Sequence

from .timestamps import BASE_NOW, TS_STYLES

#: generated records were created within this many seconds before `BASE_NOW`
HISTORY_SECONDS = 3 * 365 * 86400


def default_org_id(seed: Any) -> str:
    return hashlib.md5(f"tallyfy-sim-org:{seed}".encode()).hexdigest()


def slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    out = "".join(ch.lower() if ch.isascii() and ch.isalnum() else "." if ch in " -'" else ""
                  for ch in text)
    while ".." in out:
        out = out.replace("..", ".")
    return out.strip(".") or "user"


def hex32(rng: random.Random) -> str:
    return "%032x" % rng.getrandbits(128)


def unique_email(first: str, last: str, domain: str, taken: Container[str]) -> str:
    base = f"{slug(first)}.{slug(last)}"
    email = f"{base}@{domain}"
    n = 2
    while email in taken:
        email = f"{base}{n}@{domain}"
        n += 1
    return email


def bulk_times(rng: random.Random) -> List[datetime]:
    """The times of a dozen bulk updates: records updated by one share its time (ties)."""
    start = BASE_NOW - timedelta(seconds=HISTORY_SECONDS)
    return [start + timedelta(seconds=rng.randrange(HISTORY_SECONDS)) for _ in range(12)]


def times(rng: random.Random, bulk: Sequence[datetime], updatable: bool = True):
    """(created, updated, style): created in the past ~3 years, updated >= created."""
    created = BASE_NOW - timedelta(seconds=rng.randrange(3600, HISTORY_SECONDS))
    style = rng.randrange(len(TS_STYLES))
    if not updatable:
        return created, created, style
    r = rng.random()
    if r < 0.35:
        updated = created
    elif r < 0.45:  # bulk updates: share an update time with other records (ties)
        later = [t for t in bulk if t >= created]
        updated = rng.choice(later) if later else created
    else:
        span = int((BASE_NOW - created).total_seconds()) - 1
        updated = created + timedelta(seconds=rng.randrange(max(span, 1)))
    return created, updated, style
