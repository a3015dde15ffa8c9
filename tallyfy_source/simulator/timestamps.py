"""Timestamps as Tallyfy spells them, and the moment every synthetic org starts at."""

from datetime import datetime, timezone
from functools import lru_cache
from typing import Optional

UTC = timezone.utc
#: the clock of a freshly generated org; generated history lies before it
BASE_NOW = datetime(2026, 11, 1, 0, 0, 0, tzinfo=UTC)

#: the four ISO 8601 spellings seen in answers
TS_STYLES = ("Z", ".000Z", "+00:00", ".000000Z")


def format_ts(dt: datetime, style: int = 0) -> str:
    """`dt` (whole seconds, UTC) in one of the four seen ISO 8601 spellings."""
    base = dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return base + TS_STYLES[style % len(TS_STYLES)]


def ts_style(value: Optional[str]) -> int:
    """Which of `TS_STYLES` a timestamp string uses (0 when unknown)."""
    if not value:
        return 0
    for i in (3, 1, 2):  # longest suffixes first
        if value.endswith(TS_STYLES[i]):
            return i
    return 0


@lru_cache(maxsize=200_000)
def parse_ts(value: str) -> datetime:
    """Parse any of the seen spellings into an aware UTC datetime."""
    s = value.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
