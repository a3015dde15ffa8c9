"""`tallyfy-report`: one HTML file anyone can open, from the views of a loaded dataset.

Why one file: it can be mailed, attached or put on a share, and opened offline by someone who
has no Python, no database and no BI tool; plotly.js travels inside it.
Every failure is one line on stderr; exit 2 when there is nothing loaded to report on.
"""

import argparse
import os
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator, Optional, Sequence

from tallyfy_source.validation import check_dataset_name, check_pipeline_name

from .errors import exit_code, one_line_reason
from .report_data import destination_views, duckdb_views, read_report
from .report_html import render
from .tallyfy_pipeline import DEFAULT_DUCKDB_FILE, DEFAULT_PIPELINE, DEMO_DUCKDB_FILE, OneLineParser

DEFAULT_OUTPUT = "tallyfy_report.html"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="tallyfy-report",
                           description="Write one self-contained HTML report from the loaded Tallyfy data.")
    parser.add_argument("-o", "--output", default=DEFAULT_OUTPUT, help=f"the HTML file to write (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--duckdb-file", help=f"DuckDB file (default: $TALLYFY_DUCKDB, else {DEFAULT_DUCKDB_FILE}; "
                                              f"with --demo: {DEMO_DUCKDB_FILE})")
    parser.add_argument("--demo", action="store_true", help=f"report on what `make demo` loaded ({DEMO_DUCKDB_FILE})")
    parser.add_argument("--destination", default="duckdb",
                        help="the dlt destination that was loaded (default: duckdb); others read through dlt's config")
    parser.add_argument("--dataset", default="tallyfy", help="dataset / schema name (default: tallyfy)")
    parser.add_argument("--pipeline-name", default=DEFAULT_PIPELINE,
                        help=f"dlt pipeline name, for destinations other than duckdb (default: {DEFAULT_PIPELINE})")
    parser.add_argument("--pipelines-dir", help="where dlt keeps pipeline state (default: ~/.dlt/pipelines)")
    return parser


def duckdb_file(args: argparse.Namespace) -> str:
    default = DEMO_DUCKDB_FILE if args.demo else (os.environ.get("TALLYFY_DUCKDB") or DEFAULT_DUCKDB_FILE)
    return os.path.abspath(args.duckdb_file or default)


@contextmanager
def open_views(args: argparse.Namespace) -> Iterator[tuple]:
    """(query, where the data comes from) for the chosen destination."""
    if args.destination == "duckdb":
        path = duckdb_file(args)
        with duckdb_views(path, args.dataset) as query:
            yield query, f"{path}, dataset {args.dataset}"
        return
    import dlt

    pipeline = dlt.pipeline(pipeline_name=check_pipeline_name(args.pipeline_name), destination=args.destination,
                            dataset_name=args.dataset, pipelines_dir=args.pipelines_dir)
    with destination_views(pipeline) as query:
        yield query, f"{args.destination}, dataset {args.dataset}"


def write_report(args: argparse.Namespace, now: Optional[datetime] = None) -> str:
    """Writes the HTML file; returns its absolute path."""
    check_dataset_name(args.dataset)
    now = now or datetime.now(timezone.utc)
    with open_views(args) as (query, source):
        data = read_report(query, now)
    page = render(data, source, now)
    output = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    temporary = f"{output}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(page)
    os.replace(temporary, output)  # a reader never sees half a file
    return output


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        output = write_report(args)
    except KeyboardInterrupt:
        print("tallyfy-report: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one line, as tallyfy-load does
        print(f"tallyfy-report: {one_line_reason(error)}", file=sys.stderr)
        return exit_code(error)
    size = os.path.getsize(output)
    print(f"report: {output} ({size / 1e6:.1f} MB, one file; open it in any browser, no network needed)")
    if args.demo:
        print_next_steps(output, duckdb_file(args), args.dataset)
    return 0


def print_next_steps(report: str, database: str, dataset: str) -> None:
    """After `make demo`: the three places to look."""
    query = (f"SELECT title, usage_class, total_usage FROM {dataset}.tag_usage ORDER BY total_usage DESC LIMIT 10")
    print("\nwhere to look next:")
    print(f"  the report:    open {report}")
    print("  the notebooks: make notebooks")
    print(f"  one view:      .venv/bin/python -c \"import duckdb; duckdb.connect('{database}', read_only=True)"
          f".sql('{query}').show()\"")


if __name__ == "__main__":
    sys.exit(main())
