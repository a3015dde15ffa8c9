"""Turning any failure into the one line the user sees.

dlt wraps an error raised while extracting in two or three layers
(PipelineStepFailed > ResourceExtractionError > ours); the user wants the
innermost error we raised on purpose, or a config error dlt found.
"""

import re

from dlt.common.configuration.exceptions import ConfigFieldMissingException, ConfigValueCannotBeCoercedException

from tallyfy_source.duckdb_memory import DUCKDB_MEMORY_LIMIT, ran_out_of_memory, user_set_duckdb_settings
from tallyfy_source.errors import ConfigError, TallyfyError, causes
from tallyfy_source.validation import NO_ORG_ID, NO_TOKEN

_MISSING_HINTS = {"access_token": NO_TOKEN, "org_id": NO_ORG_ID}  # dlt found them missing first


#: DuckDB's message when another process has the file open: "Could not set lock on file "X":
#: Conflicting lock is held in /usr/bin/python3 (PID 4242) by user ..."
_DUCKDB_LOCK = re.compile(r'lock on file "(?P<file>[^"]+)".*?held in (?P<program>.*?) \(PID (?P<pid>\d+)\)', re.S)


def _command_of(pid: str, program: str) -> str:
    """The command line of a running pid (Linux /proc), else the program DuckDB named."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip() or program
    except OSError:
        return program


def locked_database(error: BaseException) -> str:
    """One sentence for a DuckDB file another process holds (a notebook, a DuckDB shell, another
    load): who holds it and what to do; empty when `error` is something else."""
    found = _DUCKDB_LOCK.search(str(error))
    if not found:
        return ""
    return (f"the DuckDB file {found['file']} is open in another process, pid {found['pid']}"
            f" ({_command_of(found['pid'], found['program'])}): close it there (or wait for that load"
            " to end), then run again")


def duckdb_memory_reason() -> str:
    """Why a load ran out of DuckDB memory and what to set. Under the user's own limit always;
    under our cap only in a staging copy (a publish lifts it: `duckdb_memory.py`)."""
    setting = ("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG or [destination.duckdb.credentials]"
               " global_config")
    if user_set_duckdb_settings():
        return (f"DuckDB ran out of memory under the memory_limit set in {setting}: raise it (or remove it"
                " to let this command manage DuckDB's memory), then run again (a publish that fails is"
                " rolled back whole)")
    return (f"DuckDB ran out of memory under this command's {DUCKDB_MEMORY_LIMIT} cap while copying the"
            f" load in: set a larger memory_limit in {setting} (e.g. '{{\"memory_limit\": \"2GB\"}}'),"
            " then run again (nothing was published)")


def one_line_reason(error: BaseException) -> str:
    chain = list(causes(error))
    for e in chain:
        if isinstance(e, TallyfyError):
            return _first_line(e)
        if locked_database(e):
            return locked_database(e)
    if ran_out_of_memory(error):
        return duckdb_memory_reason()
    for e in chain:
        if isinstance(e, ConfigFieldMissingException):
            for field in getattr(e, "fields", []) or []:
                if field in _MISSING_HINTS:
                    return _MISSING_HINTS[field]
            return f"missing configuration: {', '.join(getattr(e, 'fields', []) or [])}"
        if isinstance(e, ConfigValueCannotBeCoercedException):
            return not_a(e)
    innermost = chain[-1]
    return f"{type(innermost).__name__}: {_first_line(innermost)}"


def not_a(error: ConfigValueCannotBeCoercedException) -> str:
    """dlt could not read a configured value as its type (e.g. SOURCES__TALLYFY__SWEEP_INTERVAL_HOURS
    =daily). The value is not echoed: the field could be a secret."""
    kind = getattr(error.hint, "__name__", str(error.hint))
    kind = {"float": "a number", "int": "a whole number", "bool": "true or false",
            "dict": "a table of names and values (a [section] in TOML, a JSON object in an environment variable)",
            }.get(kind, f"of type {kind}")
    return (f"the configured {error.field_name} is not {kind}: fix its value in the environment"
            " (e.g. SOURCES__TALLYFY__...) or in .dlt/config.toml")


_USERINFO_IN_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s]+@")  # greedy: a password may hold "@"


def _first_line(error: BaseException) -> str:
    """The first line, with the user:password@ of any URL in it removed (a library's message
    may echo a URL or DSN with its credentials)."""
    text = str(error).strip() or type(error).__name__
    return _USERINFO_IN_URL.sub(r"\1", text.splitlines()[0][:500])


def exit_code(error: BaseException) -> int:
    """2 for bad input (nothing was sent), 1 for a failed run."""
    bad_input = (ConfigError, ConfigFieldMissingException, ConfigValueCannotBeCoercedException)
    return 2 if any(isinstance(e, bad_input) for e in causes(error)) else 1
