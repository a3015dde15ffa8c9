"""A redirect is never followed (the token must not travel to another host), never retried, and
fails at once with one line naming the base URL to use instead."""

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tallyfy_source.api.client import check_response, make_client, make_session
from tallyfy_source.errors import TallyfyAPIError

REPO = Path(__file__).resolve().parents[2]
SECRET = "tok-REDIRECT-5e4d3c2b1a09"
ORG = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
RETRY_WAIT = 60  # seconds before a first retry in the command test: "at once" means well under it


class Recorder:
    """A tiny HTTP server on 127.0.0.1 that logs every request and answers with `reply(path)`."""

    def __init__(self, reply):
        self.requests: List[Dict[str, Any]] = []
        self.reply = reply
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                recorder.requests.append({"path": self.path, "authorization": self.headers.get("Authorization")})
                status, headers, body = recorder.reply(self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "Recorder":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


EMPTY_PAGE = b'{"data": [], "meta": {"pagination": {"total": 0, "count": 0, "per_page": 100, "current_page": 1, "total_pages": 1, "links": []}}}'


@pytest.fixture
def target():
    """Where the redirect points: it must never be asked anything (it would answer a valid page)."""
    with Recorder(lambda path: (200, {"Content-Type": "application/json"}, EMPTY_PAGE)) as server:
        yield server


def redirecting(status: int, location):
    """A server answering every request with `status` and Location `location(path)`."""
    return Recorder(lambda path: (status, {"Location": location(path), "Content-Type": "text/html"}, b"<html>moved</html>"))


def run_command(args, cwd, env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "TALLYFY_"))}
    env.update(env_extra, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "pipelines.tallyfy_pipeline", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_the_command_fails_at_once_on_a_redirect_without_following_it(tmp_path, target, status):
    new_base = f"{target.root}/v2/api"
    with redirecting(status, lambda path: new_base + path[len("/api"):]) as old:
        env = {"SOURCES__TALLYFY__BASE_URL": f"{old.root}/api", "SOURCES__TALLYFY__ORG_ID": ORG,
               "SOURCES__TALLYFY__ACCESS_TOKEN": SECRET, "RUNTIME__REQUEST_BACKOFF_FACTOR": str(RETRY_WAIT)}
        started = time.monotonic()
        result = run_command(["--pipelines-dir", str(tmp_path / "p"), "--duckdb-file", str(tmp_path / "t.duckdb")],
                             tmp_path, env)
        elapsed = time.monotonic() - started
    assert target.requests == []  # never followed: the token went nowhere else
    paths = sorted(r["path"].split("?")[0] for r in old.requests)
    # no retry, and the run stops at the first redirect (the base URL is every org's and resource's)
    # (the activity feed has two readers: the workflow's shared feed read and the activity table)
    feed = f"/api/organizations/{ORG}/activity-feeds"
    assert paths and len(paths) - min(paths.count(feed), 2) == len(set(paths) - {feed})
    # (the resources run side by side: the workflow's first request may be out before the stop)
    assert set(paths) <= {f"/api/organizations/{ORG}/{p}" for p in ("users", "groups", "tags", "guests",
                                                                     "activity-feeds", "checklists", "runs", "tasks")}
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("tallyfy-load: ") and f"HTTP {status}" in lines[0], lines[0]
    assert f"point base_url at {new_base} " in lines[0], lines[0]
    assert SECRET not in result.stdout + result.stderr
    assert elapsed < RETRY_WAIT, elapsed  # a single retry would have waited this long


def get(base_url: str, path: str = f"organizations/{ORG}/users"):
    client = make_client(base_url, SECRET, session=make_session(max_attempts=3, backoff_factor=0.01))
    return client.get(path, params={"per_page": 100, "page": 1}, hooks={"response": [check_response]})


def redirect_error(location: str, base_path: str = "/api") -> TallyfyAPIError:
    with redirecting(301, lambda path: location) as old:
        with pytest.raises(TallyfyAPIError) as caught:
            get(old.root + base_path)
    assert len(old.requests) == 1
    assert caught.value.status == 301
    message = str(caught.value)
    assert "\n" not in message and SECRET not in message
    return caught.value


def test_a_location_on_another_path_suggests_the_base_above_the_same_endpoint_path(target):
    message = str(redirect_error(f"{target.root}/tallyfy/api/organizations/{ORG}/users?per_page=100&page=1"))
    assert message == (
        f"HTTP 301 on GET /api/organizations/{ORG}/users: the API redirected to"
        f" {target.root}/tallyfy/api/organizations/{ORG}/users; point base_url at {target.root}/tallyfy/api"
        " (the connector never follows redirects, so the token is not sent to another host)"
    )
    assert target.requests == []


def test_a_location_elsewhere_suggests_its_scheme_and_host(target):
    message = str(redirect_error(f"{target.root}/login"))
    assert f"redirected to {target.root}/login; point base_url at {target.root} " in message


def test_a_relative_location_is_read_against_the_request(target):
    message = str(redirect_error(f"/v3/organizations/{ORG}/users"))
    assert "point base_url at http://127.0.0.1:" in message and "/v3 (" in message


def test_credentials_and_query_of_the_location_never_show(target):
    host = target.root.split("//")[1]
    message = str(redirect_error(f"http://leakuser:leakpass@{host}/api/organizations/{ORG}/users?token=leaktoken"))
    for secret in ("leakuser", "leakpass", "leaktoken", "token="):
        assert secret not in message, message
    assert f"point base_url at http://{host}/api " in message
    assert target.requests == []


def test_a_redirect_without_location_still_fails_at_once():
    with Recorder(lambda path: (302, {}, b"")) as old:
        with pytest.raises(TallyfyAPIError) as caught:
            get(old.root + "/api")
    assert caught.value.status == 302 and len(old.requests) == 1
    assert "no Location" in str(caught.value)


def test_the_session_never_follows_redirects_even_without_the_hook(target):
    """Defense in depth: any request through the session, hook or not, stays on the first host."""
    with redirecting(307, lambda path: f"{target.root}{path}") as old:
        session = make_session(max_attempts=3, backoff_factor=0.01)
        with pytest.raises(TallyfyAPIError) as caught:
            session.get(f"{old.root}/api/x", headers={"Authorization": f"Bearer {SECRET}"})
    assert caught.value.status == 307 and len(old.requests) == 1 and target.requests == []
