"""`tallyfy-load` as a user runs it: demo, dlt config from env and toml, flags, one-line errors."""

import os
import shlex
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from pipelines.tallyfy_pipeline import main
from tests.expected import records

REPO = Path(__file__).resolve().parents[2]


def run_command(args, cwd, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "TALLYFY_"))}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "pipelines.tallyfy_pipeline", *args],
        cwd=cwd, env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )


def summary_counts(stdout):
    """table -> (loaded this run, rows in table) from the printed summary."""
    counts = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            counts[parts[0]] = (int(parts[1]), int(parts[2]))
    return counts


def readme_quick_start_commands(prefix):
    """The command lines of the README's Quick start that start with `prefix`, comments cut."""
    text = (REPO / "README.md").read_text()
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [line.split("#", 1)[0].strip() for line in quick_start.splitlines() if line.startswith(prefix)]


def test_demo_loads_the_synthetic_org_and_prints_a_summary(tmp_path):
    """As `make demo` runs it (dlt's default pipelines folder, here moved by DLT_DATA_DIR); then the
    Quick start's `dlt pipeline ... info`, exactly as written, from the project folder."""
    env = {"DLT_DATA_DIR": str(tmp_path / "dlt_data")}
    result = run_command(["--demo"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    counts = summary_counts(result.stdout)
    assert set(counts) >= {"members", "groups", "tags", "guests", "groups__members", "groups__guests"}
    db = tmp_path / "tallyfy_demo.duckdb"  # the demo keeps its own file, apart from real loads
    assert str(db) in result.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        for table, (loaded, total) in counts.items():
            assert con.execute(f"SELECT count(*) FROM tallyfy.{table}").fetchone()[0] == total == loaded
    assert set(counts) >= {"templates", "processes", "tasks", "comments", "activity"}  # all nine tables
    assert set(counts) >= {"tag_statistics_history", "members_history", "processes_history", "process_tags_history"}
    with duckdb.connect(str(db), read_only=True) as con:  # the demo's org ends today, whatever day it runs
        [(open_tasks, overdue)] = con.execute("SELECT count(*) FILTER (WHERE is_open),"
                                              " count(*) FILTER (WHERE is_overdue) FROM tallyfy.task_performance").fetchall()
        assert 0 < overdue < open_tasks / 2, (overdue, open_tasks)
        [(recent,)] = con.execute("SELECT sum(launches_last_30_days) FROM tallyfy.template_usage").fetchall()
        assert recent > 0
        [(newest,)] = con.execute("SELECT max(created_at) FROM tallyfy.activity").fetchall()
        assert timedelta(0) <= datetime.now(timezone.utc) - newest < timedelta(days=2)

    commands = readme_quick_start_commands(".venv/bin/dlt pipeline ")
    assert ".venv/bin/dlt pipeline tallyfy_demo info" in commands, commands
    if not (REPO / ".venv" / "bin" / "dlt").exists():
        pytest.skip("no .venv/bin/dlt in the project folder (run `make setup`)")
    for command in commands:
        done = subprocess.run(shlex.split(command), cwd=REPO, capture_output=True, text=True, timeout=120,
                              env={**os.environ, **env})
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        if " info" in command:
            assert "pipeline_name: tallyfy_demo" in done.stdout and "dataset_name: tallyfy" in done.stdout
            assert "Resources in schema: tallyfy" in done.stdout
        else:
            assert "tallyfy_demo" in done.stdout, done.stdout


def test_help_says_what_the_command_loads_and_where_the_dlt_command_is(tmp_path):
    result = run_command(["--help"], tmp_path)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for table in ("members", "groups", "tags", "guests", "templates", "processes", "tasks", "comments", "activity"):
        assert table in text.split("options:")[0], table  # in the description, not only in --resources
    dlt_tool = Path(sys.executable).parent / "dlt"
    assert f"{dlt_tool} pipeline tallyfy info" in text and f"{dlt_tool} pipeline tallyfy_demo info" in text


def test_config_from_environment_variables(sim, tmp_path):
    env = {
        "SOURCES__TALLYFY__ORG_ID": sim.org_ids[0],
        "SOURCES__TALLYFY__ACCESS_TOKEN": sim.token,
        "SOURCES__TALLYFY__BASE_URL": sim.base_url,
    }
    result = run_command(["--resources", "tags,guests", "--pipelines-dir", str(tmp_path / "p")], tmp_path, env)
    assert result.returncode == 0, result.stderr
    org = sim.orgs[sim.org_ids[0]]
    counts = summary_counts(result.stdout)
    assert counts["tags"] == (len(records(org.tags)), len(records(org.tags)))
    assert "members" not in counts


def test_config_from_dlt_toml_files_and_flags(sim, tmp_path):
    dlt_dir = tmp_path / ".dlt"
    dlt_dir.mkdir()
    (dlt_dir / "config.toml").write_text(f'[sources.tallyfy]\nbase_url = "{sim.base_url}"\n')
    (dlt_dir / "secrets.toml").write_text(f'[sources.tallyfy]\naccess_token = "{sim.token}"\n')
    db = tmp_path / "custom.duckdb"
    result = run_command(
        ["--org", sim.org_ids[0], "--resources", "groups", "--duckdb-file", str(db),
         "--dataset", "tf", "--pipelines-dir", str(tmp_path / "p")], tmp_path)
    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM tf.groups").fetchone()[0] == len(records(sim.orgs[sim.org_ids[0]].groups))


def test_second_run_summary_shows_nothing_loaded_but_full_tables(sim, tmp_path, capsys):
    args = ["--org", sim.org_ids[0], "--base-url", sim.base_url, "--access-token", sim.token,
            "--resources", "members", "--pipelines-dir", str(tmp_path / "p")]
    assert main(args) == 0
    assert main(args) == 0
    out = capsys.readouterr().out
    last = summary_counts(out.split("destination:")[-2])
    assert last["members"] == (0, len(records(sim.orgs[sim.org_ids[0]].members)))


@pytest.mark.parametrize("args,env,message", [
    ([], {}, "no org id"),
    (["--org", " ", "--access-token", "t"], {}, "no org id"),
    (["--org", "abc"], {}, "no access token"),
    (["--org", "abc", "--access-token", ""], {}, "no access token"),
    (["--org", "abc"], {"SOURCES__TALLYFY__ACCESS_TOKEN": "  "}, "no access token"),
    (["--org", "a/b", "--access-token", "t"], {}, "cannot be part of a URL path"),
    (["--org", "a b", "--access-token", "t"], {}, "cannot be part of a URL path"),
    (["--org", "..", "--access-token", "t"], {}, "cannot be part of a URL path"),
    (["--access-token", "t"], {"SOURCES__TALLYFY__ORG_ID": "abc?x=1"}, "cannot be part of a URL path"),
    (["--org", "abc", "--access-token", "t", "--base-url", "ftp://x"], {}, "not an http(s) URL"),
    (["--org", "abc", "--access-token", "t", "--base-url", "go.tallyfy.com/api"], {}, "not an http(s) URL"),
    (["--org", "abc", "--access-token", "t", "--base-url", "http://api.example.com"], {}, "clear text"),
    (["--org", "abc", "--access-token", "t", "--base-url", "http://10.0.0.5/api"], {}, "clear text"),
    (["--org", "abc", "--access-token", "t", "--resources", "members,widgets"], {}, "unknown resource widgets"),
    (["--org", "abc", "--access-token", "t", "--per-page", "500"], {}, "per_page 500"),
    (["--org", "abc", "--access-token", "t", "--per-page", "101"], {}, "per_page 101"),
    (["--org", "abc", "--access-token", "t", "--per-page", "0"], {}, "per_page 0"),
    (["--org", "abc", "--access-token", "t", "--per-page", "-5"], {}, "per_page -5"),
    (["--org", "abc", "--access-token", "t"], {"SOURCES__TALLYFY__PER_PAGE": "0"}, "per_page 0"),
    (["--org", "abc", "--access-token", "t", "--requests-per-minute", "0"], {}, "requests_per_minute 0"),
    (["--org", "abc", "--access-token", "t"], {"SOURCES__TALLYFY__REQUESTS_PER_MINUTE": "-1"}, "requests_per_minute -1"),
    (["--org", "abc", "--access-token", "t", "--destination", "nosuchdb"], {}, "unknown destination"),
])
def test_bad_input_fails_with_one_line_before_any_request(sim, tmp_path, capsys, monkeypatch, args, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if "--base-url" not in args:
        args = args + ["--base-url", sim.base_url]
    code = main(args + ["--pipelines-dir", str(tmp_path / "p")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and message in err, err
    assert sim.request_count() == 0
    assert not (tmp_path / "tallyfy_data.duckdb").exists()
    assert not (tmp_path / "p").exists()  # no pipeline folder, no state, no package


def test_rejected_token_fails_with_one_line_naming_org_and_fix(sim, tmp_path, capsys):
    code = main(["--org", sim.org_ids[0], "--base-url", sim.base_url, "--access-token", "wrong-token-123",
                 "--pipelines-dir", str(tmp_path / "p")])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1
    assert sim.org_ids[0] in err and "HTTP 401" in err and "logs out" in err
    assert "wrong-token-123" not in err


def _unusable_duckdb_paths(tmp_path):
    """case -> (the path given, what the one line must say)."""
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "a_file").write_text("not a folder")
    return {
        "missing parent folder": (tmp_path / "no_such_folder" / "t.duckdb", "folder"),
        "a directory": (tmp_path / "a_folder", "is a folder"),
        "a file where a folder should be": (tmp_path / "a_file" / "sub" / "t.duckdb", "is a file, not a folder"),
        "an unwritable place": (Path("/proc/tallyfy_test.duckdb"), "cannot write in /proc"),
    }


@pytest.mark.parametrize("case", ["missing parent folder", "a directory", "a file where a folder should be",
                                  "an unwritable place"])
def test_an_unusable_duckdb_path_is_one_line_exit_2_before_any_request(sim, tmp_path, capsys, case):
    path, says = _unusable_duckdb_paths(tmp_path)[case]
    if case == "an unwritable place" and not Path("/proc").is_dir():
        pytest.skip("needs Linux /proc")
    before = sorted(os.listdir(tmp_path))
    code = main(["--org", sim.org_ids[0], "--base-url", sim.base_url, "--access-token", sim.token,
                 "--pipelines-dir", str(tmp_path / "p"), "--duckdb-file", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"tallyfy-load: DuckDB file {path}") and says in err[0], err
    assert "--duckdb-file" in err[0] or "permissions" in err[0]  # the fix
    assert sim.token not in err[0]
    assert sim.request_count() == 0 and sim.requests == []
    assert sorted(os.listdir(tmp_path)) == before  # no folder made, no pipeline state


def test_an_unusable_duckdb_path_from_the_environment_is_refused_too(sim, tmp_path):
    result = run_command(["--pipelines-dir", str(tmp_path / "p")], tmp_path,
                         {**sim.env(), "TALLYFY_DUCKDB": str(tmp_path / "missing" / "t.duckdb")})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"tallyfy-load: DuckDB file {tmp_path}/missing/t.duckdb: folder {tmp_path}/missing does not exist:"
        f" create it (mkdir -p {tmp_path}/missing) or give another path with --duckdb-file (or $TALLYFY_DUCKDB)")
    assert sim.request_count() == 0
