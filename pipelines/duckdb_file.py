"""The DuckDB file of a run: checked before anything is made or sent, and removed again when
the run made it and loaded nothing into it (every org failed, or the run stopped).

Each unusable path is refused with one line naming it and the fix (exit code 2), instead of the
`FileNotFoundError`, `FileExistsError` or DuckDB `IOException` the load would raise later.
"""

import os
import tempfile
from typing import Any, Dict, Optional

from tallyfy_source.duckdb_memory import DUCKDB_MEMORY_LIMIT, user_set_duckdb_settings
from tallyfy_source.errors import ConfigError

FLAG_HINT = "give another path with --duckdb-file (or $TALLYFY_DUCKDB)"


class DuckDBPathError(ConfigError):
    """The DuckDB file cannot be created or opened at this path."""


def _nearest_existing(path: str) -> str:
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def check_duckdb_file(path: str) -> str:
    """`path` (absolute) if DuckDB can create or open it, else `DuckDBPathError`. Makes nothing:
    a missing folder is refused, not created (a typo must not start a new database)."""
    where = f"DuckDB file {path}"
    if os.path.isdir(path):
        suggestion = os.path.join(path, "tallyfy_data.duckdb")
        raise DuckDBPathError(f"{where} is a folder: name a file in it, e.g. --duckdb-file {suggestion}")
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        existing = _nearest_existing(folder)
        if os.path.lexists(existing) and not os.path.isdir(existing):
            raise DuckDBPathError(f"{where}: {existing} is a file, not a folder: {FLAG_HINT}")
        raise DuckDBPathError(f"{where}: folder {folder} does not exist: create it (mkdir -p {folder}) or {FLAG_HINT}")
    if os.path.lexists(path) and not os.path.isfile(path):
        raise DuckDBPathError(f"{where} is not a regular file: {FLAG_HINT}")
    problem = _cannot_write(folder, path)
    if problem:
        raise DuckDBPathError(f"{where}: {problem}: choose a folder you can write to, or fix its permissions")
    return path


def _cannot_write(folder: str, path: str) -> Optional[str]:
    """Why DuckDB could not write the file and its `.wal` beside it, tried for real (permission
    bits do not tell for root, read-only mounts or /proc), or None."""
    try:
        if os.path.exists(path):
            with open(path, "r+b"):
                pass
        with tempfile.TemporaryFile(dir=folder, prefix=".tallyfy-write-check-"):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return f"cannot write in {folder} ({reason})"
    return None


def has_completed_load(path: str, dataset: str) -> bool:
    """Whether the file holds a completed dlt load of `dataset` (True when it cannot be read: then
    it is not ours to remove)."""
    import duckdb

    try:
        with duckdb.connect(path, read_only=True) as con:
            found = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = '_dlt_loads'",
                [dataset]).fetchone()[0]
            if not found:
                return False
            return con.execute(f'SELECT count(*) FROM "{dataset}"._dlt_loads WHERE status = 0').fetchone()[0] > 0
    except Exception:
        return True


def remove_database(path: str) -> None:
    """The file and the write-ahead log DuckDB keeps beside it."""
    for name in (path, f"{path}.wal"):
        try:
            os.remove(name)
        except FileNotFoundError:
            pass


def duckdb_credentials(path: str) -> Dict[str, Any]:
    """dlt's DuckDB credentials for the file (the dict form `destinations.duckdb` takes), with
    `DUCKDB_MEMORY_LIMIT` (`tallyfy_source/duckdb_memory.py` says why, and when a load lifts it)
    unless the user set DuckDB's global settings themselves
    (`[destination.duckdb.credentials] global_config` in `.dlt/config.toml` or
    `DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG`): theirs then apply as given. Values given
    here win over dlt's config, hence the check."""
    credentials: Dict[str, Any] = {"database": path}
    if not user_set_duckdb_settings():
        credentials["global_config"] = {"memory_limit": DUCKDB_MEMORY_LIMIT}
    return credentials
