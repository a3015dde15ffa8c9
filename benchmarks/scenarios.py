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
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import dlt

PIPELINE_NAME = "bench_tallyfy"
TOKEN_ENV = "TALLYFY_BENCH_TOKEN"  # the token comes by env, not argv (argv shows in `ps`)


def peak_rss_mb() -> float:
    """This process's own peak resident set size: Linux's VmHWM (KiB). Not `ru_maxrss`: a child
    started by `subprocess` (vfork + exec) inherits the parent's peak there, so every run would
    report at least the harness's own RSS (the simulator and its orgs) whatever it used itself."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # elsewhere: the best there is


class RssSampler:
    """This process's resident set size every `every` seconds (Linux /proc), to tell which
    step of the run set its peak; sampling stops with `stop()`."""

    def __init__(self, every: float = 0.05):
        self.every = every
        self.samples: List[Tuple[float, float]] = []  # (wall clock, RSS MB)
        self._done = threading.Event()
        self._page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20 if hasattr(os, "sysconf") else 0.0
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def rss_mb(self) -> Optional[float]:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * self._page_mb
        except (OSError, ValueError, IndexError):
            return None

    def _run(self) -> None:
        while not self._done.is_set():
            rss = self.rss_mb()
            if rss is None:
                return
            self.samples.append((time.time(), rss))
            self._done.wait(self.every)

    def start(self) -> "RssSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def by_step(self, steps: List[Tuple[str, float, float]]) -> Dict[str, float]:
        """Highest RSS sampled before the run (imports, source set up), within each of dlt's
        steps and after them ((step, started, finished) as epoch seconds, see `step_times`)."""
        out: Dict[str, float] = {}
        first = min((a for _, a, _ in steps), default=None)
        last = max((b for _, _, b in steps), default=None)
        for t, rss in self.samples:
            if first is not None and t < first:
                out["before"] = max(out.get("before", 0.0), rss)
            if last is not None and t > last:
                out["after"] = max(out.get("after", 0.0), rss)
            for step, a, b in steps:
                if a <= t <= b:
                    out[step] = max(out.get(step, 0.0), rss)
        return out


def step_seconds(pipeline: dlt.Pipeline) -> Dict[str, float]:
    """extract / normalize / load seconds from dlt's trace of the last run."""
    out = {"extract": 0.0, "normalize": 0.0, "load": 0.0}
    trace = pipeline.last_trace
    for step in trace.steps if trace else ():
        if step.step in out and step.started_at and step.finished_at:
            out[step.step] += (step.finished_at - step.started_at).total_seconds()
    return out


def step_times(pipeline: dlt.Pipeline) -> List[Tuple[str, float, float]]:
    """(step, started, finished) of dlt's trace of the last run, as epoch seconds."""
    trace = pipeline.last_trace
    return [(st.step, st.started_at.timestamp(), st.finished_at.timestamp())
            for st in (trace.steps if trace else ()) if st.started_at and st.finished_at]


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
    from tallyfy_source import apply_file_format, select_resources, tallyfy_source

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
    if spec.get("resources"):  # named tables, as `tallyfy-load --resources` selects them
        source = select_resources(source, spec["resources"])
    started = time.perf_counter()
    file_format = loader_file_format(pipeline.destination)
    pipeline.run(apply_file_format(source, file_format), loader_file_format=file_format)
    wall = time.perf_counter() - started
    return {
        "wall": wall,
        "steps": step_seconds(pipeline),
        "rows": loaded_rows(pipeline),
        "walks": {r.resource: {"mode": r.mode, "requests": r.requests} for r in reports},
        "step_times": step_times(pipeline),
    }


def run_rest_api(spec: Dict[str, Any]) -> Dict[str, Any]:
    from .baselines import run_rest_api as load

    started = time.perf_counter()
    pipeline = load(
        spec["base_url"], spec["token"], spec["org_id"],
        os.path.join(spec["workdir"], "rest_api.duckdb"), os.path.join(spec["workdir"], "pipelines"),
        spec.get("workflow", False), spec.get("activity_start", ""),
    )
    wall = time.perf_counter() - started
    return {"wall": wall, "steps": step_seconds(pipeline), "rows": loaded_rows(pipeline)}


def run_pandas(spec: Dict[str, Any]) -> Dict[str, Any]:
    from .baselines import run_requests_pandas

    started = time.perf_counter()
    out = run_requests_pandas(
        spec["base_url"], spec["token"], spec["org_id"], os.path.join(spec["workdir"], "pandas.duckdb"),
        spec.get("workflow", False), spec.get("activity_start", ""),
    )
    wall = time.perf_counter() - started
    return {"wall": wall, "steps": out["seconds"], "rows": out["rows"]}


RUNNERS = {"ours": run_ours, "rest_api": run_rest_api, "pandas": run_pandas}


def measure(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Run one loader as the spec says; never raises, a failure is reported in `error`."""
    os.makedirs(spec["workdir"], exist_ok=True)
    spec = {"token": os.environ.get(TOKEN_ENV), **spec}
    sampler = RssSampler().start()
    try:
        result = RUNNERS[spec["kind"]](spec)
    except Exception as error:  # the harness reports a broken run instead of dying
        reason = " ".join(str(error).split())[:400]
        result = {"error": f"{type(error).__name__}: {reason}"}
    finally:
        sampler.stop()
    result["peak_rss_mb"] = peak_rss_mb()
    if "step_times" in result:
        result["rss_by_step"] = sampler.by_step(result.pop("step_times"))
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
