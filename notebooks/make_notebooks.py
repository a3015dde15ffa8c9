"""Writes the analyst notebooks (without outputs) from the cells below.

The notebooks are generated so that they share one setup cell and stay
output-free in git: edit the cells here, run
`.venv/bin/python notebooks/make_notebooks.py`, and commit the .ipynb files.
`tests/pipelines/test_notebooks.py` checks that the committed files match this script.
"""

import sys
from pathlib import Path
from typing import List, Tuple

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

Cell = Tuple[str, str]  # ("md" | "code", source)


#: reading the file one query at a time: a notebook left open must not block the next load
#: (DuckDB lets no writer in while any process has the file open), and a load in progress is
#: named in one sentence instead of DuckDB's "Conflicting lock" IOException
DATABASE = """\
class DatabaseBusy(RuntimeError):
    \"\"\"Another process (a tallyfy-load run, most likely) has the DuckDB file open for writing.\"\"\"


def _holder(message: str) -> str:
    \"\"\"Who holds the file, from DuckDB's message: the command line of its pid when it can be read.\"\"\"
    found = re.search(r"held in (.*?) \\(PID (\\d+)\\)", message)
    if not found:
        return "another process"
    program, pid = found.groups()
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\\0", b" ").decode(errors="replace").strip()
    except OSError:
        command = ""
    return f"pid {pid} ({command or program})"


def connect() -> duckdb.DuckDBPyConnection:
    \"\"\"A read-only connection for one query; closed right after it, so loads can write between cells.\"\"\"
    try:
        return duckdb.connect(str(DB), read_only=True)
    except duckdb.IOException as error:
        if "lock" not in str(error).lower():
            raise
        raise DatabaseBusy(
            f"{DB} is open for writing by {_holder(str(error))}, most likely a tallyfy-load run: "
            "wait until it ends (or stop it), then run this cell again") from None


def sql(query: str, params=()) -> pd.DataFrame:
    with connect() as con:
        return con.execute(query.replace("{dataset}", DATASET), list(params)).df()
"""

#: counts that differ by orders of magnitude (a few tags on thousands of processes, most on a
#: handful): a linear axis flattens the small ones, matplotlib's own symlog labels read 10^0
COUNT_AXIS = """\
def count_axis(ax, values, which: str = "x") -> bool:
    \"\"\"Whole-number ticks; a symlog scale labelled as plain numbers (0, 1, 2, 5, 10, 20, ... up to
    hundreds; 0, 1, 10, 100, 1,000, ... beyond, so wide labels do not collide) when the largest count
    is 100 times the smallest non-zero one or more. Returns True when it went symlog.\"\"\"
    values = pd.Series(values, dtype="float64").dropna()
    positive = values[values > 0]
    axis = ax.xaxis if which == "x" else ax.yaxis
    if len(positive) and positive.max() >= 100 * positive.min():
        (ax.set_xscale if which == "x" else ax.set_yscale)("symlog", linthresh=1, linscale=0.4)
        subs = [1, 2, 5] if positive.max() < 1000 else [1]
        axis.set_major_locator(SymmetricalLogLocator(base=10, linthresh=1, subs=subs))
        axis.set_minor_locator(NullLocator())
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        return True
    axis.set_major_locator(MaxNLocator(integer=True))
    return False
"""


def setup_cell(views: List[str]) -> str:
    """Find the DuckDB file ($TALLYFY_DUCKDB, else the repo's demo file, loaded first if missing)
    and check its views; queries open it one at a time (DATABASE)."""
    head = f'''\
# Data: $TALLYFY_DUCKDB (a DuckDB file loaded by tallyfy-load), else the repo's demo file,
# which is created by a demo load (the bundled simulator, a few seconds) when it does not exist.
# Each query opens the file read-only and closes it, so a load can run while this notebook is open.
import colorsys
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator, SymmetricalLogLocator

%matplotlib inline
plt.rcParams["figure.figsize"] = (9, 4.5)
pd.set_option("display.max_rows", 30)

ROOT = next((p for p in [Path.cwd(), *Path.cwd().parents] if (p / "pyproject.toml").exists()), Path.cwd())
DB = Path(os.environ.get("TALLYFY_DUCKDB") or ROOT / "tallyfy_demo.duckdb").resolve()
DATASET = os.environ.get("TALLYFY_DATASET", "tallyfy")

if not DB.exists():
    print(f"{{DB}} does not exist: loading the demo org into it")
    DB.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as state:
        load = subprocess.run(
            [sys.executable, "-m", "pipelines.tallyfy_pipeline", "--demo", "--duckdb-file", str(DB),
             "--pipelines-dir", state],
            cwd=ROOT, capture_output=True, text=True,
        )
    if load.returncode != 0:
        raise RuntimeError("demo load failed: " + (load.stderr.strip().splitlines() or ["no output"])[-1])
    print(load.stdout)

'''
    tail = f'''

present = set(sql("SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [DATASET])["table_name"])
missing = sorted(set({sorted(views)!r}) - present)
if missing:
    raise RuntimeError(f"{{DB}} has no {{', '.join(missing)}} view in dataset {{DATASET}}: "
                       "run tallyfy-load once more (it creates the views after every load)")
print(f"reading {{DB}}, dataset {{DATASET}}")'''
    return head + DATABASE + "\n\n" + COUNT_AXIS + tail


