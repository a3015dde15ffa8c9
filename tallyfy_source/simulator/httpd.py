"""HTTP plumbing: a threaded server on a socket that turns each request into a `Request`, hands
it to the application, and writes the `Reply` it gets back (including a fault's reset, cut body
or delay). Knows nothing of Tallyfy."""

import email.utils
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Optional
from urllib.parse import unquote, urlsplit

from .replies import Reply


def parse_query(raw_query: str) -> Dict[str, str]:
    """Decode a query string like Tallyfy does: `%XX` decoded, `+` kept literally.
    A repeated name keeps its last value."""
    out: Dict[str, str] = {}
    for pair in raw_query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        out[unquote(name)] = unquote(value)
    return out


class Request:
    """One request as the application sees it."""

    def __init__(self, method: str, target: str, headers: Any):
        parts = urlsplit(target)
        self.method = method
        self.path = parts.path  # as sent
        self.raw_query = parts.query
        self.query = parse_query(parts.query)
        self.headers = headers  # case-insensitive `.get(name)`, `name in headers`


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TallyfySimulator/1.0"
    clock = None  # the answer's `date`, for the Date header (None: the machine's clock)

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _dispatch(self) -> None:
        request = Request(self.command, self.path, self.headers)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        reply = self.server.app(request)  # type: ignore[attr-defined]
        self.clock = reply.date
        if reply.delay:
            time.sleep(reply.delay)
        self._send(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def date_time_string(self, timestamp: Optional[float] = None) -> str:
        """`Date` is the answer's own clock when it has one (the simulator gives the served org's,
        the one its update times are written with: a client may bound its cursor by it)."""
        if timestamp is None and self.clock is not None:
            return email.utils.format_datetime(self.clock, usegmt=True)
        return super().date_time_string(timestamp)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _send(self, reply: Reply) -> None:
        try:
            if reply.reset:
                self.close_connection = True
                sock = self.connection
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.rfile.close()
                self.wfile.close()
                sock.close()
                return
            body = reply.payload()
            announced = len(body)
            if reply.truncate is not None:
                body, announced = reply.truncate(body)
                self.close_connection = True
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type + "; charset=utf-8")
            self.send_header("Content-Length", str(announced))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            self.close_connection = True  # the client went away (e.g. after its own timeout)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # client hung up (timeouts, resets): not interesting


class Listener:
    """Serve `app(request) -> Reply` on host:port (0 = any free port) in a daemon thread."""

    def __init__(self, host: str, port: int, app: Callable[[Request], Reply]):
        self._server = _Server((host, port), _Handler)
        self._server.app = app  # type: ignore[attr-defined]
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"tallyfy-sim-{self.port}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
