"""How the directory endpoints (users, groups, tags, guests) are served: sort parameters and
fields, default orders, `with=` includes, the tags `all=true` filter, the update-time spelling."""

import pytest

from tallyfy_source.simulator import parse_ts
from tests.simulator.support import all_rows, fresh, get, org, sim, times_of  # noqa: F401 (fixtures)


# ------------------------------------------------------------------ sorting
@pytest.mark.parametrize("path,param", [("users", "sort"), ("groups", "sort_by"), ("groups", "sort")])
@pytest.mark.parametrize("field", ["updated_at", "last_updated"])
def test_sort_update_time_both_spellings(sim, org, path, param, field):
    served_as = "updated_at" if path == "users" else "last_updated"  # the documented names
    desc = all_rows(sim, org.org_id, path, f"{param}=-{field}")
    times = times_of(desc, served_as)
    assert times == sorted(times, reverse=True) and len(desc) == len(org.records(
        "members" if path == "users" else "groups"))
    asc = all_rows(sim, org.org_id, path, f"{param}={field}")
    assert times_of(asc, served_as) == sorted(times)
    # strings in mixed formats would not sort like this: the server compares datetimes
    strings = [r[served_as] for r in desc]
    assert strings != sorted(strings, reverse=True) or path == "groups"


def test_sort_ties_are_stable_by_id(sim, org):
    rows = all_rows(sim, org.org_id, "users", "sort=updated_at")
    keys = [(parse_ts(r["updated_at"]), r["id"]) for r in rows]
    assert keys == sorted(keys)
    assert len({k[0] for k in keys}) < len(keys)  # ties exist and were ordered by id


def test_other_sort_fields_and_defaults(sim, org):
    names = [g["name"].casefold() for g in all_rows(sim, org.org_id, "groups", "sort_by=name")]
    assert names == sorted(names)
    titles = [t["title"].casefold() for t in all_rows(sim, org.org_id, "tags", "all=true&sort=-title")]
    assert titles == sorted(titles, reverse=True)
    for param in ("sort", "sort_by"):
        guests = all_rows(sim, org.org_id, "guests", f"{param}=-created_at")
        assert [g["email"] for g in guests] == [g["email"] for g in org.served("guests")][::-1]
    ids = [m["id"] for m in all_rows(sim, org.org_id, "users")]
    assert ids == sorted(ids)
    created = times_of(all_rows(sim, org.org_id, "groups"), "created_at")
    assert created == sorted(created)
    unknown = all_rows(sim, org.org_id, "users", "sort=-shoe_size")
    assert [m["id"] for m in unknown] == ids


def test_honour_sort_false_ignores_sort(fresh):
    s, o = fresh
    default = [g["id"] for g in all_rows(s, o.org_id, "groups")]
    assert [g["id"] for g in all_rows(s, o.org_id, "groups", "sort_by=-updated_at")] != default
    s.honour_sort = False
    assert [g["id"] for g in all_rows(s, o.org_id, "groups", "sort_by=-updated_at")] == default
    assert [m["id"] for m in all_rows(s, o.org_id, "users", "sort=-updated_at")] == sorted(
        m["id"] for m in o.members)


# ------------------------------------------------------------------ includes, tags, update-time spelling
def test_includes_are_wrapped(sim, org):
    plain = get(sim, org.org_id, "users", "per_page=5").json()["data"][0]
    assert "stats" not in plain and "groups" not in plain
    m = get(sim, org.org_id, "users", "per_page=5&with=stats,groups,country").json()["data"][0]
    assert m["stats"] == {"data": org.member_stats[m["id"]]}
    assert m["groups"]["data"] == [{"id": g["id"], "name": g["name"]} for g in org.served("groups")
                                   if m["id"] in g["members"]]
    t = get(sim, org.org_id, "tags", "with=statistics&all=true").json()["data"][0]
    assert t["statistics"] == {"data": org.tag_statistics[t["id"]]}
    assert "statistics" not in get(sim, org.org_id, "tags").json()["data"][0]
    g = get(sim, org.org_id, "guests", "with=stats").json()["data"][0]
    stats = org.guest_stats[g["email"]]  # guests/list-guests: bare, the documented keys
    assert g["stats"] == {"assigned_tasks": stats["active_tasks"], "tasks_completed": stats["completed_tasks"],
                          "last_task_completed_at": stats["last_task_completed_at"],
                          "one_off_tasks_completed": 0, "last_one_off_task_completed_at": None}
    grp = next(x for x in all_rows(sim, org.org_id, "groups", "with=users,guests,assets") if x["members"])
    assert [u["id"] for u in grp["users"]["data"]] == grp["members"]
    assert grp["guests"] == org.group(grp["id"])["guests"]  # with=guests accepted, field unchanged
    assert grp["assets"] == {"data": []}


def test_auto_generated_tags_hidden_unless_all_true(sim, org):
    auto = {t["id"] for t in org.tags if t["auto_generated"]}
    for raw in ("", "all=1", "all=TRUE", "all=false", "all=True"):
        rows = all_rows(sim, org.org_id, "tags", raw)
        assert not auto & {t["id"] for t in rows}, raw
        assert len(rows) == 200 - len(auto)
    rows = all_rows(sim, org.org_id, "tags", "all=true")
    assert auto <= {t["id"] for t in rows} and len(rows) == 200


def test_last_updated_spelling_switch(fresh):
    s, o = fresh
    s.update_field_name = "last_updated"
    for path in ("users", "groups"):
        rec = get(s, o.org_id, path, "per_page=1").json()["data"][0]
        assert "last_updated" in rec and "updated_at" not in rec
        rows = all_rows(s, o.org_id, path, ("sort" if path == "users" else "sort_by") + "=-last_updated")
        assert times_of(rows, "last_updated") == sorted(times_of(rows, "last_updated"), reverse=True)
    assert "last_updated" not in get(s, o.org_id, "tags").json()["data"][0]
    one = get(s, o.org_id, f"users/{o.members[0]['id']}").json()["data"]
    assert one["last_updated"] == o.members[0]["updated_at"]
    assert o.served("groups", update_field_name="last_updated")[0].keys() >= {"last_updated"}
