"""DuckDB and PostgreSQL destinations that publish a whole load in ONE transaction.

Why this exists: dlt copies every table's new rows into the staging dataset, then runs
one merge SQL job per table chain, each in its own transaction, and finally records the
load in `_dlt_loads`. A process killed between two of those merges leaves the final
dataset mixed (members new, groups old) until the next run. dlt has no option to merge
all tables together, so these destinations defer every SQL job of the package (the merges
and staging replaces that move staging rows into the final tables) and run them in
`complete_load`, in one transaction together with the `_dlt_loads` row.

Readers therefore see the destination as it was before the run or fully loaded, and dlt's
stored state (which it only restores from loads recorded in `_dlt_loads`) never runs ahead
of the data. Everything else (schema migration, the staging copies, the SQL itself) is
dlt's own. Each class keeps dlt's destination name, so `.dlt/*.toml` sections
(`[destination.duckdb]`, `[destination.postgres]`) and `DESTINATION__POSTGRES__*` apply.
Use them like dlt's: `destination="tallyfy_source.destinations.postgres"` or
`tallyfy_source.destinations.duckdb(credentials="file.duckdb")`.

Every use of a name dlt does not publish (`SqlLoadJob`, its `_split_fragments`, the load
package storage and its injectable context, `SqlJobClientBase` for `is_sql_client`) lives in
this module, but for the merge job DuckDB's merges go through (`staging_dedup.py`). dlt is
pinned to the minor versions the suite has run on; should an upgrade still remove one of
them, `MISSING_INTERNALS` says which, and both classes then load with dlt's own per-table
publish (each table as before or fully loaded, tables possibly mixed after a kill) after
one warning line, instead of failing mid-load.
"""

import logging
from typing import Any, Dict, List, Optional, Type

import dlt
from dlt.common.destination import Destination
from dlt.common.destination.reference import DestinationReference

from tallyfy_source import staging_dedup
from tallyfy_source.duckdb_memory import lift_memory_cap

logger = logging.getLogger("tallyfy_source")

try:  # dlt internals: see the module docstring
    from dlt.common.configuration.container import Container
    from dlt.common.storages.load_package import LoadPackageStateInjectableContext, PackageStorage
    from dlt.destinations.job_client_impl import SqlJobClientBase, SqlLoadJob
except ImportError as error:  # pragma: no cover - only on a dlt that moved them
    Container = LoadPackageStateInjectableContext = PackageStorage = None  # type: ignore[assignment,misc]
    SqlLoadJob = SqlJobClientBase = object  # type: ignore[assignment,misc]
    _IMPORT_ERROR: Optional[str] = str(error)
else:
    _IMPORT_ERROR = None


def is_sql_client(job_client: Any) -> bool:
    """A job client that runs SQL in the dataset (DuckDB, PostgreSQL, warehouses; not files)."""
    return SqlJobClientBase is not object and isinstance(job_client, SqlJobClientBase)


def missing_internals() -> Optional[str]:
    """What one-transaction publishing needs from dlt and this dlt lacks (None: all there)."""
    if _IMPORT_ERROR:
        return _IMPORT_ERROR
    needed = {
        "SqlLoadJob.is_sql_job": getattr(SqlLoadJob, "is_sql_job", None),
        "SqlLoadJob._split_fragments": getattr(SqlLoadJob, "_split_fragments", None),
        "PackageStorage.COMPLETED_JOBS_FOLDER": getattr(PackageStorage, "COMPLETED_JOBS_FOLDER", None),
        "PackageStorage.get_load_package_jobs": getattr(PackageStorage, "get_load_package_jobs", None),
        "PackageStorage.get_job_file_path": getattr(PackageStorage, "get_job_file_path", None),
    }
    absent = [name for name, value in needed.items() if value is None]
    return ", ".join(absent) or None


MISSING_INTERNALS = missing_internals()
_warned = False


def publishes_in_one_transaction() -> bool:
    """True when this dlt has what the one-transaction publish needs; else warns once."""
    global _warned
    if MISSING_INTERNALS is None:
        return True
    if not _warned:
        logger.warning(
            "dlt %s lacks %s, which publishing a whole load in one transaction needs: loading with"
            " dlt's per-table publish (install the dlt version pinned in pyproject.toml to restore it)",
            dlt.__version__, MISSING_INTERNALS,
        )
        _warned = True
    return False


