"""DuckDB's memory in a `tallyfy-load` run: capped at `DUCKDB_MEMORY_LIMIT` unless the user set
DuckDB's global settings in dlt's config, which then apply as given (a real DuckDB file)."""

import dlt
import pytest

from pipelines.duckdb_file import DUCKDB_MEMORY_LIMIT
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
    assert DUCKDB_MEMORY_LIMIT == "128MB" and mib(limit) == 122  # DuckDB shows 128 MB as 122.0 MiB


def test_the_scheduled_load_caps_it_too(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("TALLYFY_DUCKDB", str(tmp_path / "s.duckdb"))
    limit, _ = settings(scheduled_destination(), tmp_path)
    assert mib(limit) == 122


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
