"""A typed view of what a directory resource stores per org in its dlt resource state, in
today's layout (pipelines loaded by earlier versions need no migration): one dict per kind of
value, keyed by org id: `cursors` (the incremental cursor, `Cursor.to_state()`), `last_sweep`
(ISO time of the last complete key sweep), `suspects` (key -> when first missing, for keys the
token may not confirm)."""

from typing import Any, Dict, Optional


class DirectoryOrgState:
    """One org's part of a directory resource's state; writes go straight to the state."""

    def __init__(self, state: Dict[str, Any], org_id: str):
        self._cursors = state.setdefault("cursors", {})
        self._sweeps = state.setdefault("last_sweep", {})
        self._suspects = state.setdefault("suspects", {})
        self.org_id = org_id

    @property
    def cursor(self) -> Optional[Dict[str, Any]]:
        return self._cursors.get(self.org_id)

    @cursor.setter
    def cursor(self, value: Dict[str, Any]) -> None:
        self._cursors[self.org_id] = value

    @property
    def last_sweep(self) -> Optional[str]:
        return self._sweeps.get(self.org_id)

    @last_sweep.setter
    def last_sweep(self, value: Optional[str]) -> None:
        if value is None:
            self._sweeps.pop(self.org_id, None)
        else:
            self._sweeps[self.org_id] = value

    @property
    def suspects(self) -> Dict[str, str]:
        return self._suspects.setdefault(self.org_id, {})
