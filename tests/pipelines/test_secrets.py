"""The access token never shows up in anything a run writes: stdout, stderr (every log level,
`--progress`), exception messages, dlt's trace and state, the pipeline folder or the tables."""

import os
import subprocess
import sys
import traceback
from pathlib import Path

import dlt
import pytest

from tallyfy_source import tallyfy_source
from tallyfy_source.simulator import Simulator
from tallyfy_source.simulator.faults import Fault, FaultPlan
from tests.conftest import make_org

REPO = Path(__file__).resolve().parents[2]
SECRET = "tok-SECRET-9f8e7d6c5b4a"
ORG = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
UNKNOWN = "cccc2222cccc2222cccc2222cccc2222"
# with workflow data: every run below also loads templates, processes, tasks, comments, activity
SMALL = dict(members=120, groups=15, tags=20, guests=15, templates=3, processes=8, oneoff_tasks=5)
ACTIVITY_START = "2025-01-01"  # the whole generated feed


def leaks(folder: Path, *texts: str):
    """Where the token (or its 12 distinctive characters) appears: outputs and every file."""
    needles = [SECRET.encode(), SECRET[-12:].encode()]
    found = [f"output {i}" for i, text in enumerate(texts) if any(n.decode() in text for n in needles)]
    for path in folder.rglob("*"):
        if path.is_file() and any(n in path.read_bytes() for n in needles):
            found.append(str(path.relative_to(folder)))
    return found


CASES = {
    # name: (simulator settings, extra args, expected exit code)
    "success-verbose-progress-debug": (dict, ["-v", "--progress"], 0),
    "retries": (lambda: dict(faults=FaultPlan.random(seed=5, rate=0.3)), ["-v", "--per-page", "20"], 0),
    "401": (lambda: dict(token="the-server-wants-another-token"), ["-v"], 1),
    "403": (lambda: dict(forbidden_orgs=[ORG]), ["-v"], 1),
    "404": (lambda: dict(unknown_org_status=404), ["-v", "--org", UNKNOWN], 1),
    "bad-input": (dict, ["--per-page", "0"], 2),
}


def run_command(sim, tmp_path, extra, how):
    """`tallyfy-load` as a subprocess with the token from the env or a flag, DEBUG logging."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "TALLYFY_"))}
    env.update(PYTHONPATH=str(REPO), RUNTIME__LOG_LEVEL="DEBUG", RUNTIME__REQUEST_BACKOFF_FACTOR="0.05",
               SOURCES__TALLYFY__ACTIVITY_START_DATE=ACTIVITY_START)
    args = ["--base-url", sim.base_url, "--pipelines-dir", str(tmp_path / "pipelines"),
            "--duckdb-file", str(tmp_path / "tallyfy_data.duckdb"), "--requests-per-minute", "100000", *extra]
    if "--org" not in extra:
        args += ["--org", ORG]
    if how == "env":
        env["SOURCES__TALLYFY__ACCESS_TOKEN"] = SECRET
    else:
        args += ["--access-token", SECRET]
    return subprocess.run([sys.executable, "-m", "pipelines.tallyfy_pipeline", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("how", ["env", "flag"])
@pytest.mark.parametrize("case", list(CASES))
def test_the_token_appears_in_nothing_the_run_writes(tmp_path, case, how):
    make_settings, extra, code = CASES[case]
    settings = make_settings()
    sim = Simulator(orgs=[make_org(ORG, **SMALL)], token=settings.pop("token", SECRET), **settings).start()
    try:
        result = run_command(sim, tmp_path, extra, how)
    finally:
        sim.stop()
    assert result.returncode == code, result.stderr[-2000:]
    assert sim.request_count() > 0 or case == "bad-input"
    if case.startswith("success"):
        assert "DEBUG" in result.stderr and (tmp_path / "tallyfy_data.duckdb").exists()
        assert sim.request_count(resource="runs", status=200) > 0 and sim.request_count(resource="activity") > 0
    if case == "retries":
        assert sim.faults.fired and "retry 1:" in result.stderr
        assert {f["resource"] for f in sim.faults.fired} & {"checklists", "runs", "tasks", "activity"}
    assert leaks(tmp_path, result.stdout, result.stderr) == []


@pytest.mark.parametrize("how", ["env", "flag"])
def test_the_token_appears_in_nothing_an_incremental_workflow_run_writes_through_retries_and_failures(tmp_path, how):
    """Between sweeps: retried and failing single-record GETs (a changed process, template and
    one-off task) and a retried feed read; the run fails for the org in one line."""
    sim = Simulator(orgs=[make_org(ORG, **SMALL)], token=SECRET).start()
    try:
        first = run_command(sim, tmp_path, ["-v"], how)
        assert first.returncode == 0, first.stderr[-2000:]
        org = sim.org
        task = next(t for t in org.values("tasks") if t["run_id"] and t["status"] != "completed")
        org.complete_task(task["id"])
        template = org.values("checklists")[0]["id"]
        org.edit_template(template, title="Renamed")
        oneoff = org.add_oneoff_task("Call the auditor")["id"]
        sim.faults = FaultPlan([Fault("status", status=503, resource="activity"),
                                Fault("truncated", resource="runs", item=True, key=task["run_id"]),
                                Fault("retry_after", retry_after="0", resource="checklists", item=True, key=template),
                                Fault("status", status=500, resource="tasks", item=True, key=oneoff, times=None)])
        second = run_command(sim, tmp_path, ["-v", "--progress"], how)
    finally:
        sim.stop()
    assert second.returncode == 1, second.stderr[-2000:]
    assert f"tasks/{oneoff}" in second.stderr and "retry 1:" in second.stderr
    assert len(sim.faults.fired) >= 4 and sim.request_count(kind="item") > 4
    assert leaks(tmp_path, first.stdout, first.stderr, second.stdout, second.stderr) == []


def test_the_token_is_not_in_exception_messages_traces_or_state(tmp_path):
    """In-process: the exception dlt raises for a rejected token, its whole chain and
    traceback, the pipeline's last trace and its state."""
    with Simulator(orgs=[make_org(ORG, **SMALL)], token="the-server-wants-another-token") as sim:
        pipeline = dlt.pipeline("secret_test", pipelines_dir=str(tmp_path / "pipelines"),
                                destination=dlt.destinations.duckdb(str(tmp_path / "t.duckdb")))
        with pytest.raises(Exception) as raised:
            pipeline.run(tallyfy_source(org_id=ORG, access_token=SECRET, base_url=sim.base_url))
    text = "".join(traceback.format_exception(raised.value))
    chain, error = [], raised.value
    while error is not None:
        chain.append(repr(error) + str(error))
        error = getattr(error, "exception", None) or error.__cause__ or error.__context__
    assert "HTTP 401" in text
    trace = repr(pipeline.last_trace) + str(pipeline.last_trace.asdict() if pipeline.last_trace else "")
    assert SECRET not in text and not any(SECRET in c for c in chain)
    assert SECRET not in trace and SECRET not in repr(pipeline.state)
    assert leaks(tmp_path) == []


def test_the_leak_check_finds_a_token_wherever_it_is(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.bin").write_bytes(b"\x00" + SECRET[-12:].encode() + b"\x00")
    assert leaks(tmp_path) == ["a/b/x.bin"]
    assert leaks(tmp_path / "a" / "b" / "none", "Bearer " + SECRET) == ["output 0"]