TAG_USAGE: List[Cell] = [
    ("md", """\
# Tag usage

Which tags are used, by how many active and archived templates and processes, and which are dead
weight. Everything here reads the `tag_usage` view that `tallyfy-load` creates after every load
(one row per tag and org; see the README's "For analysts" section for its columns).

Run it top to bottom. Set `TALLYFY_DUCKDB` to a DuckDB file loaded from your org; without one the
demo org is loaded first."""),
    ("code", setup_cell(["tag_usage"])),
    ("code", """\
tags = sql("SELECT * FROM {dataset}.tag_usage")
tags["kind"] = tags["auto_generated"].map({True: "auto-generated", False: "curated"}).fillna("unknown")
tags["label"] = tags["title"] if tags["org_id"].nunique() == 1 else tags["title"] + " (" + tags["org_id"].str[:6] + ")"
CLASSES = ["active", "archived-only", "unused"]
CLASS_COLORS = {"active": "#3fb65b", "archived-only": "#f5a623", "unused": "#9b9b9b"}
print(f"{len(tags)} tags in {tags['org_id'].nunique()} org(s), used {int(tags['total_usage'].sum())} times in all")
tags.groupby("usage_class").agg(tags=("tag_id", "count"), total_usage=("total_usage", "sum")).reindex(CLASSES).fillna(0)"""),
    ("md", """\
## Where tags stand

How many tags are on active work, only on archived work, or on nothing at all."""),
    ("code", """\
counts = tags["usage_class"].value_counts().reindex(CLASSES, fill_value=0)
fig, ax = plt.subplots()
ax.bar(counts.index, counts.values, color=[CLASS_COLORS[c] for c in counts.index])
for x, n in enumerate(counts.values):
    ax.annotate(f"{n} ({n / max(len(tags), 1):.0%})", (x, n), ha="center", va="bottom")
ax.set_ylabel("tags (log scale)" if count_axis(ax, counts.values, "y") else "tags")
ax.set_title("Tags by usage class")
plt.show()"""),
    ("md", """\
## Top tags by active processes

The 15 tags on the most running processes: the tags people find today's work by."""),
    ("code", """\
top = tags[tags["active_processes"] > 0].nlargest(15, "active_processes").iloc[::-1]
fig, ax = plt.subplots(figsize=(9, 6))
ax.barh(range(len(top)), top["active_processes"], color="#4a90e2", label="active processes")
ax.barh(range(len(top)), top["active_templates"], left=top["active_processes"], color="#9013fe", label="active templates")
ax.set_yticks(range(len(top)), top["label"])
for y, (p, t) in enumerate(zip(top["active_processes"], top["active_templates"])):
    ax.annotate(f" {p} + {t}", (p + t, y), va="center", fontsize="small")
log = count_axis(ax, top["active_processes"] + top["active_templates"], "x")
ax.margins(x=0.1)  # room for the numbers after the longest bar
ax.set_xlabel("active processes (+ active templates)" + (", log scale" if log else ""))
ax.set_title("Top tags by active processes")
ax.legend(loc="lower right")
plt.show()
top.iloc[::-1][["label", "active_processes", "active_templates", "archived_processes", "share_of_total"]]"""),
    ("md", """\
## Active vs archived usage

Each dot is a tag: those near the bottom-right live mostly on archived work, those on the bottom
edge on no active work at all. When a few tags carry a hundred times more than the rest, an axis
turns logarithmic past 1 (labels stay plain numbers), so the small ones do not pile up at zero."""),
    ("code", """\
fig, ax = plt.subplots(figsize=(7, 6))
for cls in CLASSES:
    part = tags[tags["usage_class"] == cls]
    ax.scatter(part["archived_usage"], part["active_usage"], s=18, alpha=0.7, color=CLASS_COLORS[cls],
               label=f"{cls} ({len(part)})")
log_x = count_axis(ax, tags["archived_usage"], "x")
log_y = count_axis(ax, tags["active_usage"], "y")
ax.set_xlabel("archived templates + processes" + (" (log scale)" if log_x else ""))
ax.set_ylabel("active templates + processes" + (" (log scale)" if log_y else ""))
if log_x or log_y:
    used = pd.concat([tags["archived_usage"], tags["active_usage"]])
    used = used[used > 0]
    print(f"log scale: a tag is on {int(used.min()):,} to {int(used.max()):,} templates and processes")
ax.set_title("Active vs archived usage per tag")
ax.legend()
plt.show()
totals = tags[["active_usage", "archived_usage"]].sum()
print(f"{totals['active_usage'] / max(totals.sum(), 1):.0%} of all tag usage is on active templates and processes")"""),
    ("md", """\
## Dead weight: unused and archived-only tags

Tags on no active template or process are candidates to clean up or merge: how many there are of
each kind, then the curated ones by name (auto-generated tags come and go with processes)."""),
    ("code", """\
dead = tags[tags["usage_class"] != "active"]
print(f"{len(dead)} of {len(tags)} tags are on no active template or process")
pd.crosstab(dead["kind"], dead["usage_class"], margins=True, margins_name="total")"""),
    ("code", """\
unused = dead[(dead["usage_class"] == "unused") & (dead["kind"] == "curated")].sort_values("title")
print(f"{len(unused)} curated tags are used nowhere:")
unused[["title", "color", "created_at"]].head(30)"""),
    ("code", """\
archived_only = dead[dead["usage_class"] == "archived-only"].sort_values("archived_usage", ascending=False)
print(f"{len(archived_only)} tags are only on archived templates and processes:")
archived_only[["title", "kind", "archived_templates", "archived_processes"]].head(30)"""),
    ("md", """\
## Auto-generated vs curated tags

Tallyfy creates `from:`, `task:` and `step:` tags itself; the chart compares how each kind of tag is
used, as a share of that kind's tags."""),
    ("code", """\
mix = pd.crosstab(tags["kind"], tags["usage_class"]).reindex(columns=CLASSES, fill_value=0)
share = mix.div(mix.sum(axis=1).clip(lower=1), axis=0)
fig, ax = plt.subplots(figsize=(9, 3))
left = pd.Series(0.0, index=share.index)
for cls in CLASSES:
    ax.barh(share.index, share[cls], left=left, color=CLASS_COLORS[cls], label=cls)
    left += share[cls]
ax.set_xlim(0, 1)
ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
ax.set_title("Usage class by kind of tag")
ax.legend(loc="lower right", fontsize="small")
plt.show()
tags.groupby("kind").agg(tags=("tag_id", "count"), active_usage=("active_usage", "sum"),
                         archived_usage=("archived_usage", "sum"))"""),
    ("md", """\
## Colour families

Tags grouped by the hue of their colour, with how much active work carries each family: a quick
check of whether colours mean anything in this org."""),
    ("code", """\
FAMILY_COLORS = {"red": "#d0021b", "orange": "#f5a623", "brown": "#8b572a", "yellow": "#f8e71c",
                 "green": "#3fb65b", "teal": "#50e3c2", "blue": "#4a90e2", "purple": "#9013fe",
                 "pink": "#bd10e0", "grey": "#9b9b9b", "no colour": "#ffffff"}


def colour_family(color) -> str:
    \"\"\"A coarse name for a #rrggbb colour, from its hue, saturation and brightness.\"\"\"
    if not isinstance(color, str) or len(color) != 7 or not color.startswith("#"):
        return "no colour"
    try:
        r, g, b = (int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    except ValueError:
        return "no colour"
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    hue = h * 360
    if s < 0.2 or v < 0.15:
        return "grey"
    if hue < 15 or hue >= 345:
        return "red"
    if hue < 45:
        return "brown" if v < 0.6 else "orange"
    if hue < 70:
        return "yellow"
    if hue < 160:
        return "green"
    if hue < 190:
        return "teal"
    if hue < 255:
        return "blue"
    if hue < 290:
        return "purple"
    return "pink"


tags["colour_family"] = tags["color"].map(colour_family)
families = (tags.groupby("colour_family")
            .agg(tags=("tag_id", "count"), active_usage=("active_usage", "sum"), unused=("usage_class", lambda c: (c == "unused").sum()))
            .reindex([f for f in FAMILY_COLORS if f in set(tags["colour_family"])]))
fig, (left_ax, right_ax) = plt.subplots(1, 2, figsize=(11, 4))
bar_colors = [FAMILY_COLORS[f] for f in families.index]
left_ax.bar(families.index, families["tags"], color=bar_colors, edgecolor="#444444")
left_ax.set_title("Tags per colour family")
count_axis(left_ax, families["tags"], "y")
right_ax.bar(families.index, families["active_usage"], color=bar_colors, edgecolor="#444444")
right_ax.set_title("Active usage per colour family" + (" (log scale)" if count_axis(right_ax, families["active_usage"], "y") else ""))
for ax in (left_ax, right_ax):
    ax.tick_params(axis="x", rotation=45)
plt.tight_layout()
plt.show()
families"""),
]


