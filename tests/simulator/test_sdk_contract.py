"""The official Python SDK (PyPI `tallyfy`) reads the simulator without an error, with results
where the org has data: its directory and workflow read methods, in-process and against
`python -m tallyfy_source.simulator`."""

import os
import re
import subprocess
import sys

import pytest
import tallyfy  # the test extra pins it: a missing SDK fails the suite, it is not skipped

from tallyfy_source.simulator import Simulator, SyntheticOrg


@pytest.fixture(scope="module")
def org():
    return SyntheticOrg.generate(seed=13, members=25, groups=6, tags=15, guests=6, templates=5, processes=20,
                                 oneoff_tasks=6)


def _reads(sdk, o):
    """(name, result) of every read method the SDK offers for the data the simulator serves."""
    with o.lock:
        task = next(t for t in o.values("tasks") if t["run_id"])
        oneoff = next(t for t in o.values("tasks") if not t["run_id"])
        member = next(iter(o.values("members")))
        group = next(iter(o.values("groups")))
        tag = next(iter(o.values("tags")))
        guest = next(iter(o.values("guests")))
        tmpl = next(t for t in o.values("checklists") if t["prerun"])
    org_id = o.org_id
    return [
        ("get_current_user_organizations", sdk.get_current_user_organizations()),
        ("get_organization", sdk.get_organization(org_id)),
        ("get_user", sdk.get_user(org_id, member["id"])),
        ("get_organization_users", sdk.get_organization_users(org_id, with_groups=True)),
        ("get_organization_users_list", sdk.get_organization_users_list(org_id)),
        ("get_organization_guests", sdk.get_organization_guests(org_id, with_stats=True)),
        ("get_organization_guests_list", sdk.get_organization_guests_list(org_id)),
        ("get_guest", sdk.get_guest(org_id, guest["email"])),
        ("get_groups", sdk.get_groups(org_id)),
        ("get_group", sdk.get_group(org_id, group["id"])),
        ("get_tags", sdk.get_tags(org_id)),
        ("get_tag", sdk.get_tag(org_id, tag["id"])),
        ("get_all_templates", sdk.get_all_templates(org_id)),
        ("get_template", sdk.get_template(org_id, template_id=tmpl["id"])),
        ("get_template_with_steps", sdk.get_template_with_steps(org_id, template_id=tmpl["id"])),
        ("get_template_steps", sdk.get_template_steps(org_id, tmpl["id"])),
        ("get_kickoff_form_fields", sdk.get_kickoff_form_fields(org_id, tmpl["id"])),
        ("get_organization_runs", sdk.get_organization_runs(org_id, with_data="checklist,tags")),
        ("get_process", sdk.get_process(org_id, task["run_id"], with_="tasks,tags")),
        ("get_tasks_for_process", sdk.get_tasks_for_process(org_id, process_id=task["run_id"])),
        ("get_task", sdk.get_task(org_id, task["run_id"], task["id"], with_="run,step")),
        ("get_standalone_task", sdk.get_standalone_task(org_id, oneoff["id"])),
        ("get_user_tasks", sdk.get_user_tasks(org_id, task["owners"]["users"][0])),
        ("get_task_comments", sdk.get_task_comments(org_id, task["run_id"], task["id"])),
    ]


def _empty(result):
    data = getattr(result, "data", result)
    return data is None or (isinstance(data, (list, dict)) and not data)


def test_every_sdk_read_works_against_the_simulator(org):
    with Simulator(org) as s:
        root = s.root_url  # the SDK's base URL has no `/api`
        with tallyfy.TallyfySDK(api_key=s.token, base_url=root, max_retries=0) as sdk:
            results = _reads(sdk, org)
        assert s.request_count() > 0 and all(r["status"] == 200 for r in s.requests), \
            [(r["path"], r["status"]) for r in s.requests if r["status"] != 200]
        assert {r["headers"]["X-Tallyfy-Client"] for r in s.requests} == {"TallyfySDK"}
    empty = [name for name, result in results if _empty(result) and name != "get_task_comments"]
    assert not empty, f"empty results: {empty}"
    steps = dict(results)["get_template_steps"]
    assert steps and all(isinstance(c, tallyfy.Capture) for st in steps for c in st.captures)


def test_python_m_simulator_serves_the_sdk(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "tallyfy_source.simulator", "--port", "0", "--members", "10",
                             "--groups", "3", "--tags", "5", "--guests", "3", "--templates", "3",
                             "--processes", "5"], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        lines = []
        while not any(line.strip().startswith("token:") for line in lines):
            line = proc.stdout.readline()
            assert line, "the simulator exited: " + "".join(lines)
            lines.append(line)
        text = "".join(lines)
        base = re.search(r"listening on (\S+)", text).group(1)
        token = re.search(r"token: (\S+)", text).group(1)
        org_id = re.search(r"org (\w+):", text).group(1)
        with tallyfy.TallyfySDK(api_key=token, base_url=base.removesuffix("/api"), max_retries=0) as sdk:
            runs = sdk.get_organization_runs(org_id)
            assert runs.data
            tasks = sdk.get_tasks_for_process(org_id, process_id=runs.data[0].id)
            assert tasks.data and sdk.get_all_templates(org_id)
            assert sdk.get_organization_users(org_id).data
    finally:
        proc.terminate()
        proc.wait(timeout=10)
