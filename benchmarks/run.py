"""`make bench`: this connector against two baselines on one simulated org, one table out.

    python -m benchmarks.run                 # issue 6's defaults (20,000 members, 250 ms, 600/min)
    python -m benchmarks.run --quick         # small org, 20 ms: a smoke run in well under a minute
    python -m benchmarks.run --workflow      # workflow data of a 50,000-task org and a 4x smaller one
                                             # (benchmarks/workflow.py; about 6 minutes)

The simulator runs in this process; every measured run is a child process
(`benchmarks.scenarios`) so its peak RSS is its own. Request counters and the
simulator's rate-limit window are reset before each run, as if runs were
scheduled minutes apart. Prints the markdown table and writes it (with the raw
figures as .json beside it) to `benchmarks/results.md`, or `--out`; `--quick` writes none.
`--workflow` writes its own section of that file (and `results-workflow.json`); each kind of
run keeps the other's part of the file.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

from tallyfy_source.api.endpoints import ENDPOINTS
from tallyfy_source.simulator import Simulator, SyntheticOrg

from . import workflow
from .floor import full_load_requests, incremental_requests, pages_of, source_concurrency
from .report import render

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "bench-token-5d1e8a"
RESULTS = os.path.join(REPO, "benchmarks", "results.md")
from .scenarios import TOKEN_ENV


@dataclass
class Sizes:
    members: int = 20_000
    groups: int = 2_000
    memberships: int = 100_000
    tags: int = 5_000
    guests: int = 5_000

    def scaled(self, factor: float) -> "Sizes":
        return Sizes(*(max(1, int(round(v * factor))) for v in asdict(self).values()))


QUICK = Sizes(members=1_000, groups=100, memberships=2_000, tags=300, guests=200)


def make_org(sizes: Sizes, seed: int = 1, org_id: Optional[str] = None) -> SyntheticOrg:
    return SyntheticOrg.generate(
        org_id, members=sizes.members, groups=sizes.groups, tags=sizes.tags, guests=sizes.guests,
        memberships_per_group=sizes.memberships / max(1, sizes.groups), seed=seed,
    )


def org_counts(org: SyntheticOrg) -> Dict[str, int]:
    return {resource: org.count(resource) for resource in ENDPOINTS}


def fresh_window(sim: Simulator) -> None:
    """Forget the rate-limit window, as if the previous run had ended minutes ago."""
    sim.reset_rate_limit()


def child_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    return env


def measure(sim: Simulator, spec: Dict[str, Any], log: Callable[[str], None],
            resources: Sequence[str] = tuple(ENDPOINTS)) -> Dict[str, Any]:
    """One run in a child process, with the simulator's view of it (requests, 429s, its CPU);
    requests are also counted per resource (`resources`: the simulator's names) and kind."""
    os.makedirs(spec["workdir"], exist_ok=True)
    result_file = os.path.join(spec["workdir"], f"result-{spec['name']}.json")
    fresh_window(sim)
    sim.reset_counts()
    cpu_before, started = time.process_time(), time.perf_counter()
    with open(os.path.join(spec["workdir"], f"log-{spec['name']}.txt"), "w") as child_log:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.scenarios", json.dumps(spec), result_file],
            cwd=REPO, env={**child_env(), TOKEN_ENV: sim.token}, stdout=child_log, stderr=subprocess.STDOUT,
        )
    result: Dict[str, Any] = {}
    if os.path.exists(result_file):
        with open(result_file) as f:
            result = json.load(f)
    if done.returncode and "error" not in result:
        result["error"] = f"child exited with {done.returncode}, see {child_log.name}"
    result.update(
        name=spec["name"],
        process_wall=time.perf_counter() - started,
        sim_cpu=time.process_time() - cpu_before,
        requests=sim.request_count(),
        status_429=sim.request_count(status=429),
        requests_by_resource={r: sim.request_count(resource=r) for r in resources},
        requests_by_kind={k: sim.request_count(kind=k) for k in ("list", "item")},
    )
    log(_one_line(result))
    return result


def _one_line(r: Dict[str, Any]) -> str:
    if "error" in r:
        return f"  {r['name']}: FAILED {r['error']}"
    steps = r.get("steps", {})
    return (
        f"  {r['name']}: {r['requests']} requests ({r['status_429']} x 429), wall {r['wall']:.1f}s"
        f" (extract {steps.get('extract', 0):.1f} / normalize {steps.get('normalize', 0):.1f}"
        f" / load {steps.get('load', 0):.1f}), {sum(r.get('rows', {}).values())} rows,"
        f" peak RSS {r['peak_rss_mb']:.0f} MB, simulator CPU {r['sim_cpu']:.1f}s"
    )


def local_runs(sim: Simulator, spec: Callable[..., Dict[str, Any]], small_org_id: str, no_baselines: bool,
               runs: Dict[str, Dict[str, Any]], log: Callable[[str], None]) -> None:
    """Full loads at zero latency: local work (normalize + load) and peak RSS against org size."""
    kinds = ["ours"] + ([] if no_baselines else ["rest_api"])
    for kind in kinds:
        runs[f"{kind}_local"] = measure(sim, spec(f"{kind}_local", kind, f"{kind}_local", limited=False), log)
        runs[f"{kind}_small_local"] = measure(
            sim, spec(f"{kind}_small_local", kind, f"{kind}_small", org_id=small_org_id, limited=False), log)


