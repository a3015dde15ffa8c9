"""DuckDB's memory during a load: a modest cap by default, lifted for the one publish that needs more.

A load publishes every table in one DuckDB transaction (`destinations.py`), and DuckDB keeps
pages in memory up to its `memory_limit` (80% of RAM by default) before writing them to
`<file>.tmp`. The commands therefore cap it (`DUCKDB_MEMORY_LIMIT`): on the 50,000-task
benchmark org the load step's peak fell from about +270 MB to +128 MB.

A cap is not free: dlt's merge numbers each staged table's rows by primary key
(`ROW_NUMBER() OVER (PARTITION BY ...)`) to drop duplicates, and DuckDB's window operator
needs memory that grows with the tables. A 200,000-task org (4x the benchmark's) published
under 128 MB but ran out of memory under 96 MB; bigger orgs need more. So when a publish runs
out of memory under OUR cap (the user configured no DuckDB settings), `lift_memory_cap` resets
DuckDB's limit to its own default for the rest of the load, with one warning, and the publish
runs again: the failed attempt was rolled back whole, so nothing is written twice. A limit the
user set is theirs: the load then fails, nothing published, with one line naming the setting
(`pipelines/errors.py`).
"""

import logging
from typing import Any

import dlt
import duckdb

from tallyfy_source.errors import causes

logger = logging.getLogger("tallyfy_source")

#: DuckDB's memory for a load when the user set none (see the module docstring)
DUCKDB_MEMORY_LIMIT = "128MB"
#: where dlt reads the user's DuckDB settings (`[destination.duckdb.credentials] global_config`
#: in `.dlt/config.toml` or `DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG`)
GLOBAL_CONFIG_KEY = "destination.duckdb.credentials.global_config"


def user_set_duckdb_settings() -> bool:
    """True when the user gave DuckDB settings of their own: they then apply as given."""
    return dlt.config.get(GLOBAL_CONFIG_KEY) is not None


def ran_out_of_memory(error: BaseException) -> bool:
    """DuckDB's out-of-memory error, however deep dlt wrapped it."""
    return any(isinstance(e, duckdb.OutOfMemoryException) for e in causes(error))


def memory_limit(sql_client: Any) -> str:
    """DuckDB's memory_limit in force, as it shows it ("122.0 MiB")."""
    return str(sql_client.execute_sql("SELECT current_setting('memory_limit')")[0][0])


def lift_memory_cap(sql_client: Any, error: BaseException) -> bool:
    """After a publish ran out of memory under our cap: DuckDB's default limit for the rest of
    this load, and True (publish again); False when the error is another, or the limit was the
    user's or already DuckDB's default (nothing to lift)."""
    if not ran_out_of_memory(error) or user_set_duckdb_settings():
        return False
    capped = memory_limit(sql_client)
    sql_client.execute_sql("RESET memory_limit")
    lifted = memory_limit(sql_client)
    if lifted == capped:
        return False
    logger.warning("DuckDB needed more than %s to publish this load; publishing it again with DuckDB's"
                   " default limit (%s). Set your own: DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG="
                   "'{\"memory_limit\": \"2GB\"}'", capped, lifted)
    return True