# dlt destination names whose SQL clients run DDL and DML in one transaction, and which
# the test suite loads into; others keep dlt's per-table transactions.
ATOMIC_DESTINATIONS = ("duckdb", "postgres")


class DeferredSqlJob(SqlLoadJob):
    """A merge (or staging replace) job whose SQL runs later, in `complete_load`."""

    def run(self) -> None:
        pass


class PublishInOneTransaction:
    """Job client mix-in: defers SQL jobs, then publishes them and the load record atomically."""

    def create_load_job(self, table: Any, file_path: str, load_id: str, restore: bool = False) -> Any:
        if SqlLoadJob.is_sql_job(file_path):
            return DeferredSqlJob(file_path)
        return super().create_load_job(table, file_path, load_id, restore)  # type: ignore[misc]

    def complete_load(self, load_id: str) -> None:
        try:
            self._publish(load_id)
        except Exception as error:  # rolled back whole: publishing again writes nothing twice
            if not lift_memory_cap(self.sql_client, error):  # type: ignore[attr-defined]
                raise
            self._publish(load_id)

    def _publish(self, load_id: str) -> None:
        sql_client = self.sql_client  # type: ignore[attr-defined]
        with sql_client.begin_transaction():
            for sql in deferred_sql(load_id):
                run_sql(sql_client, sql)
            super().complete_load(load_id)  # type: ignore[misc]


def run_sql(sql_client: Any, sql: str) -> None:
    """One deferred job's statements, split the way dlt splits them for its own SQL jobs
    (`_split_fragments` uses no job state, hence no job instance)."""
    sql_client.execute_many(SqlLoadJob._split_fragments(None, sql))  # type: ignore[arg-type]


def deferred_sql(load_id: str) -> List[str]:
    """The SQL of the package's completed SQL jobs, in file-name order.

    dlt injects the package storage while it completes a load. A package resumed after a
    crash still holds these files, so a retried `complete_load` publishes them again from
    the untouched staging dataset.
    """
    storage: PackageStorage = Container()[LoadPackageStateInjectableContext].storage
    jobs = storage.get_load_package_jobs(load_id)[PackageStorage.COMPLETED_JOBS_FOLDER]
    sql: List[str] = []
    for job in sorted((j for j in jobs if j.file_format == "sql"), key=lambda j: j.file_name()):
        path = storage.get_job_file_path(load_id, PackageStorage.COMPLETED_JOBS_FOLDER, job.file_name())
        sql.append(storage.storage.load(path))
    return sql


_clients: Dict[tuple, type] = {}


def _publishing(client_class: type, *mixins: type) -> type:
    """`client_class` with the one-transaction mix-in and `mixins` in front (one class per
    combination), or with `mixins` alone when this dlt lacks what the publish needs."""
    if publishes_in_one_transaction():
        mixins = (PublishInOneTransaction, *mixins)
    if not mixins:
        return client_class
    if (client_class, mixins) not in _clients:
        _clients[(client_class, mixins)] = type(f"Atomic{client_class.__name__}", (*mixins, client_class), {})
    return _clients[(client_class, mixins)]


class duckdb(dlt.destinations.duckdb):  # noqa: N801 (dlt names destinations in lower case)
    @property
    def client_class(self) -> Type[Any]:
        if staging_dedup.AVAILABLE:  # merges that need no window over whole tables
            return _publishing(super().client_class, staging_dedup.DedupsStagingByKey)
        return _publishing(super().client_class)


class postgres(dlt.destinations.postgres):  # noqa: N801
    @property
    def client_class(self) -> Type[Any]:
        return _publishing(super().client_class)


def atomic_destination(reference: str, **kwargs: Any) -> Any:
    """A destination by dlt name or reference: ours for DuckDB and PostgreSQL, dlt's otherwise."""
    name = Destination.to_name(reference)
    if name in ATOMIC_DESTINATIONS and DestinationReference.normalize_type(reference) == f"dlt.destinations.{name}":
        reference = f"{__name__}.{name}"
    return Destination.from_reference(reference, **kwargs)
