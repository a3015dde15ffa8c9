"""The same loads on DuckDB, PostgreSQL, Parquet files and Delta tables.

- DuckDB and PostgreSQL end a scenario (full load, updates, deletes, re-run) with identical
  tables, every row compared;
- the `groups` table and columns named like SQL keywords load and query on both;
- `filesystem` writes Parquet files that append; Delta tables merge;
- `tallyfy-load --destination postgres|filesystem` takes dlt's documented env var keys.
"""

import datetime
import decimal
from typing import Any, Dict, List

import dlt
import duckdb
import pytest
from deltalake import DeltaTable

from tallyfy_source import tallyfy_source
from tallyfy_source.simulator import Simulator
from tests.snapshots import LOAD_TIMES
from tests.conftest import TOKEN, Loader, make_org, require_postgres
from tests.expected import assert_rows_match, records
from tests.pipelines.test_command import run_command, summary_counts
from tests.directory.test_full_load import (
    assert_tables_equal_simulator,
    expected_group_lists,
    expected_guests,
    expected_members,
    expected_tags,
)
from tests.directory.test_incremental import change_upstream, loaded_this_run

SMALL = dict(members=250, groups=30, tags=40, guests=20)
BOOKKEEPING = {"_dlt_load_id", "_dlt_id"}
CHILD_LINKS = {"_dlt_id", "_dlt_parent_id", "_dlt_root_id", "_dlt_load_id"}
# API fields named like SQL keywords (`user` is even a function in PostgreSQL: unquoted, it
# returns the session user)
KEYWORD_FIELDS = {"order": 3, "user": "ops-bot", "default": True}


@pytest.fixture
def small_sim():
    with Simulator(orgs=[make_org(**SMALL)], token=TOKEN).start() as server:
        yield server


def add_keyword_fields(org, k=3):
    """Give k members fields named like SQL keywords, and one group a `select` field."""
    members = sorted(m["id"] for m in records(org.members))[:k]
    for i, member_id in enumerate(members):
        org.update_member(member_id, **{**KEYWORD_FIELDS, "order": i})
    group = sorted(g["id"] for g in records(org.groups))[0]
    org.update_group(group, select="chosen")
    return members, group


def canonical(value: Any) -> Any:
    """One comparable form per value, whatever driver read it."""
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc)
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def sort_key(row: tuple) -> tuple:
    return tuple((v is None, str(v)) for v in row)


def snapshot(loader: Loader) -> Dict[str, Dict[str, Any]]:
    """Every data table: its columns and every row, in a canonical order.

    dlt's row ids differ per destination, so they are left out; a child row is identified by
    its parent's primary key instead of `_dlt_parent_id`.
    """
    pipeline = loader.pipeline()
    schema = pipeline.default_schema
    out: Dict[str, Dict[str, Any]] = {}
    with pipeline.sql_client() as client:
        q = client.escape_column_name
        for table in schema.data_tables():
            name = table["name"]
            parent = table.get("parent")
            columns = [c for c in schema.get_table_columns(name) if c not in (CHILD_LINKS if parent else BOOKKEEPING)
                       and (name, c) not in LOAD_TIMES]  # when each load ran: differs by design
            select = [f"t.{q(c)}" for c in columns]
            source = f"{client.make_qualified_table_name(name)} t"
            if parent:
                keys = [c for c, col in schema.get_table_columns(parent).items() if col.get("primary_key")]
                select = [f"p.{q(k)}" for k in keys] + select
                columns = [f"{parent}.{k}" for k in keys] + columns
                source += f" JOIN {client.make_qualified_table_name(parent)} p ON t._dlt_parent_id = p._dlt_id"
            rows = [tuple(canonical(v) for v in row) for row in client.execute_sql(f"SELECT {', '.join(select)} FROM {source}")]
            out[name] = {"columns": columns, "rows": sorted(rows, key=sort_key)}
    return out


def assert_same_tables(left: Loader, right: Loader) -> None:
    a, b = snapshot(left), snapshot(right)
    assert sorted(a) == sorted(b), "different tables"
    assert {"members", "groups", "groups__members", "groups__guests", "tags", "guests"} <= set(a)
    for table in a:
        assert a[table]["columns"] == b[table]["columns"], table
        rows_a, rows_b = a[table]["rows"], b[table]["rows"]
        assert len(rows_a) == len(rows_b), f"{table}: {len(rows_a)} rows on DuckDB, {len(rows_b)} on PostgreSQL"
        for row_a, row_b in zip(rows_a, rows_b):
            assert row_a == row_b, f"{table}: {dict(zip(a[table]['columns'], row_a))} != {dict(zip(a[table]['columns'], row_b))}"


