"""The scheduled load, shaped for `dlt deploy`: literal pipeline arguments and one `run` call.

The same load as `tallyfy-load --destination postgres`: every table (members, groups, tags,
guests, templates, processes, tasks, comments, activity), the reporting views, the summary, one
line per failed org and exit code 1, under the same lock, redoing an interrupted run from the
last completed load. It calls the command's own functions for all of that.

`dlt deploy deploy/tallyfy_scheduled.py github-action|airflow-composer` reads the pipeline
name from this file and the destination and config from its last local run. Config and secrets
come from dlt's usual places (`SOURCES__TALLYFY__*`, `DESTINATION__POSTGRES__*`, or
`.dlt/*.toml`). `TALLYFY_DUCKDB=path` loads into that DuckDB file instead of PostgreSQL (a local
try; the tests do it).
"""

import os
import sys

import dlt

from pipelines.duckdb_file import check_duckdb_file, duckdb_credentials
from pipelines.errors import exit_code, one_line_reason
from pipelines.lock import pipeline_lock
from pipelines.tallyfy_pipeline import after_load, loader_file_format, report_failed_orgs, setup_logging
from tallyfy_source import RESOURCE_NAMES, apply_file_format, destinations, select_resources, tallyfy_source
from tallyfy_source.resume import discard_interrupted_load

PROG = "tallyfy_scheduled"


def load(destination) -> int:
    """One scheduled run; the exit code."""
    reports = []
    with pipeline_lock(None, "tallyfy"):
        pipeline = dlt.pipeline(pipeline_name="tallyfy", destination=destination, dataset_name="tallyfy")
        # an earlier run was interrupted: redo it from the last completed load, as tallyfy-load does
        pipeline, _ = discard_interrupted_load(pipeline)
        source = select_resources(tallyfy_source(reports=reports), None)  # every table
        file_format = loader_file_format(pipeline.destination)
        pipeline.run(apply_file_format(source, file_format), loader_file_format=file_format)
        after_load(pipeline, list(RESOURCE_NAMES), reports)  # views, summary
    return report_failed_orgs(reports, prog=PROG)


def scheduled_destination():
    """The DuckDB file $TALLYFY_DUCKDB names, else PostgreSQL (deploy/dagster_definitions.py
    loads into the same one)."""
    duckdb_file = os.environ.get("TALLYFY_DUCKDB")
    if duckdb_file:
        return destinations.duckdb(credentials=duckdb_credentials(check_duckdb_file(os.path.abspath(duckdb_file))))
    # dlt's postgres, publishing all tables in one transaction (tallyfy_source/destinations.py);
    # or name bigquery, snowflake, motherduck or filesystem (and set its keys)
    return "tallyfy_source.destinations.postgres"


def main() -> int:
    setup_logging(verbose=False)
    try:
        return load(scheduled_destination())
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one line, as tallyfy-load says it (pipelines/errors.py)
        print(f"{PROG}: {one_line_reason(error)}", file=sys.stderr)
        return exit_code(error)


if __name__ == "__main__":
    sys.exit(main())
