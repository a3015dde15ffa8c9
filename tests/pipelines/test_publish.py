"""`tallyfy_source.destinations`: which destinations publish in one transaction, under which names.

What the one transaction guarantees (a kill or a database error mid-publish leaves every
table as before) is tested in test_kill.py, against real processes, DuckDB and PostgreSQL.
"""

import dlt
import pytest

from tallyfy_source import destinations
from tests.conftest import Loader


@pytest.mark.parametrize("reference", ["duckdb", "postgres", "dlt.destinations.duckdb", "dlt.destinations.postgres"])
def test_duckdb_and_postgres_map_to_the_publishing_destinations_under_dlt_names(reference):
    destination = destinations.atomic_destination(reference)
    name = reference.rsplit(".", 1)[-1]
    assert destination.destination_type == f"tallyfy_source.destinations.{name}"
    assert destination.destination_name == name  # so [destination.<name>] config sections apply
    assert issubclass(destination.client_class, destinations.PublishInOneTransaction)


@pytest.mark.parametrize("reference", ["filesystem", "bigquery", "snowflake", "motherduck"])
def test_other_destinations_stay_dlt_s_own(reference):
    destination = destinations.atomic_destination(reference)
    assert destination.destination_type == f"dlt.destinations.{reference}"
    assert type(destination) is getattr(dlt.destinations, reference)


def test_the_duckdb_config_section_still_configures_it(sim, tmp_path, monkeypatch):
    path = tmp_path / "from_config.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(path))
    loader = Loader(sim, tmp_path, destinations.duckdb())
    loader.run(["tags"])
    assert path.exists()
    assert loader.rows("SELECT count(*) FROM tallyfy.tags") == [(len(sim.org.tags),)]
    assert loader.rows("SELECT count(*), min(status) FROM tallyfy._dlt_loads") == [(1, 0)]


def test_a_pipeline_reopened_by_name_gets_the_publishing_destination_back(sim, tmp_path):
    """`dlt pipeline tallyfy info` and `dlt.attach` rebuild the destination from its stored type."""
    loader = Loader(sim, tmp_path)
    loader.run(["tags"])
    attached = dlt.attach(loader.pipeline_name, pipelines_dir=str(tmp_path / "pipelines"))
    assert isinstance(attached.destination, destinations.duckdb)


def test_a_dlt_without_the_internals_loads_with_its_own_per_table_publish_after_one_warning(
        sim, tmp_path, monkeypatch, caplog):
    """An upgrade that removed what the one-transaction publish needs must not break loading."""
    caplog.set_level("WARNING", logger="tallyfy_source")
    monkeypatch.setattr(destinations, "MISSING_INTERNALS", "SqlLoadJob._split_fragments")
    monkeypatch.setattr(destinations, "_warned", False)
    destination = destinations.duckdb(credentials=str(tmp_path / "fallback.duckdb"))
    assert not issubclass(destination.client_class, destinations.PublishInOneTransaction)
    loader = Loader(sim, tmp_path, destination)
    loader.run(["tags"])
    loader.run(["tags"])
    assert loader.rows("SELECT count(*) FROM tallyfy.tags") == [(len(sim.org.tags),)]
    warnings = [r.getMessage() for r in caplog.records if "per-table publish" in r.getMessage()]
    assert len(warnings) == 1 and "SqlLoadJob._split_fragments" in warnings[0]


def test_this_dlt_has_every_internal_the_publish_needs():
    assert destinations.MISSING_INTERNALS is None