def run_all(args: argparse.Namespace, log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Every scenario of issue 6 against one simulator; returns what `report.render` needs."""
    bench_started, load_before = time.perf_counter(), os.getloadavg()[0]
    sizes = Sizes(args.members, args.groups, args.memberships, args.tags, args.guests)
    rate = args.rate or None
    org = make_org(sizes)
    small = make_org(sizes.scaled(1 / args.scale), seed=2)
    sim = Simulator([org, small], token=TOKEN, latency=args.latency, rate_limit_per_minute=rate).start()
    work = tempfile.mkdtemp(prefix="tallyfy-bench-")
    runs: Dict[str, Dict[str, Any]] = {}
    changed: Dict[str, int] = {}

    def spec(name: str, kind: str, workdir: str, org_id: str = org.org_id, limited: bool = True):
        return {"name": name, "kind": kind, "workdir": os.path.join(work, workdir), "base_url": sim.base_url,
                "org_id": org_id, "requests_per_minute": rate if limited else None}

    try:
        log(f"org: {org!r}, {org.memberships()} memberships; latency {args.latency}s, rate {rate or 'unlimited'}/min")
        runs["ours_full"] = measure(sim, spec("ours_full", "ours", "ours"), log)
        runs["ours_noop"] = measure(sim, spec("ours_noop", "ours", "ours"), log)
        for resource in ("members", "groups"):
            k = max(1, math.ceil(org.count(resource) * args.change_share))
            changed[resource] = len(org.touch_random(resource, k, rng_seed=6))
        runs["ours_changed"] = measure(sim, spec("ours_changed", "ours", "ours"), log)
        if not args.no_baselines:
            runs["rest_api"] = measure(sim, spec("rest_api", "rest_api", "rest_api"), log)
            runs["pandas"] = measure(sim, spec("pandas", "pandas", "pandas"), log)

        if not args.no_local:
            sim.latency, sim.rate_limit_per_minute = 0.0, None  # local work: no waiting at all
            log("zero latency, no rate limit: local work and memory against org size")
            local_runs(sim, spec, small.org_id, args.no_baselines, runs, log)
    finally:
        sim.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    pages = pages_of(org_counts(org))
    noop = {r: 0 for r in pages}
    return {
        "runs": runs,
        "sizes": asdict(sizes),
        "counts": org_counts(org),
        "memberships": org.memberships(),
        "small_counts": org_counts(small),
        "small_memberships": small.memberships(),
        "scale": args.scale,
        "latency": args.latency,
        "rate": rate,
        "pages": pages,
        "expected": {
            "ours_full": full_load_requests(pages),
            "ours_noop": incremental_requests(pages, noop),
            "ours_changed": incremental_requests(pages, changed),
        },
        "changed": changed,
        "concurrency": source_concurrency(),
        "cores": os.cpu_count(),
        "bench_seconds": time.perf_counter() - bench_started,
        "load_average": (load_before, os.getloadavg()[0]),
        "workdir": work if args.keep else None,
    }


def build_parser() -> argparse.ArgumentParser:
    d = Sizes()
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=d.members)
    p.add_argument("--groups", type=int, default=d.groups)
    p.add_argument("--memberships", type=int, default=d.memberships, help="group memberships in all")
    p.add_argument("--tags", type=int, default=d.tags)
    p.add_argument("--guests", type=int, default=d.guests)
    p.add_argument("--latency", type=float, default=0.25, help="seconds the simulator sleeps per request")
    p.add_argument("--rate", type=int, default=600, help="requests/minute the simulator allows (0: no limit)")
    p.add_argument("--change-share", type=float, default=0.01, help="share of members and groups changed")
    p.add_argument("--scale", type=float, default=4.0, help="the memory check's small org is this much smaller")
    p.add_argument("--quick", action="store_true", help="small org and 20 ms latency: a smoke run")
    p.add_argument("--no-baselines", action="store_true", help="measure this connector only")
    p.add_argument("--no-local", action="store_true", help="skip the zero-latency local-work and memory runs")
    p.add_argument("--workflow", action="store_true",
                   help="the workflow benchmark instead (benchmarks/workflow.py): 50,000 tasks and a --scale smaller org")
    p.add_argument("--workflow-scale", type=float, default=1.0, help="workflow org size (1: about 50,000 tasks)")
    p.add_argument("--changed-processes", type=int, default=50, help="processes changed before the workflow's third run")
    p.add_argument("--no-small", action="store_true", help="workflow: skip the smaller org")
    p.add_argument("--keep", action="store_true", help="keep the work folder (DuckDB files, child logs)")
    p.add_argument("--out", default=None,
                   help=f"markdown file to write, '-' for none (default: {RESULTS}; none with --quick)")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        for field, value in asdict(QUICK).items():
            if getattr(args, field) == getattr(Sizes(), field):
                setattr(args, field, value)
        if args.latency == 0.25:
            args.latency = 0.02
    if args.quick and args.workflow and args.workflow_scale == 1.0:
        args.workflow_scale = 0.02
    if args.out is None:
        args.out = "-" if args.quick else RESULTS
    if args.workflow:
        data = workflow.run_workflow(args, measure, TOKEN)
        table = workflow.render(data)
    else:
        data = run_all(args)
        table = render(data)
    data["argv"] = sys.argv[1:] if argv is None else list(argv)
    print(table)
    if args.out != "-":
        existing = ""
        if os.path.exists(args.out):
            with open(args.out) as f:
                existing = f.read()
        with open(args.out, "w") as f:
            f.write(workflow.merge_section(existing, table) if args.workflow else workflow.keep_section(existing, table))
        raw = os.path.splitext(args.out)[0] + ("-workflow.json" if args.workflow else ".json")
        with open(raw, "w") as f:
            json.dump(data, f, indent=1, default=str)
        print(f"written to {args.out} (raw figures in {raw})")
    failed = [r["name"] for r in data["runs"].values() if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
