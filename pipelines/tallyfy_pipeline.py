"""`tallyfy-load`: load Tallyfy into DuckDB or any dlt destination, and say what landed.

Config comes from dlt's usual places (`.dlt/config.toml`, `.dlt/secrets.toml`,
`SOURCES__TALLYFY__*` env vars); flags override them. Every failure ends in one
line on stderr and a non-zero exit, never a traceback.
"""

import argparse
import logging
import os
import sys
from contextlib import ExitStack
from typing import Any, Dict, List, Optional, Sequence, Set

import dlt

from tallyfy_source import RESOURCE_NAMES, apply_file_format, destinations, tallyfy_source
from tallyfy_source.api.endpoints import dlt_resource_names
from tallyfy_source.read.deletes import DELETE_MODES
from tallyfy_source.errors import ConfigError
from tallyfy_source.resume import discard_interrupted_load
from tallyfy_source.read.endpoint_read import ReadReport
from tallyfy_source.validation import (
    check_base_url,
    check_dataset_name,
    check_per_page,
    check_pipeline_name,
    check_requests_per_minute,
    check_resources,
)

from .duckdb_file import check_duckdb_file, duckdb_credentials, has_completed_load, remove_database
from .errors import exit_code, one_line_reason
from .summary import print_summary, rows_loaded_this_run
from .lock import pipeline_lock
from .views import create_views

# Not tallyfy.duckdb: DuckDB names the catalog after the file, and a catalog named like the
# dataset confuses its binder. The demo keeps its own file and pipeline, apart from real data.
DEFAULT_DUCKDB_FILE = "tallyfy_data.duckdb"
DEMO_DUCKDB_FILE = "tallyfy_demo.duckdb"
DEFAULT_PIPELINE = "tallyfy"
DEMO_PIPELINE = "tallyfy_demo"


class OneLineParser(argparse.ArgumentParser):
    """argparse answers bad flags with its whole usage; the command says one line, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        text = " ".join(message.split())
        self.exit(2, f"{self.prog}: {text} (see {self.prog} --help)\n")


def dlt_command() -> str:
    """dlt's command-line tool, installed beside this Python (`.venv/bin/dlt` in the project folder),
    which is often not on PATH."""
    path = os.path.join(os.path.dirname(sys.executable), "dlt")
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else path


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="tallyfy-load",
        description="Load a Tallyfy organization into DuckDB or any dlt destination: members, groups, tags,"
        " guests, templates, processes, tasks, comments and the activity feed (all nine tables unless"
        " --resources says otherwise), merged on their keys, then create the reporting views and print"
        " what landed.",
        epilog=f"dlt's own view of a pipeline: {dlt_command()} pipeline {DEFAULT_PIPELINE} info (the demo's:"
        f" {dlt_command()} pipeline {DEMO_PIPELINE} info; add --pipelines-dir DIR before the name when you"
        " gave one here).",
    )
    parser.add_argument("--demo", action="store_true", help="start the bundled API simulator and load its synthetic org")
    parser.add_argument("--org", action="append", dest="orgs", metavar="ID", help="org id (repeatable); default: config")
    parser.add_argument("--base-url", help="API root; default: config or https://go.tallyfy.com/api")
    parser.add_argument("--access-token", help="prefer SOURCES__TALLYFY__ACCESS_TOKEN or .dlt/secrets.toml: flags show in `ps`")
    parser.add_argument("--destination", default="duckdb", help="any dlt destination name (default: duckdb)")
    parser.add_argument("--dataset", default="tallyfy", help="dataset / schema name: letters, digits, _ and - (default: tallyfy)")
    parser.add_argument(
        "--pipeline-name",
        help=f"dlt pipeline name: letters, digits, _ and - (default: {DEFAULT_PIPELINE}; with --demo: {DEMO_PIPELINE})",
    )
    parser.add_argument("--pipelines-dir", help="where dlt keeps pipeline state (default: dlt's, ~/.dlt/pipelines; /var/dlt/pipelines for root)")
    parser.add_argument(
        "--duckdb-file",
        help=f"DuckDB database file (default: $TALLYFY_DUCKDB, else {DEFAULT_DUCKDB_FILE}; with --demo: {DEMO_DUCKDB_FILE})",
    )
    parser.add_argument("--resources", help=f"comma list of {','.join(RESOURCE_NAMES)} (default: all of them)")
    parser.add_argument("--per-page", type=int, default=None, help="page size, 1..100 (default: 100)")
    parser.add_argument("--requests-per-minute", type=int, default=None, help="request budget for the run (default: 100)")
    parser.add_argument("--full-refresh", action="store_true", help="ignore stored cursors and re-read everything")
    parser.add_argument("--sweep", action="store_true", help="read every member, group, template, process and task to find deleted ones (default: when the last sweep is older than sweep_interval_hours, 24)")
    parser.add_argument("--deleted-records", choices=DELETE_MODES, help="records missing upstream: delete them (default) or keep them flagged with missing_since")
    parser.add_argument("--progress", nargs="?", const="auto", choices=PROGRESS_MODES,
                        help="show progress on stderr: pages read of pages known per table and org, rows, requests"
                             " left in the budget's minute, time to go; `bar` (a live bar), `log` (a line every"
                             " 5 s), `auto` (bar on a terminal, else log; the default with a bare --progress)")
    parser.add_argument("--demo-members", type=int, default=300, help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true", help="log each walk and retry")
    return parser


PROGRESS_MODES = ("auto", "bar", "log")


def progress_collector(mode: Optional[str], stream: Any = None) -> Any:
    """dlt's collector for `--progress` (None: silent, for cron), always on stderr so the summary
    on stdout stays clean: tqdm bars on a terminal, dlt's LogCollector lines elsewhere."""
    if not mode:
        return None
    stream = stream or sys.stderr
    if mode == "bar" or (mode == "auto" and stream.isatty()):
        return dlt.progress.tqdm(file=stream, dynamic_ncols=True)
    return dlt.progress.log(log_period=5.0, logger=stream, dump_system_stats=False)