GROUPS_AND_MEMBERS: List[Cell] = [
    ("md", """\
# Groups and members

How groups and members are organised: group sizes, members in no group, guests per group, and the
mix of roles and statuses. It reads the `group_summary`, `member_directory` and `group_membership`
views that `tallyfy-load` creates after every load (columns in the README's "For analysts" section).

Run it top to bottom. Set `TALLYFY_DUCKDB` to a DuckDB file loaded from your org; without one the
demo org is loaded first."""),
    ("code", setup_cell(["group_summary", "member_directory", "group_membership"])),
    ("code", """\
groups = sql("SELECT * FROM {dataset}.group_summary")
members = sql("SELECT * FROM {dataset}.member_directory")
membership = sql("SELECT * FROM {dataset}.group_membership")
one_org = groups["org_id"].nunique() <= 1
groups["label"] = groups["group_name"] if one_org else groups["group_name"] + " (" + groups["org_id"].str[:6] + ")"
print(f"{len(members)} members and {len(groups)} groups in {members['org_id'].nunique()} org(s); "
      f"{int((~membership['is_guest']).sum())} memberships, {int(membership['is_guest'].sum())} guest places in groups")"""),
    ("md", """\
## Group sizes

How many members each group has (empty groups sit at zero), then the largest and the empty ones."""),
    ("code", """\
fig, ax = plt.subplots()
top = int(groups["members_count"].max()) if len(groups) else 0
ax.hist(groups["members_count"], bins=range(0, top + 2), color="#4a90e2", edgecolor="white", align="left")
ax.set_xlabel("members in the group")
ax.set_ylabel("groups")
ax.yaxis.set_major_locator(MaxNLocator(integer=True))
ax.set_title("Group sizes")
plt.show()
print(f"median group size {groups['members_count'].median():.0f}; {int((groups['members_count'] == 0).sum())} groups have no members")
groups.nlargest(10, "members_count")[["group_name", "members_count", "active_members_count", "guests_count"]]"""),
    ("code", """\
empty = groups[groups["members_count"] == 0]
print(f"{len(empty)} groups have no members:")
empty[["group_name", "guests_count", "created_at", "updated_at"]]"""),
    ("md", """\
## Members in no group

Members who belong to no group, by status: work assigned to groups never reaches them."""),
    ("code", """\
loners = members[members["groups_count"] == 0]
by_status = loners["status"].fillna("unknown").value_counts()
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.bar(by_status.index, by_status.values, color="#f5a623")
ax.set_ylabel("members")
ax.yaxis.set_major_locator(MaxNLocator(integer=True))
ax.set_title(f"Members in no group, by status ({len(loners)} of {len(members)})")
plt.show()
loners.sort_values("full_name")[["full_name", "email", "role", "status", "last_login_at"]].head(20)"""),
    ("md", """\
## Groups per member

How many groups each member is in: a long tail means a few people carry many groups' work."""),
    ("code", """\
fig, ax = plt.subplots()
most = int(members["groups_count"].max()) if len(members) else 0
ax.hist(members["groups_count"], bins=range(0, most + 2), color="#3fb65b", edgecolor="white", align="left")
ax.set_xlabel("groups the member is in")
ax.set_ylabel("members")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.yaxis.set_major_locator(MaxNLocator(integer=True))
ax.set_title("Groups per member")
plt.show()
members.nlargest(5, "groups_count")[["full_name", "groups_count", "group_names"]]"""),
    ("md", """\
## Guests per group

Groups that include guests (people outside the org), and how many guests each has (at most 30 groups shown)."""),
    ("code", """\
with_guests = groups[groups["guests_count"] > 0].nlargest(30, "guests_count").iloc[::-1]
fig, ax = plt.subplots(figsize=(9, max(2.5, 0.3 * len(with_guests))))
ax.barh(range(len(with_guests)), with_guests["guests_count"], color="#9013fe")
ax.set_yticks(range(len(with_guests)), with_guests["label"])
ax.set_xlabel("guests")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.set_title(f"Guests per group (the top {len(with_guests)}; {int((groups['guests_count'] > 0).sum())} of {len(groups)} groups have guests)")
plt.show()
guest_places = membership[membership["is_guest"]]
per_guest = guest_places.groupby(["org_id", "email"]).size()
print(f"{per_guest.size} distinct guests in groups; {int((per_guest > 1).sum())} of them in more than one group")"""),
    ("md", """\
## Role and status mix

Members by role (admin, standard, light) and status (active, invited, disabled)."""),
    ("code", """\
mix = pd.crosstab(members["role"].fillna("unknown"), members["status"].fillna("unknown"))
STATUS_COLORS = {"active": "#3fb65b", "invited": "#4a90e2", "disabled": "#9b9b9b"}
fig, ax = plt.subplots(figsize=(8, 4))
bottom = pd.Series(0, index=mix.index)
for status in mix.columns:
    ax.bar(mix.index, mix[status], bottom=bottom, label=status, color=STATUS_COLORS.get(status, "#d0021b"))
    bottom += mix[status]
ax.set_ylabel("members")
ax.set_title("Members by role and status")
ax.legend()
plt.show()
pd.crosstab(members["role"].fillna("unknown"), members["status"].fillna("unknown"), margins=True, margins_name="total")"""),
]

