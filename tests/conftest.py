"""Shared fixtures: a real simulator on 127.0.0.1 and a pipeline writing to a real DuckDB file
or a real PostgreSQL database.

PostgreSQL tests need `TALLYFY_TEST_PG_DSN` (an admin DSN); `make test` starts a throwaway
server and sets it (`.ci/with-postgres.sh`). Each PostgreSQL test gets a database of its own,
so xdist workers never share tables and SQL can keep saying `tallyfy.<table>`.
"""

import os
import uuid
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit, urlunsplit

import dlt
import pytest

from tallyfy_source import destinations as atomic
from tallyfy_source import apply_file_format, tallyfy_source
from tallyfy_source.simulator import Simulator, SyntheticOrg

TOKEN = "sim-token-7f3c9e1b2d4a"

# what issue 2 asks a full load to prove itself on
FULL_SIZE = dict(members=1000, groups=100, tags=300, guests=200)

# read at import: the autouse fixture below clears every TALLYFY_* variable for the tests
PG_DSN = os.environ.get("TALLYFY_TEST_PG_DSN")
PG_MISSING = "PostgreSQL tests need TALLYFY_TEST_PG_DSN; `make test` starts a server and sets it"
DESTINATIONS = ["duckdb", "postgres"]


def require_postgres() -> str:
    if not PG_DSN:
        pytest.skip(PG_MISSING)
    return PG_DSN


def _pg_admin(sql: str) -> None:
    import psycopg2

    connection = psycopg2.connect(require_postgres())
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


class PostgresDatabase:
    """A database of its own on the test server, dropped when done."""

    def __init__(self) -> None:
        self.name = f"tallyfy_{uuid.uuid4().hex[:12]}"
        _pg_admin(f'CREATE DATABASE "{self.name}"')
        parts = urlsplit(require_postgres())
        self.dsn = urlunsplit(parts._replace(path=f"/{self.name}"))

    def drop(self) -> None:
        _pg_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def make_destination(name: str, tmp_path, cleanups: List[Any]) -> Any:
    """A dlt destination object for "duckdb" (a file in tmp_path) or "postgres" (a fresh database)."""
    if name == "duckdb":
        return atomic.duckdb(credentials=str(tmp_path / "tallyfy_data.duckdb"))
    if name == "postgres":
        database = PostgresDatabase()
        cleanups.append(database.drop)
        return atomic.postgres(credentials=database.dsn)
    raise ValueError(f"no test destination {name!r}")


@pytest.fixture
def destinations(tmp_path):
    """make(name) -> a dlt destination; PostgreSQL databases are dropped after the test."""
    cleanups: List[Any] = []

    def make(name: str, folder=None) -> Any:
        return make_destination(name, folder or tmp_path, cleanups)

    yield make
    for cleanup in cleanups:
        cleanup()


@pytest.fixture(params=DESTINATIONS)
def destination(request, destinations):
    """The end-to-end tests run once on DuckDB and once on PostgreSQL."""
    return destinations(request.param)


@pytest.fixture(autouse=True)
def _isolated_dlt_env(tmp_path, monkeypatch):
    """Each test gets its own dlt working folder and no config from the developer's machine."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("SOURCES__", "DESTINATION__", "TALLYFY_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "WARNING")


def make_org(org_id: str = "a1b2c3d4e5f60718293a4b5c6d7e8f90", seed: int = 1, **sizes: int) -> SyntheticOrg:
    return SyntheticOrg.generate(org_id, seed=seed, **{**FULL_SIZE, **sizes})


@pytest.fixture
def sim():
    server = Simulator(orgs=[make_org()], token=TOKEN).start()
    yield server
    server.stop()


class Loader:
    """Runs the source against a simulator into one destination, as a scheduled job would.

    `destination` is a dlt destination object (default: a DuckDB file in tmp_path); give two
    Loaders different `pipeline_name`s when they share a tmp_path.
    """

    def __init__(self, sim: Simulator, tmp_path, destination: Any = None, pipeline_name: str = "tallyfy_test",
                 dataset_name: str = "tallyfy", loader_file_format: Optional[str] = None):
        self.sim = sim
        self.tmp_path = tmp_path
        self.db_path = str(tmp_path / "tallyfy_data.duckdb")
        self.destination = destination or atomic.duckdb(credentials=self.db_path)
        self.pipeline_name = pipeline_name
        self.dataset_name = dataset_name
        self.loader_file_format = loader_file_format
        self.reports: List[Any] = []

    @property
    def destination_name(self) -> str:
        return self.destination.destination_name

    def pipeline(self) -> dlt.Pipeline:
        return dlt.pipeline(
            pipeline_name=self.pipeline_name,
            pipelines_dir=str(self.tmp_path / "pipelines"),
            destination=self.destination,
            dataset_name=self.dataset_name,
        )

    def run(self, resources: Optional[List[str]] = None, **kwargs: Any):
        self.reports = []
        source = tallyfy_source(
            org_id=kwargs.pop("org_id", self.sim.org_ids),
            access_token=kwargs.pop("access_token", self.sim.token),
            base_url=kwargs.pop("base_url", self.sim.base_url),
            requests_per_minute=kwargs.pop("requests_per_minute", 100_000),
            reports=self.reports,
            **kwargs,
        )
        if resources:
            source = source.with_resources(*resources)
        pipeline = self.pipeline()
        info = pipeline.run(apply_file_format(source, self.loader_file_format), loader_file_format=self.loader_file_format)
        return pipeline, info

    def rows(self, sql: str) -> List[tuple]:
        with self.pipeline().sql_client() as client:
            return [tuple(r) for r in client.execute_sql(sql)]

    def table(self, name: str) -> List[Dict[str, Any]]:
        """Every row of a table as dicts, without dlt's bookkeeping columns."""
        with self.pipeline().sql_client() as client:
            qualified = client.make_qualified_table_name(name)
            with client.execute_query(f"SELECT * FROM {qualified}") as cursor:
                columns = [c[0] for c in cursor.description]
                return [
                    {k: v for k, v in zip(columns, row) if not k.startswith("_dlt_")}
                    for row in cursor.fetchall()
                ]


@pytest.fixture
def loader(sim, tmp_path, destination):
    """A Loader on DuckDB, then (second parametrization) on PostgreSQL."""
    return Loader(sim, tmp_path, destination)


@pytest.fixture
def duckdb_loader(sim, tmp_path):
    """A Loader on a DuckDB file only, for DuckDB-specific checks."""
    return Loader(sim, tmp_path)