def duckdb_path(args: argparse.Namespace) -> str:
    default = DEMO_DUCKDB_FILE if args.demo else DEFAULT_DUCKDB_FILE
    return os.path.abspath(args.duckdb_file or (None if args.demo else os.environ.get("TALLYFY_DUCKDB")) or default)


def resolve_destination(args: argparse.Namespace) -> Any:
    """The destination object; fails early (before any request or file) on an unknown name."""
    if args.destination == "duckdb":
        return destinations.duckdb(credentials=duckdb_credentials(duckdb_path(args)))
    try:
        return destinations.atomic_destination(args.destination)
    except Exception:
        raise ConfigError(
            f"unknown destination {args.destination!r}: use a dlt destination name such as duckdb,"
            " postgres, bigquery, snowflake, motherduck or filesystem (and install its extra)"
        ) from None


def selected_resources(flag: Optional[str], demo: bool = False) -> List[str]:
    """The default resources without the flag (every one with --demo); a given but empty list is
    refused (it loaded everything)."""
    if flag is None:
        return list(RESOURCE_NAMES) if demo else check_resources(None)
    names = [name.strip() for name in flag.split(",") if name.strip()]
    if not names:
        raise ConfigError(
            f"--resources is empty: give a comma list of {','.join(RESOURCE_NAMES)},"
            " or leave the flag out to load the default ones"
        )
    return check_resources(names)


def checked_pipeline_name(args: argparse.Namespace) -> str:
    name = args.pipeline_name if args.pipeline_name is not None else (DEMO_PIPELINE if args.demo else DEFAULT_PIPELINE)
    return check_pipeline_name(name)


def loader_file_format(destination: Any) -> Optional[str]:
    """Parquet where it loads natively (our Arrow tables pass through unconverted); elsewhere
    dlt's choice per table, since PostgreSQL without an ADBC driver would warn on every table
    and fall back anyway."""
    return "parquet" if destination.destination_name in ("duckdb", "filesystem") else None


def source_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    """Only what the flags set: the rest is injected by dlt from config."""
    kwargs: Dict[str, Any] = {}
    if args.orgs:
        kwargs["org_id"] = args.orgs
    if args.base_url:
        kwargs["base_url"] = args.base_url
    if args.access_token:
        kwargs["access_token"] = args.access_token
    if args.per_page is not None:
        kwargs["per_page"] = check_per_page(args.per_page)
    if args.requests_per_minute is not None:
        kwargs["requests_per_minute"] = check_requests_per_minute(args.requests_per_minute)
    if args.full_refresh:
        kwargs["full_refresh"] = True
    if args.sweep:
        kwargs["sweep"] = True
    if args.deleted_records:
        kwargs["deleted_records"] = args.deleted_records
    return kwargs


def open_pipeline(args: argparse.Namespace, pipeline_name: str, destination: Any) -> dlt.Pipeline:
    """The dlt pipeline, with any package an interrupted run left behind discarded (see
    `tallyfy_source.resume`)."""
    opened, discarded = discard_interrupted_load(dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=destination,
        dataset_name=args.dataset,
        pipelines_dir=args.pipelines_dir,
        progress=progress_collector(args.progress),
    ))
    if discarded:
        print("tallyfy-load: an earlier run was interrupted: redoing it from the last completed load", file=sys.stderr)
    return opened


