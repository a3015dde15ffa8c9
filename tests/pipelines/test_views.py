"""The reporting views hold what the simulator's data says, computed here independently.

Every test runs on each SQL destination of the `destination` fixture (DuckDB, PostgreSQL)
and reads through `loader.table(...)` / `loader.rows(...)` only.
"""

from collections import Counter
from typing import Any, Dict, List

import dlt
import pytest

from pipelines.views import VIEWS, create_views
from tallyfy_source.simulator import Simulator, SyntheticOrg
from tests.conftest import TOKEN, Loader
from tests.expected import records, table_row

ALL_VIEWS = ["tag_usage", "tag_statistics_check", "group_membership", "member_directory", "group_summary",
             "tag_activity"]
TAG_VIEWS = ["tag_usage", "tag_statistics_check", "tag_activity"]  # what the tags alone give
BIG_ORG = "b16b16b16b16b16b16b16b16b16b16b1"
ZERO_ORG = "00000000000000000000000000000abc"


def make_orgs():
    """Two orgs: one with every case the views classify, one whose tags are all unused."""
    org = SyntheticOrg.generate(BIG_ORG, members=40, groups=8, tags=60, guests=12, seed=21)
    members, groups, guests, tags = records(org.members), records(org.groups), records(org.guests), records(org.tags)
    org.update_member(members[0]["id"], role="Admin")  # upstream sometimes capitalises roles
    org.update_member(members[1]["id"], role="Light", status="disabled")
    org.update_group(groups[0]["id"], guests=[guests[0]["email"], guests[1]["email"]])
    org.update_group(groups[1]["id"], members=[], guests=[guests[1]["email"]])
    org.set_tag_statistics(tags[0]["id"], active_template=0, archived_template=0, active_process=0, archived_process=0)
    org.set_tag_statistics(tags[1]["id"], active_template=0, archived_template=2, active_process=0, archived_process=5)
    org.set_tag_statistics(tags[2]["id"], active_template=1, archived_template=0, active_process=0, archived_process=0)
    zero = SyntheticOrg.generate(ZERO_ORG, members=6, groups=2, tags=5, guests=2, seed=22)
    for tag in records(zero.tags):
        zero.set_tag_statistics(tag["id"], active_template=0, archived_template=0, active_process=0, archived_process=0)
    return [org, zero]


