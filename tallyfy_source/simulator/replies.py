"""An answer before it goes on the wire: status, JSON body (or raw bytes), headers, and what a
fault asks of the wire (reset the connection, cut the body, wait first)."""

import json
from datetime import datetime
from typing import Any, Callable, Dict, Optional, Tuple


class Reply:
    def __init__(self, status: int, body: Any = None, headers: Optional[Dict[str, str]] = None,
                 raw: Optional[bytes] = None, content_type: str = "application/json"):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.raw = raw
        self.content_type = content_type
        self.date: Optional[datetime] = None  # the `Date` header (None: the machine's clock)
        self.reset = False  # close the connection without any answer (TCP RST)
        #: `payload -> (bytes sent, Content-Length announced)`; the connection closes after
        self.truncate: Optional[Callable[[bytes], Tuple[bytes, int]]] = None
        self.delay = 0.0  # seconds slept before the answer is written (after it is logged)
        self.fault: Any = None  # the `Fault` that shaped this answer, if any

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error(status: int, message: str, code: str, **extra: Any) -> Reply:
    """Tallyfy's error body: `{"error": true, "message", "code"}` plus e.g. `errors`."""
    body = {"error": True, "message": message, "code": code}
    body.update(extra)
    return Reply(status, body)


def too_many_attempts(status: int = 429) -> Reply:
    return error(status, "Too Many Attempts.", "TOO_MANY_REQUESTS")
