"""The synthetic org: deterministic generation, record shapes and times, mutations and the clock
(mutations checked through the HTTP answers they change)."""

import re

import pytest

from tallyfy_source.simulator import SyntheticOrg, parse_ts
from tallyfy_source.simulator.timestamps import BASE_NOW, TS_STYLES, ts_style
from tests.simulator.support import all_rows, fresh, get, org  # noqa: F401 (fixtures)


# ------------------------------------------------------------------ synthetic data
def test_generate_is_deterministic():
    a = SyntheticOrg.generate(seed=11, members=50, groups=10, tags=20, guests=5)
    b = SyntheticOrg.generate(seed=11, members=50, groups=10, tags=20, guests=5)
    c = SyntheticOrg.generate(seed=12, members=50, groups=10, tags=20, guests=5)
    assert a == b and a.snapshot() == b.snapshot()
    assert a != c
    assert re.fullmatch(r"[0-9a-f]{32}", a.org_id) and a.org_id != c.org_id
    assert SyntheticOrg.generate("my-org", members=3, groups=1, tags=1, guests=1).org_id == "my-org"


def test_generated_shapes(org):
    members, groups, tags, guests = org.members, org.groups, org.tags, org.guests
    assert (len(members), len(groups), len(tags), len(guests)) == (300, 30, 200, 60)
    assert len({m["id"] for m in members}) == 300 and all(isinstance(m["id"], int) for m in members)
    assert len({m["email"] for m in members}) == 300
    assert {m["status"] for m in members} == {"active", "invited", "disabled"}
    assert all(m["last_login_at"] is None for m in members if m["status"] == "invited")
    assert all((m["disabled_at"] is not None) == (m["status"] == "disabled") for m in members)
    assert any(m["role"][0].isupper() for m in members)
    assert all(re.fullmatch(r"[0-9a-f]{32}", g["id"]) for g in groups + tags)
    assert len({g["name"] for g in groups}) == len(groups)
    assert any(not g["members"] for g in groups) or min(len(g["members"]) for g in groups) <= 2
    member_ids = {m["id"] for m in members}
    assert all(set(g["members"]) <= member_ids for g in groups)
    assert len({t["title"] for t in tags}) == 200 and all(len(t["title"]) <= 30 for t in tags)
    auto = [t for t in tags if t["auto_generated"]]
    assert 10 <= len(auto) <= 60
    assert all(re.match(r"(from|task|step):", t["title"]) for t in auto)
    assert all(t["color"] is None or re.fullmatch(r"#[0-9a-f]{6}", t["color"]) for t in tags)
    stats = list(org.tag_statistics.values())
    assert any(not any(s.values()) for s in stats)  # many zeros
    assert any(s["archived_process"] and not s["active_process"] for s in stats)  # archived-only
    assert len({g["email"] for g in guests}) == 60 and "status" in guests[0]["details"]
    assert set(org.member_stats) == member_ids and set(org.guest_stats) == {g["email"] for g in guests}


def test_timestamps_mixed_and_ordered(org):
    styles = {ts_style(m["created_at"]) for m in org.members}
    assert styles == set(range(len(TS_STYLES)))
    for rec in org.members + org.groups:
        created, updated = parse_ts(rec["created_at"]), parse_ts(rec["updated_at"])
        assert created <= updated < BASE_NOW == org.now
        assert ts_style(rec["created_at"]) == ts_style(rec["updated_at"])
        assert created.microsecond == 0
    same = sum(m["created_at"] == m["updated_at"] for m in org.members)
    assert 50 < same < 200
    updated = [m["updated_at"] for m in org.members]
    assert len(set(updated)) > 150 and len(set(updated)) < len(updated)  # distinct, with some ties


def test_memberships_per_group_average():
    big = SyntheticOrg.generate(members=300, groups=400, tags=1, guests=1, memberships_per_group=50, seed=1)
    assert 0.85 * 50 * 400 < big.memberships() < 1.1 * 50 * 400