def test_duckdb_and_postgres_end_with_identical_tables(small_sim, tmp_path, destinations):
    org = small_sim.org
    duck = Loader(small_sim, tmp_path, destinations("duckdb"), pipeline_name="on_duckdb")
    pg = Loader(small_sim, tmp_path, destinations("postgres"), pipeline_name="on_postgres")
    both = (duck, pg)

    add_keyword_fields(org)
    for loader in both:
        loader.run()
    assert_same_tables(duck, pg)

    change_upstream(org, k_members=5, k_groups=3)
    org.add_member(first_name="Zoë", last_name="O'Brien")
    emptied = next(g for g in records(org.groups) if g["members"] and g["guests"])
    org.update_group(emptied["id"], members=[], guests=[])
    org.delete_member(sorted(m["id"] for m in records(org.members))[-1])
    org.delete_tag(records(org.tags)[0]["id"])
    org.delete_group(records(org.groups)[-1]["id"])
    for loader in both:
        loader.run(sweep=True)
        assert_tables_equal_simulator(loader, org)
    assert_same_tables(duck, pg)

    for loader in both:
        pipeline, _ = loader.run()
        counts = loaded_this_run(pipeline)
        assert counts.get("members", 0) == 0 and counts.get("groups", 0) == 0
    assert_same_tables(duck, pg)


def test_keyword_named_columns_and_the_groups_table_load_and_query(small_sim, tmp_path, destination):
    org = small_sim.org
    loader = Loader(small_sim, tmp_path, destination)
    loader.run()  # the keyword columns arrive later: dlt must ALTER TABLE with quoted names
    members, group = add_keyword_fields(org)
    loader.run()
    rows = loader.rows(
        'SELECT id, "order", "user", "default" FROM tallyfy.members WHERE "order" IS NOT NULL ORDER BY "order"')
    assert rows == [(m, i, "ops-bot", True) for i, m in enumerate(members)]
    assert loader.rows('SELECT count(*) FROM tallyfy.members WHERE "user" IS NULL') == [(len(records(org.members)) - 3,)]
    assert loader.rows('SELECT "select" FROM tallyfy."groups" WHERE "select" IS NOT NULL') == [("chosen",)]
    assert loader.rows("SELECT count(*) FROM tallyfy.groups") == [(len(records(org.groups)),)]
    assert_tables_equal_simulator(loader, org)


# ---------------------------------------------------------------- Parquet files and Delta tables

def parquet_rows(folder, table: str) -> List[Dict[str, Any]]:
    """A table's Parquet files read back with DuckDB, without dlt's bookkeeping columns."""
    relation = duckdb.sql(f"SELECT * FROM read_parquet('{folder}/tallyfy/{table}/*.parquet')")
    return [{k: v for k, v in zip(relation.columns, row) if not k.startswith("_dlt_")} for row in relation.fetchall()]


def test_filesystem_writes_parquet_files_that_append(small_sim, tmp_path):
    org = small_sim.org
    lake = tmp_path / "lake"
    loader = Loader(small_sim, tmp_path, dlt.destinations.filesystem(bucket_url=str(lake)),
                    loader_file_format="parquet")
    loader.run()
    assert list((lake / "tallyfy" / "members").glob("*.parquet"))
    assert_rows_match(parquet_rows(lake, "members"), expected_members(org), ("org_id", "id"))
    assert_rows_match(parquet_rows(lake, "tags"), expected_tags(org), ("org_id", "id"))
    assert_rows_match(parquet_rows(lake, "guests"), expected_guests(org), ("org_id", "email"))
    assert len(parquet_rows(lake, "groups")) == len(records(org.groups))
    assert len(parquet_rows(lake, "groups__members")) == len(expected_group_lists(org, "members"))

    k_members, _ = change_upstream(org, k_members=4, k_groups=2)
    loader.run()
    # plain files append: changed rows come again, tags and guests (always re-read) twice
    members = parquet_rows(lake, "members")
    assert len(members) == len(records(org.members)) + k_members
    assert len(parquet_rows(lake, "tags")) == 2 * len(records(org.tags))
    # the newest copy of each row is the current one (file names start with the load id)
    latest = duckdb.sql(
        f"SELECT * EXCLUDE (filename) FROM read_parquet('{lake}/tallyfy/members/*.parquet', filename = true)"
        " QUALIFY row_number() OVER (PARTITION BY org_id, id ORDER BY filename DESC) = 1")
    latest_rows = [{k: v for k, v in zip(latest.columns, r) if not k.startswith("_dlt_")} for r in latest.fetchall()]
    assert_rows_match(latest_rows, expected_members(org), ("org_id", "id"))


def delta_source(sim: Simulator):
    """The source as the README shows it for Delta: upsert merge, missing records flagged."""
    source = tallyfy_source(org_id=sim.org_ids, access_token=sim.token, base_url=sim.base_url,
                            requests_per_minute=100_000, deleted_records="flag")
    for resource in source.resources.values():
        resource.apply_hints(table_format="delta", write_disposition={"disposition": "merge", "strategy": "upsert"})
    # Delta's upsert cannot hard-delete a parent with nested tables
    source.groups.apply_hints(columns={"_tallyfy_deleted": {"name": "_tallyfy_deleted", "hard_delete": False}})
    return source


