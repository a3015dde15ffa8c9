"""DuckDB's memory in a `tallyfy-load` run: capped at `DUCKDB_MEMORY_LIMIT` unless the user set
DuckDB's global settings in dlt's config, which then apply as given; a publish that needs more
than our cap lifts it, one the user capped fails whole (a real DuckDB file)."""

import logging

import dlt
import duckdb
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines import duckdb_file
from pipelines.errors import one_line_reason
from tallyfy_source.duckdb_memory import DUCKDB_MEMORY_LIMIT
from pipelines.tallyfy_pipeline import build_parser, resolve_destination
from deploy.tallyfy_scheduled import scheduled_destination

ENV = "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG"


def settings(destination, tmp_path):
    pipeline = dlt.pipeline("duckdb_memory", destination=destination, pipelines_dir=str(tmp_path / "p"),
                            dataset_name="tallyfy")
    pipeline.run([{"id": 1}], table_name="t")
    with pipeline.sql_client() as client:
        return client.execute_sql("select current_setting('memory_limit'), current_setting('threads')")[0]


def mib(text):
    return round(float(text.split()[0]) * (1024 if text.endswith("GiB") else 1))


def command_destination(tmp_path):
    return resolve_destination(build_parser().parse_args(["--duckdb-file", str(tmp_path / "t.duckdb")]))


def test_the_command_caps_duckdb_memory_when_the_user_set_none(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    limit, _ = settings(command_destination(tmp_path), tmp_path)
    assert DUCKDB_MEMORY_LIMIT == "64MB" and mib(limit) == 61  # DuckDB shows 64 MB as 61.0 MiB


def test_the_scheduled_load_caps_it_too(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("TALLYFY_DUCKDB", str(tmp_path / "s.duckdb"))
    limit, _ = settings(scheduled_destination(), tmp_path)
    assert mib(limit) == 61


@pytest.mark.parametrize("configured,limit_mib,threads", [
    ('{"memory_limit": "300MB"}', 286, None),
    ('{"threads": 1}', None, 1),  # the user's settings replace ours whole: no cap of ours added
])
def test_the_users_duckdb_settings_win(tmp_path, monkeypatch, configured, limit_mib, threads):
    monkeypatch.setenv(ENV, configured)
    limit, used_threads = settings(command_destination(tmp_path), tmp_path)
    if limit_mib is not None:
        assert mib(limit) == limit_mib
    else:
        assert mib(limit) > 1024  # DuckDB's own default, 80% of RAM
    if threads is not None:
        assert int(used_threads) == threads


# ------------------------------------------------------------------ a publish that needs more than the cap
ROWS = 200_000  # copied into staging under 8 MB, but every key twice: dropping the copies needed 16 MB
KEYS = ROWS // 2


@dlt.resource(primary_key="id", write_disposition={"disposition": "merge", "strategy": "delete-insert"},
              file_format="parquet")
def events():
    for start in range(0, ROWS, 10_000):
        yield [{"id": i % KEYS, "text": f"event {i} " + "x" * 40} for i in range(start, start + 10_000)]


def load_events(tmp_path):
    pipeline = dlt.pipeline("duckdb_oom", destination=command_destination(tmp_path), pipelines_dir=str(tmp_path / "p"),
                            dataset_name="tallyfy")
    return pipeline, pipeline.run(events(), loader_file_format="parquet")


def published(tmp_path):
    with duckdb.connect(str(tmp_path / "t.duckdb"), read_only=True) as con:
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables"
                                            " where table_schema = 'tallyfy'").fetchall()}
        rows = con.execute("select count(*), count(distinct id) from tallyfy.events").fetchone() if "events" in tables else None
        if rows and rows[0]:  # each key's copy staged last stays (`staging_dedup.py`)
            assert con.execute("select text from tallyfy.events where id = 7").fetchone()[0].startswith(f"event {KEYS + 7} ")
        loads = con.execute("select count(*) from tallyfy._dlt_loads").fetchone()[0] if "_dlt_loads" in tables else 0
        return rows, loads


def test_a_publish_that_runs_out_of_memory_under_our_cap_lifts_it_and_loads_every_row(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(duckdb_file, "DUCKDB_MEMORY_LIMIT", "8MB")
    with caplog.at_level(logging.WARNING, logger="tallyfy_source"):
        load_events(tmp_path)
    assert published(tmp_path) == ((KEYS, KEYS), 1)
    lifted = [r.getMessage() for r in caplog.records if "publishing it again" in r.getMessage()]
    assert len(lifted) == 1 and "more than 7.6 MiB" in lifted[0], lifted


def test_a_limit_the_user_set_stays_theirs_and_nothing_is_half_published(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, '{"memory_limit": "8MB"}')
    with pytest.raises(PipelineStepFailed, match="Out of Memory") as failed:
        load_events(tmp_path)
    assert published(tmp_path) == ((0, 0), 0)  # the one transaction rolled back whole
    reason = one_line_reason(failed.value)  # what `tallyfy-load` prints
    assert reason.startswith("DuckDB ran out of memory under the memory_limit set in") and "raise it" in reason


def real_out_of_memory_error():
    con = duckdb.connect()
    con.execute("SET memory_limit = '1MB'; SET threads = 1")
    try:
        con.execute("SELECT i, repeat('x', 100) AS t FROM range(2000000) r(i) ORDER BY t DESC, i").fetchall()
    except duckdb.OutOfMemoryException as error:
        return error
    raise AssertionError("DuckDB did not run out of memory under 1 MB")


def test_out_of_memory_under_our_cap_names_the_cap_and_the_setting(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)  # a copy into staging: the lift covers only the publish
    reason = one_line_reason(real_out_of_memory_error())
    assert reason.startswith(f"DuckDB ran out of memory under this command's {DUCKDB_MEMORY_LIMIT} cap")
    assert ENV in reason and "memory_limit" in reason and "\n" not in reason


def test_out_of_memory_under_the_users_limit_names_their_setting(monkeypatch):
    monkeypatch.setenv(ENV, '{"memory_limit": "1MB"}')
    reason = one_line_reason(real_out_of_memory_error())
    assert reason.startswith("DuckDB ran out of memory under the memory_limit set in") and "raise it" in reason