# ------------------------------------------------------------------ mutations
def test_member_mutations_advance_clock_and_sort_first(fresh):
    s, o = fresh
    before = o.now
    target = o.members[5]["id"]
    cached_top = get(s, o.org_id, "users", "sort=-updated_at&per_page=1").json()["data"][0]
    assert cached_top["id"] != target  # the sorted order is cached; a mutation must invalidate it
    updated = o.update_member(target, job_title="Chief Tester")
    assert o.now > before and parse_ts(updated["updated_at"]) == o.now
    assert all(parse_ts(m["updated_at"]) < o.now for m in o.members if m["id"] != target)
    top = get(s, o.org_id, "users", "sort=-updated_at&per_page=1").json()["data"][0]
    assert (top["id"], top["job_title"]) == (target, "Chief Tester")
    new = o.add_member(first_name="Zed", email="zed@example.com")
    assert parse_ts(new["created_at"]) == o.now > parse_ts(updated["updated_at"])
    assert get(s, o.org_id, "users", "sort=-created_at&per_page=1").json()["data"][0]["email"] == "zed@example.com"
    assert get(s, o.org_id, f"users/{new['id']}").status_code == 200
    # delete: gone everywhere, groups that listed it were updated
    in_group = next(g for g in o.groups if g["members"])
    victim = in_group["members"][0]
    o.delete_member(victim)
    assert victim not in {m["id"] for m in all_rows(s, o.org_id, "users")}
    assert get(s, o.org_id, f"users/{victim}").status_code == 404
    g = get(s, o.org_id, f"groups/{in_group['id']}").json()["data"]
    assert victim not in g["members"] and parse_ts(g["last_updated"]) == o.now


def test_group_tag_guest_mutations(fresh):
    s, o = fresh
    grp = o.groups[0]
    o.update_group(grp["id"], members=[o.members[0]["id"]], guests=[])
    top = get(s, o.org_id, "groups", "sort_by=-updated_at&per_page=1").json()["data"][0]
    assert top["id"] == grp["id"] and top["members"] == [o.members[0]["id"]]
    o.delete_group(grp["id"])
    assert grp["id"] not in {g["id"] for g in all_rows(s, o.org_id, "groups")}
    new_group = o.add_group(name="Brand New Team")
    assert get(s, o.org_id, f"groups/{new_group['id']}").json()["data"]["name"] == "Brand New Team"

    tag = o.add_tag(title="Fresh Tag", statistics={"active_process": 4})
    o.set_tag_statistics(tag["id"], archived_process=9)
    o.update_tag(tag["id"], color="#000000")
    t = get(s, o.org_id, f"tags/{tag['id']}", "with=statistics").json()["data"]
    assert (t["color"], t["statistics"]["data"]["archived_process"], t["statistics"]["data"]["active_process"]) == (
        "#000000", 9, 4)
    assert "updated_at" not in t
    o.delete_tag(tag["id"])
    assert get(s, o.org_id, f"tags/{tag['id']}").status_code == 404

    guest = o.add_guest(email="new.guest@example.org")
    o.update_guest("new.guest@example.org", first_name="Neo")
    assert get(s, o.org_id, "guests", "q=new.guest").json()["data"][0]["first_name"] == "Neo"
    member_group = o.add_group(guests=[guest["email"]])
    o.delete_guest(guest["email"])
    assert get(s, o.org_id, "guests", "q=new.guest").json()["data"] == []
    assert o.group(member_group["id"])["guests"] == [] and parse_ts(o.group(member_group["id"])["updated_at"]) == o.now
    with pytest.raises(KeyError):
        o.update_member(999999, job_title="x")


def test_touch_random(fresh):
    s, o = fresh
    touched = o.touch_random("members", 5, rng_seed=1)
    assert len(set(touched)) == 5
    assert o.touch_random("members", 5, rng_seed=1) == touched  # same seed, same picks
    top = get(s, o.org_id, "users", "sort=-updated_at&per_page=5").json()["data"]
    assert {m["id"] for m in top} == set(touched)
    assert len({m["updated_at"] for m in top}) == 5
    assert len(o.touch_random("groups", 3, 2)) == 3 and len(o.touch_random("tags", 2, 2)) == 2
    assert len(o.touch_random("guests", 2, 2)) == 2
