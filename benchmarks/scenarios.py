"""One measured run, in its own process so its peak RSS is its own.

    python -m benchmarks.scenarios '<json spec>' RESULT_FILE

The spec names the loader (`ours`, `rest_api`, `pandas`), the simulator to read
(base_url, token, org_id) and a work folder (DuckDB file and dlt state: the
incremental runs of `ours` reuse the folder of its full load). The result file
gets wall, extract / normalize / load seconds, rows per table and peak RSS.
`measure()` is also called in-process by the tests.
"""

import json
import os
import resource
import sys
import time
from typing import Any, Dict, List, Optional

import dlt

PIPELINE_NAME = "bench_tallyfy"
TOKEN_ENV = "TALLYFY_BENCH_TOKEN"  # the token comes by env, not argv (argv shows in `ps`)


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def step_seconds(pipeline: dlt.Pipeline) -> Dict[str, float]:
    """extract / normalize / load seconds from dlt's trace of the last run."""
    out = {"extract": 0.0, "normalize": 0.0, "load": 0.0}
    trace = pipeline.last_trace
    for step in trace.steps if trace else ():
        if step.step in out and step.started_at and step.finished_at:
            out[step.step] += (step.finished_at - step.started_at).total_seconds()
    return out


def loaded_rows(pipeline: dlt.Pipeline) -> Dict[str, int]:
    """Rows written per data table by the last run (dlt's own tables left out)."""
    info = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    counts = info.row_counts if info else {}
    return {table: n for table, n in counts.items() if not table.startswith("_dlt")}


def ours_pipeline(workdir: str) -> dlt.Pipeline:
    """The pipeline `tallyfy-load` would build, writing into `workdir`."""
    from pipelines.tallyfy_pipeline import build_parser, resolve_destination

    args = build_parser().parse_args(["--duckdb-file", os.path.join(workdir, "tallyfy_data.duckdb")])
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=os.path.join(workdir, "pipelines"),
        destination=resolve_destination(args),
        dataset_name="tallyfy",
    )


def run_ours(spec: Dict[str, Any]) -> Dict[str, Any]:
    from pipelines.tallyfy_pipeline import loader_file_format
    from tallyfy_source import tallyfy_source

    reports: List[Any] = []
    pipeline = ours_pipeline(spec["workdir"])
    source = tallyfy_source(
        org_id=[spec["org_id"]],
        access_token=spec["token"],
        base_url=spec["base_url"],
        requests_per_minute=spec.get("requests_per_minute") or 1_000_000,
        reports=reports,
        **spec.get("source_kwargs", {}),
    )
    started = time.perf_counter()
    pipeline.run(source, loader_file_format=loader_file_format(pipeline.destination))
    wall = time.perf_counter() - started
    return {
        "wall": wall,
        "steps": step_seconds(pipeline),
        "rows": loaded_rows(pipeline),
        "walks": {r.resource: {"mode": r.mode, "requests": r.requests} for r in reports},
    }


def run_rest_api(spec: Dict[str, Any]) -> Dict[str, Any]:
    from .baselines import run_rest_api as load

    started = time.perf_counter()
    pipeline = load(
        spec["base_url"], spec["token"], spec["org_id"],
        os.path.join(spec["workdir"], "rest_api.duckdb"), os.path.join(spec["workdir"], "pipelines"),
    )
    wall = time.perf_counter() - started
    return {"wall": wall, "steps": step_seconds(pipeline), "rows": loaded_rows(pipeline)}


def run_pandas(spec: Dict[str, Any]) -> Dict[str, Any]:
    from .baselines import run_requests_pandas

    started = time.perf_counter()
    out = run_requests_pandas(
        spec["base_url"], spec["token"], spec["org_id"], os.path.join(spec["workdir"], "pandas.duckdb")
    )
    wall = time.perf_counter() - started
    return {"wall": wall, "steps": out["seconds"], "rows": out["rows"]}


RUNNERS = {"ours": run_ours, "rest_api": run_rest_api, "pandas": run_pandas}


def measure(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Run one loader as the spec says; never raises, a failure is reported in `error`."""
    os.makedirs(spec["workdir"], exist_ok=True)
    spec = {"token": os.environ.get(TOKEN_ENV), **spec}
    try:
        result = RUNNERS[spec["kind"]](spec)
    except Exception as error:  # the harness reports a broken run instead of dying
        reason = " ".join(str(error).split())[:400]
        result = {"error": f"{type(error).__name__}: {reason}"}
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec, result_file = json.loads(argv[0]), argv[1]
    os.makedirs(spec["workdir"], exist_ok=True)
    os.chdir(spec["workdir"])  # no .dlt/ config of the caller's folder leaks in
    result = measure(spec)
    with open(result_file, "w") as f:
        json.dump(result, f)
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
