"""Typed views of what a workflow resource stores per org in its dlt resource state. They read
and write today's stored keys unchanged (pipelines loaded by earlier versions need no
migration) and keep any key they do not know."""

from dataclasses import dataclass
from typing import Any, Dict, Optional


@dataclass(frozen=True)
class FeedCursor:
    """The newest activity-feed event a kind's tables reflect, and its UTC day."""

    id: int
    day: str


class _Stored:
    """A copy of one org's stored dict; `to_state()` is what gets stored back."""

    def __init__(self, stored: Optional[Dict[str, Any]]):
        self._raw = dict(stored or {})

    @classmethod
    def of(cls, stored: Optional[Dict[str, Any]]) -> Any:
        return cls(stored)

    def to_state(self) -> Dict[str, Any]:
        return dict(self._raw)

    def _set(self, key: str, value: Any) -> None:
        if value is None:
            self._raw.pop(key, None)
        else:
            self._raw[key] = value


class WorkflowOrgState(_Stored):
    """Templates, processes or tasks of one org: `feed` {"id", "day"}, `last_sweep` (ISO time of
    the last complete full read), `labels` (processes: template id -> {field id: label}),
    `suspects` (key -> when first missing, for keys the token may not confirm)."""

    def __init__(self, stored: Optional[Dict[str, Any]]):
        super().__init__(stored)
        self.suspects: Dict[str, str] = dict(self._raw.get("suspects") or {})

    @property
    def feed(self) -> Optional[FeedCursor]:
        cursor = self._raw.get("feed")
        return FeedCursor(int(cursor["id"]), cursor["day"]) if cursor else None

    def set_feed(self, newest_id: int, day: str) -> None:
        self._raw["feed"] = {"id": newest_id, "day": day}

    def move_feed(self, newest_id: int, newest_day: Optional[str]) -> None:
        """Move the cursor to a newer event read from the feed (never back)."""
        current = self.feed
        if current is not None and newest_id > current.id:
            self.set_feed(newest_id, newest_day or current.day)

    @property
    def last_sweep(self) -> Optional[str]:
        return self._raw.get("last_sweep")

    @last_sweep.setter
    def last_sweep(self, value: Optional[str]) -> None:
        self._set("last_sweep", value)

    @property
    def labels(self) -> Optional[Dict[str, Dict[str, str]]]:
        return self._raw.get("labels")

    @labels.setter
    def labels(self, value: Optional[Dict[str, Dict[str, str]]]) -> None:
        self._set("labels", value)

    def to_state(self) -> Dict[str, Any]:
        return {**self._raw, "suspects": self.suspects}


class ActivityOrgState(_Stored):
    """The activity feed of one org: `start` (first day loaded), `newest_id` / `newest_day` (the
    newest event loaded), `swept_day` (the newest day of the last complete sweep), `last_sweep`."""

    def get(self, key: str) -> Any:
        return self._raw.get(key)

    def update(self, **values: Any) -> None:
        for key, value in values.items():
            self._set(key, value)
