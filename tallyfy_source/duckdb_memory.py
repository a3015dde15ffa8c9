"""DuckDB's memory during a load: a modest cap by default, lifted for the one publish that needs more.

A load publishes every table in one DuckDB transaction (`destinations.py`), and DuckDB keeps
pages in memory up to its `memory_limit` (80% of RAM by default) before writing them to
`<file>.tmp`. The commands therefore cap it (`DUCKDB_MEMORY_LIMIT`, 64 MB): on the
50,000-task benchmark org the load step then peaks about 45 MB above the normalize step
(about 100 MB under the 128 MB cap of before, about 270 MB uncapped), and the peak grows
less with the org: DuckDB's cached pages stop growing at the cap.

What a publish needs grows with the org: the merges insert every staged row in one
transaction. Without dlt's window dedup (`staging_dedup.py`), a 200,000-task org (4x the
benchmark's) publishes under 56 MB but not under 48 MB. So when a publish runs out of memory
under OUR cap (the user configured no DuckDB settings), `lift_memory_cap` resets DuckDB's
limit to its own default for the rest of the load, with one warning, and the publish runs
again: the failed attempt was rolled back whole, so nothing is written twice. A limit the
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
DUCKDB_MEMORY_LIMIT = "64MB"
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
