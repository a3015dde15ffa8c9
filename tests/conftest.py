"""Shared fixtures: a real simulator on 127.0.0.1 and a pipeline writing to a real DuckDB file."""

import os
from typing import Any, Dict, List, Optional

import dlt
import pytest

from tallyfy_source import tallyfy_source
from tallyfy_source.simulator import Simulator, SyntheticOrg

TOKEN = "sim-token-7f3c9e1b2d4a"

# what issue 2 asks a full load to prove itself on
FULL_SIZE = dict(members=1000, groups=100, tags=300, guests=200)


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
    """Runs the source against a simulator into one DuckDB file, as a scheduled job would."""

    def __init__(self, sim: Simulator, tmp_path, destination: Any = None, pipeline_name: str = "tallyfy_test"):
        self.sim = sim
        self.tmp_path = tmp_path
        self.db_path = str(tmp_path / "tallyfy_data.duckdb")
        self.destination = destination or dlt.destinations.duckdb(credentials=self.db_path)
        self.pipeline_name = pipeline_name
        self.reports: List[Any] = []

    def pipeline(self) -> dlt.Pipeline:
        return dlt.pipeline(
            pipeline_name=self.pipeline_name,
            pipelines_dir=str(self.tmp_path / "pipelines"),
            destination=self.destination,
            dataset_name="tallyfy",
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
        info = pipeline.run(source)
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
def loader(sim, tmp_path):
    return Loader(sim, tmp_path)
