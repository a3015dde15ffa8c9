"""Progress a person can watch (issue 18): pages read of pages known per table and org, rows,
requests left in the budget's minute and time to go, on stderr only (never mixed into the
summary on stdout); a live bar on a terminal, log lines elsewhere; silent by default."""

import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios

from pipelines.tallyfy_pipeline import progress_collector
from tallyfy_source.api.budget import RequestBudget
from tallyfy_source.read.progress import eta_seconds
from tests.pipelines.test_command import REPO, run_command

ARGS = ["--resources", "members,tags", "--per-page", "20", "--requests-per-minute", "6000"]


def files(tmp_path):
    return ["--pipelines-dir", str(tmp_path / "p"), "--duckdb-file", str(tmp_path / "t.duckdb")]


def test_log_lines_on_stderr_name_pages_of_pages_known_rows_and_budget(sim, tmp_path):
    result = run_command(ARGS + ["--progress", "log"] + files(tmp_path), tmp_path, sim.env())
    assert result.returncode == 0, result.stderr
    members_pages = -(-sim.org.count("members") // 20)
    lines = [line for line in result.stderr.splitlines() if "members pages" in line]
    assert lines, result.stderr
    assert any(f"/{members_pages} " in line and "rows" in line and "requests left this minute" in line
               for line in lines), lines
    assert "pages" not in result.stdout and "requests left" not in result.stdout  # the summary stays clean


def test_silent_by_default(sim, tmp_path):
    result = run_command(ARGS + files(tmp_path), tmp_path, sim.env())
    assert result.returncode == 0 and "pages" not in result.stderr + result.stdout


def test_a_terminal_gets_a_live_bar(sim, tmp_path):
    """stderr on a pseudo-terminal: `--progress` draws tqdm bars (carriage returns, a percentage)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "TALLYFY_"))}
    env.update(sim.env(), PYTHONPATH=str(REPO))
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # a terminal has a size
    process = subprocess.Popen([sys.executable, "-m", "pipelines.tallyfy_pipeline", *ARGS, "--progress", *files(tmp_path)],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = process.communicate(timeout=120)
    os.close(leader)
    assert process.returncode == 0
    text = seen.decode(errors="replace")
    assert "members pages" in text and "%|" in text and "\r" in text, text[-2000:]
    assert b"pages" not in stdout


def test_the_collector_follows_the_mode_and_the_stream():
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    assert progress_collector(None) is None
    assert type(progress_collector("auto", Terminal())).__name__ == "TqdmCollector"
    assert type(progress_collector("auto", io.StringIO())).__name__ == "LogCollector"
    assert type(progress_collector("log", Terminal())).__name__ == "LogCollector"
    assert type(progress_collector("bar", io.StringIO())).__name__ == "TqdmCollector"


def test_time_to_go_is_the_pages_left_at_the_rate_so_far():
    assert eta_seconds(1, 10, 0.0) is None  # one page: no rate yet
    assert eta_seconds(3, 10, 4.0) == 14.0  # 2 pages in 4 s after the first; 7 left
    assert eta_seconds(10, 10, 9.0) == 0.0 and eta_seconds(4, None, 3.0) is None


def test_requests_left_in_the_window_count_down_and_recover():
    clock = [100.0]
    budget = RequestBudget(60, clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    assert budget.left_in_window() == 10  # the 10 s window allows a sixth of 60
    for _ in range(4):
        budget.acquire()
    assert budget.left_in_window() == 6
    clock[0] += 11
    assert budget.left_in_window() == 10