@pytest.fixture
def views_sim():
    server = Simulator(orgs=make_orgs(), token=TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def views_loader(views_sim, tmp_path, destination):
    return Loader(views_sim, tmp_path, destination)


def orgs_of(sim) -> List[SyntheticOrg]:
    return [sim.orgs[org_id] for org_id in sim.org_ids]


# --- what the views must hold, from the simulator's records -----------------------------

def expected_tag_usage(orgs) -> Dict[tuple, Dict[str, Any]]:
    out = {}
    for org in orgs:
        tags = org.served("tags", include=["statistics"])
        totals = {t["id"]: sum(t["statistics"]["data"].values()) for t in tags}
        org_total = sum(totals.values())
        for tag in tags:
            s = tag["statistics"]["data"]
            active = s["active_template"] + s["active_process"]
            archived = s["archived_template"] + s["archived_process"]
            total = totals[tag["id"]]
            out[(org.org_id, tag["id"])] = {
                "title": tag["title"], "color": tag["color"], "auto_generated": tag["auto_generated"],
                "created_at": table_row(tag, org.org_id)["created_at"],
                "active_templates": s["active_template"], "archived_templates": s["archived_template"],
                "active_processes": s["active_process"], "archived_processes": s["archived_process"],
                "running_processes": 0,  # no process loaded here: tests/pipelines/test_workflow_views.py
                "active_usage": active, "archived_usage": archived, "total_usage": total,
                "share_of_total": total / org_total if org_total else 0.0,
                "usage_class": "unused" if total == 0 else "archived-only" if active == 0 else "active",
            }
    return out


def expected_group_membership(orgs) -> List[tuple]:
    rows = []
    for org in orgs:
        members = {m["id"]: m for m in org.served("members")}
        guests = {g["email"]: g for g in org.served("guests")}
        for group in org.served("groups"):
            for idx, member_id in enumerate(group["members"]):
                m = members[member_id]
                rows.append((org.org_id, group["id"], group["name"], False, member_id, m["email"],
                             m["full_name"], m["role"].lower(), m["status"], idx))
            for idx, email in enumerate(group["guests"]):
                g = guests[email]
                name = " ".join(n for n in (g["first_name"], g["last_name"]) if n) or None
                rows.append((org.org_id, group["id"], group["name"], True, None, email,
                             name, None, g["details"]["status"], idx))
    return sorted(rows, key=repr)


def expected_member_directory(orgs) -> Dict[tuple, Dict[str, Any]]:
    out = {}
    for org in orgs:
        groups = org.served("groups")
        for m in org.served("members"):
            names = sorted(g["name"] for g in groups if m["id"] in g["members"])
            row = table_row(m, org.org_id)
            out[(org.org_id, m["id"])] = {
                "email": m["email"], "full_name": m["full_name"], "job_title": m["job_title"],
                "team": m["team"], "role": m["role"].lower(), "status": m["status"],
                "groups_count": len(names), "group_names": names or None,
                "last_login_at": row["last_login_at"], "created_at": row["created_at"],
            }
    return out


def expected_group_summary(orgs) -> Dict[tuple, Dict[str, Any]]:
    out = {}
    for org in orgs:
        status = {m["id"]: m["status"] for m in org.served("members")}
        for g in org.served("groups"):
            row = table_row(g, org.org_id)
            out[(org.org_id, g["id"])] = {
                "group_name": g["name"], "description": g["description"],
                "members_count": len(g["members"]),
                "active_members_count": sum(status[m] == "active" for m in g["members"]),
                "guests_count": len(g["guests"]),
                "created_at": row["created_at"], "updated_at": row["updated_at"],
            }
    return out


# --- what the views hold ---------------------------------------------------------------

def view_rows(loader, view: str, key: tuple) -> Dict[tuple, Dict[str, Any]]:
    rows = loader.table(view)
    keyed = {tuple(r[k] for k in key): {c: v for c, v in r.items() if c not in key} for r in rows}
    assert len(keyed) == len(rows), f"duplicate keys in {view}"
    return keyed


def directory_rows(loader) -> Dict[tuple, Dict[str, Any]]:
    rows = view_rows(loader, "member_directory", ("org_id", "member_id"))
    for row in rows.values():  # the order of names inside the string follows the database's collation
        row["group_names"] = sorted(row["group_names"].split(", ")) if row["group_names"] else None
    return rows


def membership_rows(loader) -> List[tuple]:
    columns = ("org_id", "group_id", "group_name", "is_guest", "member_id", "email", "full_name",
               "role", "status", "list_position")
    return sorted((tuple(r[c] for c in columns) for r in loader.table("group_membership")), key=repr)


def assert_views_equal_simulator(loader, orgs) -> None:
    assert view_rows(loader, "tag_usage", ("org_id", "tag_id")) == expected_tag_usage(orgs)
    assert membership_rows(loader) == expected_group_membership(orgs)
    assert directory_rows(loader) == expected_member_directory(orgs)
    assert view_rows(loader, "group_summary", ("org_id", "group_id")) == expected_group_summary(orgs)


# --- tests ---------------------------------------------------------------------------------

def test_a_full_load_gets_every_view_and_each_equals_the_simulator_data(views_sim, views_loader):
    pipeline, _ = views_loader.run()
    assert create_views(pipeline) == ALL_VIEWS
    # the workflow views: tests/pipelines/test_workflow_views.py; tag_activity: tests/pipelines/test_tag_activity.py
    assert [v.name for v in VIEWS if v.name in ALL_VIEWS] == ALL_VIEWS
    assert_views_equal_simulator(views_loader, orgs_of(views_sim))


def test_tag_usage_classes_and_shares_per_org(views_sim, views_loader):
    pipeline, _ = views_loader.run(resources=["tags"])
    create_views(pipeline)
    big, zero = orgs_of(views_sim)
    tags = records(big.tags)
    classes = dict(views_loader.rows(
        f"SELECT tag_id, usage_class FROM tallyfy.tag_usage WHERE tag_id IN"
        f" ('{tags[0]['id']}', '{tags[1]['id']}', '{tags[2]['id']}')"))
    assert classes == {tags[0]["id"]: "unused", tags[1]["id"]: "archived-only", tags[2]["id"]: "active"}
    assert Counter(c for _, c in views_loader.rows("SELECT tag_id, usage_class FROM tallyfy.tag_usage")) == Counter(
        row["usage_class"] for row in expected_tag_usage(orgs_of(views_sim)).values())
    shares = dict(views_loader.rows("SELECT org_id, SUM(share_of_total) FROM tallyfy.tag_usage GROUP BY org_id"))
    assert shares[big.org_id] == pytest.approx(1.0)
    assert shares[zero.org_id] == 0  # an org whose tags are all unused: no division by zero


def test_group_membership_marks_guests_and_normalises_roles(views_sim, views_loader):
    pipeline, _ = views_loader.run()
    create_views(pipeline)
    big = orgs_of(views_sim)[0]
    admin = records(big.members)[0]
    group = records(big.groups)[0]
    guests = views_loader.rows(
        f"SELECT email FROM tallyfy.group_membership WHERE group_id = '{group['id']}' AND is_guest"
        " ORDER BY list_position")
    assert guests == [(email,) for email in group["guests"]]
    roles = views_loader.rows(
        f"SELECT role FROM tallyfy.member_directory WHERE org_id = '{big.org_id}' AND member_id = {admin['id']}")
    assert roles == [("admin",)]
    assert not views_loader.rows("SELECT role FROM tallyfy.group_membership WHERE role <> LOWER(role)")


def test_members_in_no_group_have_zero_groups_and_empty_groups_have_zero_members(views_sim, views_loader):
    pipeline, _ = views_loader.run()
    create_views(pipeline)
    orgs = orgs_of(views_sim)
    in_a_group = {(o.org_id, m) for o in orgs for g in records(o.groups) for m in g["members"]}
    no_group = {(o.org_id, m["id"]) for o in orgs for m in records(o.members)} - in_a_group
    assert no_group, "the test org should have members in no group"
    assert set(views_loader.rows("SELECT org_id, member_id FROM tallyfy.member_directory WHERE groups_count = 0")) == no_group
    emptied = records(orgs[0].groups)[1]["id"]
    assert views_loader.rows(
        f"SELECT members_count, guests_count FROM tallyfy.group_summary WHERE group_id = '{emptied}'") == [(0, 1)]


def test_only_views_whose_tables_exist_are_created(views_sim, views_loader):
    assert create_views(views_loader.pipeline()) == []  # nothing loaded yet
    pipeline, _ = views_loader.run(resources=["tags"])
    assert create_views(pipeline) == TAG_VIEWS
    pipeline, _ = views_loader.run(resources=["members"])
    assert create_views(pipeline) == TAG_VIEWS  # the member views need groups too
    pipeline, _ = views_loader.run(resources=["groups"])
    assert create_views(pipeline) == ALL_VIEWS


def test_views_answer_before_any_group_has_members_or_guests(destination, tmp_path):
    org = SyntheticOrg.generate(BIG_ORG, members=5, groups=3, tags=2, guests=0, memberships_per_group=0, seed=5)
    for group in records(org.groups):
        org.update_group(group["id"], members=[], guests=[])
    with Simulator(orgs=[org], token=TOKEN) as server:
        loader = Loader(server, tmp_path, destination)
        pipeline, _ = loader.run()
        assert create_views(pipeline) == ALL_VIEWS  # no groups__members / guests tables yet
        assert_views_equal_simulator(loader, [org])
        assert loader.rows("SELECT count(*) FROM tallyfy.group_membership") == [(0,)]


def test_views_follow_the_next_load(views_sim, views_loader):
    pipeline, _ = views_loader.run()
    create_views(pipeline)
    big = orgs_of(views_sim)[0]
    tag, member, group = records(big.tags)[5], records(big.members)[3], records(big.groups)[2]
    big.set_tag_statistics(tag["id"], active_template=0, archived_template=0, active_process=0, archived_process=0)
    big.update_member(member["id"], role="Standard", status="disabled", full_name="Renamed Person")
    big.update_group(group["id"], name="Renamed Group", members=[member["id"]])
    pipeline, _ = views_loader.run()
    assert create_views(pipeline) == ALL_VIEWS  # re-creating is safe, every load
    assert_views_equal_simulator(views_loader, orgs_of(views_sim))


def test_rows_flagged_missing_upstream_are_left_out(views_sim, views_loader):
    pipeline, _ = views_loader.run()
    big = orgs_of(views_sim)[0]
    tag = records(big.tags)[4]["id"]
    with pipeline.sql_client() as client:  # what the "flag" delete mode leaves behind
        client.execute_sql("ALTER TABLE tallyfy.tags ADD COLUMN IF NOT EXISTS missing_since TIMESTAMP WITH TIME ZONE")
        client.execute_sql(f"UPDATE tallyfy.tags SET missing_since = CURRENT_TIMESTAMP WHERE id = '{tag}'")
    create_views(pipeline)
    assert views_loader.rows(f"SELECT count(*) FROM tallyfy.tag_usage WHERE tag_id = '{tag}'") == [(0,)]
    assert views_loader.rows("SELECT count(*) FROM tallyfy.tag_usage") == [(len(expected_tag_usage(orgs_of(views_sim))) - 1,)]


def test_destinations_without_sql_views_get_none(views_sim, tmp_path):
    destination = dlt.destinations.filesystem(bucket_url=str(tmp_path / "files"))
    loader = Loader(views_sim, tmp_path, destination, loader_file_format="parquet")
    pipeline, _ = loader.run(resources=["tags"])
    assert create_views(pipeline) == []


def test_tallyfy_load_creates_the_views_after_its_load(views_sim, tmp_path, capsys):
    """Through the command (DuckDB, its Parquet load path), as an analyst gets them."""
    from pipelines.tallyfy_pipeline import main

    db_path = tmp_path / "command.duckdb"
    argv = [arg for org_id in views_sim.org_ids for arg in ("--org", org_id)] + [
        "--base-url", views_sim.base_url, "--access-token", TOKEN, "--requests-per-minute", "100000",
        "--duckdb-file", str(db_path), "--pipelines-dir", str(tmp_path / "command_pipelines")]
    assert main(argv) == 0, capsys.readouterr().err
    loader = Loader(views_sim, tmp_path, dlt.destinations.duckdb(credentials=str(db_path)))
    assert_views_equal_simulator(loader, orgs_of(views_sim))