def delta_rows(folder, table: str) -> List[Dict[str, Any]]:
    rows = DeltaTable(str(folder / "tallyfy" / table)).to_pyarrow_table().to_pylist()
    return [{k: v for k, v in row.items() if not k.startswith("_dlt_")} for row in rows]


def delta_group_lists(folder, child: str) -> List[tuple]:
    groups = {r["_dlt_id"]: r for r in DeltaTable(str(folder / "tallyfy" / "groups")).to_pyarrow_table().to_pylist()}
    children = DeltaTable(str(folder / "tallyfy" / f"groups__{child}")).to_pyarrow_table().to_pylist()
    return sorted((groups[c["_dlt_parent_id"]]["org_id"], groups[c["_dlt_parent_id"]]["id"], c["_dlt_list_idx"], c["value"])
                  for c in children)


def test_delta_tables_merge_updates_instead_of_appending(small_sim, tmp_path):
    org = small_sim.org
    lake = tmp_path / "delta"
    pipeline = dlt.pipeline("tallyfy_delta", pipelines_dir=str(tmp_path / "pipelines"),
                            destination=dlt.destinations.filesystem(bucket_url=str(lake)), dataset_name="tallyfy")
    pipeline.run(delta_source(small_sim))
    assert (lake / "tallyfy" / "members" / "_delta_log").is_dir()

    members = sorted(m["id"] for m in records(org.members))
    for member_id in members[:4]:
        org.update_member(member_id, job_title=f"Changed {member_id}")
    org.add_member()
    grown = next(g for g in records(org.groups) if members[-1] not in g["members"])
    # lists only grow here: Delta's upsert merges nested rows by row id and never deletes one
    org.update_group(grown["id"], members=grown["members"] + [members[-1]], description="grown")
    pipeline.run(delta_source(small_sim))
    assert loaded_this_run(pipeline)["members"] == 5
    assert loaded_this_run(pipeline)["groups"] == 1

    assert_rows_match(delta_rows(lake, "members"), expected_members(org), ("org_id", "id"))
    assert_rows_match(delta_rows(lake, "tags"), expected_tags(org), ("org_id", "id"))
    assert_rows_match(delta_rows(lake, "guests"), expected_guests(org), ("org_id", "email"))
    assert len(delta_rows(lake, "groups")) == len(records(org.groups))
    assert delta_group_lists(lake, "members") == expected_group_lists(org, "members")
    assert delta_group_lists(lake, "guests") == expected_group_lists(org, "guests")


# ---------------------------------------------------------------- the command, configured by env vars

def test_command_loads_into_postgres_configured_by_env_var(sim, tmp_path, destinations):
    require_postgres()
    credentials = destinations("postgres").config_params["credentials"]
    env = {
        "SOURCES__TALLYFY__ORG_ID": sim.org_ids[0],
        "SOURCES__TALLYFY__ACCESS_TOKEN": sim.token,
        "SOURCES__TALLYFY__BASE_URL": sim.base_url,
        "DESTINATION__POSTGRES__CREDENTIALS": credentials,
    }
    result = run_command(["--destination", "postgres", "--resources", "groups,tags",
                          "--pipelines-dir", str(tmp_path / "p")], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no file-format warnings: PostgreSQL gets dlt's own choice of format
    org = sim.org
    counts = summary_counts(result.stdout)
    assert counts["groups"] == (len(records(org.groups)), len(records(org.groups)))
    assert counts["tags"] == (len(records(org.tags)), len(records(org.tags)))
    assert "destination: postgres, dataset: tallyfy" in result.stdout
    assert credentials.split("@")[0].split(":")[-1] not in result.stdout + result.stderr  # no password shown
    check = Loader(sim, tmp_path, dlt.destinations.postgres(credentials=credentials), pipeline_name="check")
    assert check.rows("SELECT count(*) FROM tallyfy.groups__members") == [(len(expected_group_lists(org, "members")),)]


def test_command_writes_parquet_files_configured_by_env_var(sim, tmp_path):
    lake = tmp_path / "lake"
    env = {
        "SOURCES__TALLYFY__ORG_ID": sim.org_ids[0],
        "SOURCES__TALLYFY__ACCESS_TOKEN": sim.token,
        "SOURCES__TALLYFY__BASE_URL": sim.base_url,
        "DESTINATION__FILESYSTEM__BUCKET_URL": str(lake),
    }
    result = run_command(["--destination", "filesystem", "--resources", "tags",
                          "--pipelines-dir", str(tmp_path / "p")], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert list((lake / "tallyfy" / "tags").glob("*.parquet")), "no Parquet file written"
    assert_rows_match(parquet_rows(lake, "tags"), expected_tags(sim.org), ("org_id", "id"))