PROCESS_AND_TASK_PERFORMANCE: List[Cell] = [
    ("md", """\
# Process and task performance

How work flows through the org: on-time completion (by template and week by week), cycle time
per template, who carries overdue work, monthly throughput, and templates nobody launches any
more. It reads the `task_performance`, `process_cycle_times`, `template_usage` and
`member_workload` views that `tallyfy-load` creates after every load (definitions in the README's
"For analysts" section: a task is on time when completed at or before its deadline; overdue when
open, not archived and past its deadline *now*).

Run it top to bottom. Set `TALLYFY_DUCKDB` to a DuckDB file loaded from your org; without one the
demo org is loaded first. The demo's history ends on its simulated clock (2026-11-01), while
"overdue" and "last 30 days" compare with the real clock, so on the demo they grow with time."""),
    ("code", setup_cell(["task_performance", "process_cycle_times", "template_usage", "member_workload"])),
    ("code", """\
tasks = sql("SELECT * FROM {dataset}.task_performance")
processes = sql("SELECT * FROM {dataset}.process_cycle_times")
templates = sql("SELECT * FROM {dataset}.template_usage")
workload = sql("SELECT * FROM {dataset}.member_workload")
for frame, columns in ((tasks, ["created_at", "started_at", "deadline", "completed_at", "archived_at"]),
                       (processes, ["started_at", "completed_at", "due_date"]),
                       (templates, ["created_at", "last_launched_at"])):
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True)
NOW = pd.Timestamp.now(tz="UTC")
tasks["template"] = tasks["template_title"].fillna("(one-off tasks)")
done = tasks[tasks["is_completed"] & tasks["completed_at"].notna()].copy()
judged = done[done["completed_on_time"].notna()].copy()  # completed tasks that had a deadline
judged["on_time"] = judged["completed_on_time"].astype(bool)
print(f"{len(tasks)} tasks, {len(processes)} processes, {len(templates)} templates and {len(workload)} members "
      f"in {workload['org_id'].nunique()} org(s)")
newest = pd.concat([tasks["completed_at"], tasks["created_at"]]).max()
print(f"newest task activity: {newest}; now: {NOW:%Y-%m-%d %H:%M} UTC")
rate = judged["on_time"].mean() if len(judged) else float("nan")
print(f"on-time completion rate: {rate:.0%} of {len(judged)} completed tasks with a deadline; "
      f"{int(tasks['is_overdue'].sum())} of {int(tasks['is_open'].sum())} open tasks are overdue")"""),
    ("md", """\
## On-time completion rate by template

Share of completed tasks (with a deadline) finished at or before it, per template; the dashed line
is the org's overall rate."""),
    ("code", """\
by_template = (judged.groupby("template")
               .agg(completed=("task_id", "count"), on_time_rate=("on_time", "mean"))
               .sort_values("on_time_rate"))
fig, ax = plt.subplots(figsize=(9, max(3, 0.4 * len(by_template))))
ax.barh(range(len(by_template)), by_template["on_time_rate"], color="#3fb65b")
ax.set_yticks(range(len(by_template)), by_template.index)
for y, (r, n) in enumerate(zip(by_template["on_time_rate"], by_template["completed"])):
    ax.annotate(f" {r:.0%} of {n}", (r, y), va="center", fontsize="small")
ax.axvline(rate, color="#444444", linestyle="--", label=f"overall {rate:.0%}")
ax.set_xlim(0, 1.2)
ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
ax.set_title("On-time completion rate by template")
ax.legend(loc="lower right")
plt.show()
by_template.iloc[::-1]"""),
    ("md", """\
## Weekly trend

Tasks completed each week (bars) and the share of them completed on time (line), over the last
26 weeks with completions."""),
    ("code", """\
week = judged["completed_at"].dt.tz_convert(None).dt.to_period("W").dt.start_time
weekly = judged.groupby(week).agg(completed=("task_id", "count"), on_time_rate=("on_time", "mean")).tail(26)
fig, ax = plt.subplots()
ax.bar(weekly.index, weekly["completed"], width=5, color="#c8d8ee", label="completed (with a deadline)")
ax.set_ylabel("tasks completed")
ax.yaxis.set_major_locator(MaxNLocator(integer=True))
trend = ax.twinx()
trend.plot(weekly.index, weekly["on_time_rate"], marker="o", color="#3fb65b", label="on-time rate")
trend.set_ylim(0, 1.05)
trend.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
ax.set_title("Weekly completions and on-time rate")
fig.legend(loc="upper left", bbox_to_anchor=(0.13, 0.87), fontsize="small")
fig.autofmt_xdate()
plt.show()
weekly.tail(8)"""),
    ("md", """\
## Cycle time per template

Days from launch to the last task completed, for every completed process (dots), with each
template's median (bar)."""),
    ("code", """\
finished = processes[processes["is_completed"] & processes["cycle_time_days"].notna()]
medians = finished.groupby("template_title")["cycle_time_days"].median().sort_values()
fig, ax = plt.subplots(figsize=(9, max(3, 0.4 * len(medians))))
ax.barh(range(len(medians)), medians.values, color="#4a90e2", alpha=0.3, label="median")
for y, title in enumerate(medians.index):
    values = finished.loc[finished["template_title"] == title, "cycle_time_days"]
    ax.scatter(values, [y] * len(values), s=18, alpha=0.7, color="#4a90e2")
ax.set_yticks(range(len(medians)), medians.index)
ax.set_xlabel("cycle time (days)")
ax.set_title("Cycle time of completed processes per template")
ax.legend(loc="lower right")
plt.show()
templates.sort_values("median_cycle_time_days")[
    ["title", "launches", "completed_with_cycle_time", "median_cycle_time_days", "avg_cycle_time_days"]]"""),
    ("md", """\
## Overdue work by member

Open tasks assigned directly to each member, split into overdue and not yet due (the 15 members
with the most overdue tasks). Tasks assigned to a group or a guest count for no member."""),
    ("code", """\
workload["label"] = workload["full_name"].fillna(workload["email"]).fillna(workload["member_id"].astype(str))
busiest = workload[workload["open_tasks"] > 0].sort_values(["overdue_tasks", "open_tasks"]).tail(15)
fig, ax = plt.subplots(figsize=(9, max(3, 0.35 * len(busiest))))
ax.barh(range(len(busiest)), busiest["overdue_tasks"], color="#d0021b", label="overdue")
ax.barh(range(len(busiest)), busiest["open_tasks"] - busiest["overdue_tasks"], left=busiest["overdue_tasks"],
        color="#f5a623", label="open, not overdue")
ax.set_yticks(range(len(busiest)), busiest["label"])
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.set_xlabel("open tasks assigned")
ax.set_title("Overdue and open tasks by member")
ax.legend(loc="lower right")
plt.show()
rated = workload[workload["completed_with_deadline"] >= 3].sort_values("on_time_rate")
print(f"on-time rate per member ({len(rated)} members with 3 or more completed tasks that had a deadline), lowest first:")
rated[["label", "tasks_completed", "completed_with_deadline", "on_time_rate", "open_tasks", "overdue_tasks"]].head(10)"""),
    ("md", """\
## Throughput month over month

Processes launched and completed, and tasks completed, per calendar month (UTC; the last 12
months with activity), with the month-over-month change."""),
    ("code", """\
def per_month(stamps: pd.Series) -> pd.Series:
    stamps = stamps.dropna()
    return stamps.groupby(stamps.dt.tz_convert(None).dt.to_period("M")).size()


monthly = pd.concat({
    "processes launched": per_month(processes["started_at"]),
    "processes completed": per_month(processes.loc[processes["is_completed"], "completed_at"]),
    "tasks completed": per_month(done["completed_at"]),
}, axis=1).fillna(0).astype(int).sort_index().tail(12)
fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
x = range(len(monthly))
top.bar([i - 0.2 for i in x], monthly["processes launched"], width=0.4, color="#9013fe", label="launched")
top.bar([i + 0.2 for i in x], monthly["processes completed"], width=0.4, color="#3fb65b", label="completed")
top.set_ylabel("processes")
top.legend(fontsize="small")
bottom.bar(x, monthly["tasks completed"], color="#4a90e2")
bottom.set_ylabel("tasks completed")
bottom.set_xticks(list(x), [str(p) for p in monthly.index], rotation=45)
for ax in (top, bottom):
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
top.set_title("Throughput by month")
plt.tight_layout()
plt.show()
monthly.join(monthly.pct_change().add_suffix(" change").round(2))"""),
    ("md", """\
## Templates unused in the last 30 days

Templates that are not archived, by days since their last launch (never-launched ones count from
their creation, hatched); red ones have no launch in the last 30 days."""),
    ("code", """\
live = templates[~templates["is_archived"]].copy()
never = live["last_launched_at"].isna()
live["days_idle"] = (NOW - live["last_launched_at"].fillna(live["created_at"])).dt.total_seconds() / 86400
live = live.sort_values("days_idle")
fig, ax = plt.subplots(figsize=(9, max(3, 0.4 * len(live))))
colors = ["#d0021b" if unused else "#3fb65b" for unused in live["unused_last_30_days"]]
bars = ax.barh(range(len(live)), live["days_idle"], color=colors)
for bar, is_never in zip(bars, never.loc[live.index]):
    if is_never:
        bar.set_hatch("//")
ax.axvline(30, color="#444444", linestyle="--", label="30 days")
ax.set_yticks(range(len(live)), live["title"])
ax.set_xlabel("days since last launch (or creation)")
ax.set_title(f"Templates by days since last launch ({int(live['unused_last_30_days'].sum())} of {len(live)} unused in 30 days)")
ax.legend(loc="lower right")
plt.show()
live[live["unused_last_30_days"]][["title", "status", "launches", "last_launched_at", "created_at"]]"""),
]


NOTEBOOKS = {"tag_usage.ipynb": TAG_USAGE, "groups_and_members.ipynb": GROUPS_AND_MEMBERS,
             "process_and_task_performance.ipynb": PROCESS_AND_TASK_PERFORMANCE}


def build(cells: List[Cell]) -> nbformat.NotebookNode:
    notebook = new_notebook(
        cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    for i, cell in enumerate(notebook.cells):  # stable ids: regenerating changes nothing
        cell["id"] = f"cell-{i:02d}"
    return notebook


def render(name: str) -> str:
    return nbformat.writes(build(NOTEBOOKS[name])) + "\n"


def main() -> int:
    for name in NOTEBOOKS:
        (HERE / name).write_text(render(name), encoding="utf-8")
        print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