def run(args: argparse.Namespace, out=None) -> int:
    """Every input is checked (the source checks its own when it is made) before the first
    file, folder or request: refused input leaves nothing behind."""
    out = out or sys.stdout
    resources = selected_resources(args.resources, args.demo)
    pipeline_name = checked_pipeline_name(args)
    check_dataset_name(args.dataset)
    if args.base_url is not None:
        check_base_url(args.base_url)
    destination = resolve_destination(args)
    with ExitStack() as stack:
        kwargs = source_kwargs(args)
        if args.demo:
            from .demo import demo_activity_start, demo_simulator

            sim = stack.enter_context(demo_simulator(members=args.demo_members))
            kwargs.setdefault("activity_start_date", demo_activity_start(sim))
            kwargs.update(org_id=sim.org_ids, base_url=sim.base_url, access_token=sim.token)
            print(f"demo: Tallyfy API simulator at {sim.base_url}, org {', '.join(sim.org_ids)}", file=out)
        reports: List[ReadReport] = []
        source = tallyfy_source(reports=reports, **kwargs).with_resources(*dlt_resource_names(resources))
        new_file = None  # the DuckDB file this run creates: removed again if nothing lands in it
        if args.destination == "duckdb":
            path = check_duckdb_file(duckdb_path(args))  # the last input checked: still nothing made or sent
            new_file = None if os.path.lexists(path) else path
        stack.enter_context(pipeline_lock(args.pipelines_dir, pipeline_name))  # one run at a time
        pipeline = open_pipeline(args, pipeline_name, destination)
        try:
            file_format = loader_file_format(destination)
            pipeline.run(apply_file_format(source, file_format), loader_file_format=file_format)
        except BaseException:
            if new_file and not has_completed_load(new_file, args.dataset):
                remove_database(new_file)  # a run stopped at once (401, redirect) leaves no empty file
            raise
        after_load(pipeline, resources, reports, out=out, new_file=new_file)
    return report_failed_orgs(reports)


def after_load(pipeline: dlt.Pipeline, resources: List[str], reports: List[ReadReport], out=None,
               new_file: Optional[str] = None) -> None:
    """The reporting views and the summary, unless every org failed and nothing landed: then
    nothing is printed, and `new_file`, a DuckDB file this run created, is removed again.
    (The deploy script calls this too.)"""
    if failed_orgs(reports) and not loaded_orgs(reports) and not data_rows_loaded(pipeline):
        if new_file:
            remove_database(new_file)  # holds only dlt's bookkeeping: as if the run never wrote
        return
    out = out or sys.stdout
    views = create_views(pipeline)
    print_summary(pipeline, summary_roots(resources), out=out)
    if views:
        print(f"views: {', '.join(views)}", file=out)


def loaded_orgs(reports: List[ReadReport]) -> Set[str]:
    return {r.org_id for r in reports} - set(failed_orgs(reports))


def report_failed_orgs(reports: List[ReadReport], prog: str = "tallyfy-load") -> int:
    """One line on stderr per failed org; the exit code (1 when any org failed)."""
    failed = failed_orgs(reports)
    others = " (the other orgs loaded)" if loaded_orgs(reports) else ""
    for org_id, reason in failed.items():
        print(f"{prog}: org {org_id} failed{others}: {reason}", file=sys.stderr)
    return 1 if failed else 0


def data_rows_loaded(pipeline: dlt.Pipeline) -> int:
    """Rows of the data tables (not dlt's own) this run loaded."""
    return sum(n for table, n in rows_loaded_this_run(pipeline).items() if not table.startswith("_dlt"))


def summary_roots(resources: List[str]) -> List[str]:
    """Root tables the selected resources fill (`tasks` and `comments` come from one walk)."""
    roots = list(resources)
    if "tasks" in roots or "comments" in roots:
        roots += [t for t in ("tasks", "comments") if t not in roots]
    return roots


def failed_orgs(reports: List[ReadReport]) -> Dict[str, str]:
    """org id -> the first failure seen for it."""
    failed: Dict[str, str] = {}
    for report in reports:
        if report.error and report.org_id not in failed:
            failed[report.org_id] = report.error
    return failed


class FailuresReportedAtTheEnd(logging.Filter):
    """Drops the source's per-walk failure lines (ERROR): the command prints one line per failed
    org after the run, so without `-v` a failure is said once, not once per resource."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "tallyfy_source" and record.levelno == logging.ERROR)


def setup_logging(verbose: bool) -> None:
    """Log lines to stderr; the filter goes only on the handler made here (not on a host's own)."""
    before = list(logging.getLogger().handlers)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        for handler in logging.getLogger().handlers:
            if handler not in before:
                handler.addFilter(FailuresReportedAtTheEnd())


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("tallyfy-load: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # every failure becomes one line; see errors.py
        print(f"tallyfy-load: {one_line_reason(error)}", file=sys.stderr)
        return exit_code(error)


if __name__ == "__main__":
    sys.exit(main())
