"""The markdown written to `benchmarks/results.md`: runs, ours vs baselines, issue 6's targets."""

import platform
import time
from importlib.metadata import version
from typing import Any, Dict, List, Optional

from .floor import wall_floor

LABELS = {
    "ours_full": "ours: full load",
    "ours_noop": "ours: incremental, no change",
    "ours_changed": "ours: incremental, 1% of members and groups changed",
    "rest_api": "`rest_api_source`: full load",
    "pandas": "requests + pandas: full load",
    "ours_local": "ours: full load, zero latency",
    "ours_small_local": "ours: full load, {scale:g}x smaller org, zero latency",
    "rest_api_local": "`rest_api_source`: full load, zero latency",
    "rest_api_small_local": "`rest_api_source`: full load, {scale:g}x smaller org, zero latency",
}


def _num(value: Optional[float], digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _ratio(numerator: Optional[float], denominator: Optional[float]) -> str:
    if numerator is None or not denominator:
        return "n/a"
    return f"{numerator / denominator:.2f}x"


def _ok(run: Optional[Dict[str, Any]]) -> bool:
    return bool(run) and "error" not in run


def _get(run: Optional[Dict[str, Any]], key: str) -> Optional[float]:
    if not _ok(run):
        return None
    if key in ("extract", "normalize", "load"):
        return run["steps"].get(key)
    if key == "local":
        return run["steps"]["normalize"] + run["steps"]["load"]
    if key == "rows":
        return float(sum(run["rows"].values()))
    if key == "rows_per_s":
        return sum(run["rows"].values()) / run["wall"] if run["wall"] else None
    return run.get(key)


def _met(ok: Optional[bool]) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def runs_table(data: Dict[str, Any]) -> List[str]:
    lines = [
        "| run | requests | 429s | wall s | extract s | normalize s | load s | rows | rows/s | peak RSS MB | simulator CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in data["runs"].items():
        label = LABELS.get(name, name).format(scale=data["scale"])
        if not _ok(run):
            lines.append(f"| {label} | {run['requests']} | {run['status_429']} | failed: {run['error'][:120]} |"
                         + " |" * 7)
            continue
        s = run["steps"]
        lines.append(
            f"| {label} | {run['requests']:,} | {run['status_429']} | {_num(run['wall'])} | {_num(s['extract'])}"
            f" | {_num(s['normalize'])} | {_num(s['load'])} | {_get(run, 'rows'):,.0f} | {_num(_get(run, 'rows_per_s'), 0)}"
            f" | {_num(run['peak_rss_mb'], 0)} | {_num(run['sim_cpu'])} |"
        )
    return lines


def comparison_table(data: Dict[str, Any]) -> List[str]:
    runs = data["runs"]
    ours, rest, pandas = runs.get("ours_full"), runs.get("rest_api"), runs.get("pandas")
    ours_local, rest_local = runs.get("ours_local"), runs.get("rest_api_local")

    def row(label: str, a: Optional[float], b: Optional[float], c: Optional[float], digits: int = 1,
            higher_is_better: bool = False) -> str:
        ratio_b = _ratio(a, b) if higher_is_better else _ratio(b, a)
        ratio_c = _ratio(a, c) if higher_is_better else _ratio(c, a)
        return f"| {label} | {_num(a, digits)} | {_num(b, digits)} | {ratio_b} | {_num(c, digits)} | {ratio_c} |"

    return [
        "| full load | ours | `rest_api_source` | ours better by | requests + pandas | ours better by |",
        "|---|---:|---:|---:|---:|---:|",
        row("requests", _get(ours, "requests"), _get(rest, "requests"), _get(pandas, "requests"), 0),
        row("429 answers", _get(ours, "status_429"), _get(rest, "status_429"), _get(pandas, "status_429"), 0),
        row("wall s", _get(ours, "wall"), _get(rest, "wall"), _get(pandas, "wall")),
        row("rows/s", _get(ours, "rows_per_s"), _get(rest, "rows_per_s"), _get(pandas, "rows_per_s"), 0,
            higher_is_better=True),
        row("peak RSS MB", _get(ours, "peak_rss_mb"), _get(rest, "peak_rss_mb"), _get(pandas, "peak_rss_mb"), 0),
        row("normalize + load s, zero latency", _get(ours_local, "local"), _get(rest_local, "local"),
            _get(pandas, "local")),
    ]


def targets_table(data: Dict[str, Any]) -> List[str]:
    runs, pages, expected = data["runs"], data["pages"], data["expected"]
    total_pages = sum(pages.values())
    floor = data["floor"]
    ours, rest = runs.get("ours_full"), runs.get("rest_api")
    lines = ["| target | goal | measured | met |", "|---|---|---|---|"]

    def add(target: str, goal: str, measured: Optional[float], ok: Optional[bool], text: str = "") -> None:
        lines.append(f"| {target} | {goal} | {text or _num(measured, 0)} | {_met(None if measured is None else ok)} |")

    full = _get(ours, "requests")
    add("requests, full load", f"= P + rechecks = {expected['ours_full']}", full, full == expected["ours_full"])
    full_scan = sum(n for r, n in pages.items() if r in ("tags", "guests"))
    noop_bound = 2 * 2 + full_scan
    noop = _get(runs.get("ours_noop"), "requests")
    add("requests, incremental with no change", f"<= 2 x 2 + {full_scan} = {noop_bound}", noop,
        noop is not None and noop <= noop_bound)
    changed = _get(runs.get("ours_changed"), "requests")
    add("requests, incremental after 1% changed", f"= {expected['ours_changed']} (stop page + probe)", changed,
        changed == expected["ours_changed"])
    extract = _get(ours, "extract")
    add("extract (network phase) of the full load", f"<= 1.1 x floor {floor:.1f} s", extract,
        extract is not None and floor > 0 and extract <= 1.1 * floor,
        f"{extract:.1f} s = {_ratio(extract, floor)} floor" if extract is not None else "")
    add("429 answers, full load", "0", _get(ours, "status_429"), _get(ours, "status_429") == 0)
    ours_local, rest_local = _get(runs.get("ours_local"), "local"), _get(runs.get("rest_api_local"), "local")
    add("normalize + load at zero latency", "<= 1/3 of `rest_api_source`'s"
        + (f" ({rest_local:.1f} s)" if rest_local is not None else ""), ours_local,
        ours_local is not None and rest_local is not None and ours_local <= rest_local / 3,
        f"{ours_local:.1f} s = {_ratio(ours_local, rest_local)} of it" if ours_local is not None else "")
    ours_wall, rest_wall = _get(ours, "wall"), _get(rest, "wall")
    add("whole full load vs `rest_api_source`", ">= 2.5x faster", ours_wall,
        ours_wall is not None and rest_wall is not None and rest_wall >= 2.5 * ours_wall,
        f"{_ratio(rest_wall, ours_wall)} faster" if ours_wall is not None else "")
    big, small = _get(runs.get("ours_local"), "peak_rss_mb"), _get(runs.get("ours_small_local"), "peak_rss_mb")
    add(f"peak RSS, {data['scale']:g}x larger org", "< +25%", big,
        big is not None and small is not None and big < 1.25 * small,
        f"{small:.0f} -> {big:.0f} MB (+{(big / small - 1) * 100:.0f}%)" if big and small else "")
    ours_rss, rest_rss = _get(ours, "peak_rss_mb"), _get(rest, "peak_rss_mb")
    add("peak RSS vs `rest_api_source`", "<= 0.5x", ours_rss,
        ours_rss is not None and rest_rss is not None and ours_rss <= 0.5 * rest_rss,
        f"{ours_rss:.0f} vs {rest_rss:.0f} MB = {_ratio(ours_rss, rest_rss)}" if ours_rss and rest_rss else "")
    return lines


def render(data: Dict[str, Any]) -> str:
    counts, total_pages = data["counts"], sum(data["pages"].values())
    concurrency = data.get("concurrency")
    rate = data["rate"]
    data["floor"] = wall_floor(total_pages, data["latency"], rate, concurrency[1] if concurrency else None)
    rate_text = f"{rate} requests/minute (and {-(-rate // 6)} per 10 s)" if rate else "no rate limit"
    if concurrency:
        conc_text = f"{data['latency']:g} s x {total_pages} / {concurrency[1]} (`{concurrency[0]}`)"
    else:
        conc_text = "the source exposes no page concurrency, so the rate-limit bound only"
    small = data["small_counts"]
    lines = [
        "# Benchmark results",
        "",
        f"`make bench` ({' '.join(data.get('argv') or []) or 'defaults'}) on {time.strftime('%Y-%m-%d')}:"
        f" {data['cores']} cores, Python {platform.python_version()}, dlt {version('dlt')},"
        f" DuckDB {version('duckdb')}, pandas {version('pandas')}. The whole benchmark took"
        f" {data['bench_seconds']:.0f} s; 1-minute load average {data['load_average'][0]:.1f} at its start,"
        f" {data['load_average'][1]:.1f} at its end (the benchmark alone keeps it near 1-2; more means other work shared the cores).",
        "",
        f"Org: {counts['members']:,} members, {counts['groups']:,} groups ({data['memberships']:,} memberships),"
        f" {counts['tags']:,} tags, {counts['guests']:,} guests. Simulator: {data['latency'] * 1000:g} ms per"
        f" request, {rate_text}. The simulator serves from the benchmark's own process on the same cores"
        " (its CPU time per run is shown). Each run is a separate process: peak RSS is that run's alone.",
        "",
        f"Floor of a full load: P = {total_pages} pages at per_page=100"
        f" ({', '.join(f'{r} {n}' for r, n in data['pages'].items())}); wall floor"
        f" = max(P / {rate / 60 if rate else 0:g} per s, {conc_text}) = {data['floor']:.1f} s.",
        "",
        "## Runs",
        "",
        *runs_table(data),
        "",
        f"Rows count every table written, child tables included (`groups__members`); requests + pandas keeps"
        f" list fields in a column, so it writes fewer rows. The small org has {small['members']:,} members,"
        f" {small['groups']:,} groups ({data['small_memberships']:,} memberships), {small['tags']:,} tags,"
        f" {small['guests']:,} guests. Incremental runs changed {', '.join(f'{n} {r}' for r, n in data['changed'].items())}.",
        "",
        "## Ours vs what a user would write instead",
        "",
        *comparison_table(data),
        "",
        "Ratios are baseline / ours (rows/s: ours / baseline): above 1x ours is better. The pandas script's"
        " normalize + load is taken from its run at latency (its phases are timed apart).",
        "",
        "## Issue 6's targets",
        "",
        *targets_table(data),
        "",
    ]
    return "\n".join(lines)
