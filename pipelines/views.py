"""Reporting views over the loaded tables, (re)created after every load.

The tables keep the API's shapes; analysts and BI tools want answers. These
views are plain SQL that runs unchanged on DuckDB and PostgreSQL: they join
child tables through dlt's keys (`_dlt_parent_id` -> `groups._dlt_id`) and
resolve member ids and guest emails within the same `org_id`. Other SQL
destinations get them rewritten by sqlglot for their dialect (dialects.py); the
SQL avoids what some warehouse refuses (booleans inside COALESCE, the percentile
aggregate, WHERE without FROM).

A view is created only when the tables it needs exist (a load of
`--resources tags` gets `tag_usage` alone). Optional child tables that have
never received a row (no group has guests yet) stand in as empty relations
with the same columns, so the views still answer. Rows flagged as missing
upstream (a `missing_since` column, when present) are left out.

The workflow views (task_performance, process_cycle_times, template_usage,
member_workload) compare with the moment they are queried (CURRENT_TIMESTAMP):
see the rules above their definitions and the README's "For analysts" section.
`tag_activity` is per tag and month, from today's tag links and the loads' history.
"""

import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import dlt
from dlt.destinations.exceptions import DatabaseException
from sqlglot.errors import SqlglotError

from tallyfy_source.shape.columns import (COMMENT_COLUMNS, GROUP_GUEST_COLUMNS, GROUP_MEMBER_COLUMNS, GUEST_COLUMNS,
                                   PROCESS_COLUMNS, TASK_ASSIGNEE_COLUMNS, TASK_COLUMNS, TEMPLATE_COLUMNS)
from tallyfy_source.read.deletes import MISSING_SINCE_COLUMN as MISSING_SINCE
from tallyfy_source.destinations import is_sql_client
from tallyfy_source.directory.history import HISTORY_COLUMNS, TAG_STATISTICS_HISTORY

from .dialects import NATIVE, PLACEHOLDER, to_dialect

logger = logging.getLogger("tallyfy_source")

#: the columns the views read from a table that may not exist yet: dlt's child-table keys, and
#: the declared types of the rest (one home for each type: tallyfy_source/columns.py)
_SQL_TYPES = {"text": "TEXT", "bigint": "BIGINT", "bool": "BOOLEAN", "double": "DOUBLE PRECISION",
              "timestamp": "TIMESTAMP WITH TIME ZONE", "date": "DATE"}
_CHILD_KEYS = (("_dlt_parent_id", "TEXT"), ("_dlt_list_idx", "BIGINT"))


def _typed(columns: Dict[str, Any], names: Sequence[str]) -> Tuple[Tuple[str, str], ...]:
    return tuple((name, _SQL_TYPES[columns[name]["data_type"]]) for name in names)


STUB_COLUMNS: Dict[str, Tuple[Tuple[str, str], ...]] = {
    "groups__members": _CHILD_KEYS + _typed(GROUP_MEMBER_COLUMNS, ["value"]),
    "groups__guests": _CHILD_KEYS + _typed(GROUP_GUEST_COLUMNS, ["value"]),
    "guests": _typed(GUEST_COLUMNS, ["org_id", "email", "first_name", "last_name", "details__status"]),
    # the workflow views' optional tables: every declared column (+ dlt's row key for the parents)
    "tasks": (("_dlt_id", "TEXT"),) + _typed(TASK_COLUMNS, list(TASK_COLUMNS)),
    "tasks__assignees": _CHILD_KEYS + _typed(TASK_ASSIGNEE_COLUMNS, list(TASK_ASSIGNEE_COLUMNS)),
    "processes": (("_dlt_id", "TEXT"),) + _typed(PROCESS_COLUMNS, list(PROCESS_COLUMNS)),
    "templates": (("_dlt_id", "TEXT"),) + _typed(TEMPLATE_COLUMNS, list(TEMPLATE_COLUMNS)),
    "comments": _typed(COMMENT_COLUMNS, list(COMMENT_COLUMNS)),
    "templates__tags": _CHILD_KEYS + (("tag_id", "TEXT"),),
    "processes__tags": _CHILD_KEYS + (("tag_id", "TEXT"),),
    "tasks__tags": _CHILD_KEYS + (("tag_id", "TEXT"),),
    TAG_STATISTICS_HISTORY: _typed(HISTORY_COLUMNS, list(HISTORY_COLUMNS)),
    "process_tags_history": (("org_id", "TEXT"), ("process_id", "TEXT"), ("tag_id", "TEXT"),
                             ("valid_from", "TIMESTAMP WITH TIME ZONE"), ("valid_to", "TIMESTAMP WITH TIME ZONE")),
}


@dataclass(frozen=True)
class View:
    name: str
    required: Tuple[str, ...]  # tables that must exist
    optional: Tuple[str, ...]  # tables that stand in empty when missing (see STUB_COLUMNS)
    sql: str  # a SELECT with {table} placeholders


def _archived(alias: str) -> str:
    """Archived, as the walk that found the record says (`is_archived`); rows loaded before that
    column existed fall back on `archived_at`. A predicate that is never NULL, written without a
    boolean inside COALESCE (T-SQL has no boolean values; see pipelines/dialects.py)."""
    return (f"(({alias}.is_archived IS NOT NULL AND {alias}.is_archived = TRUE)"
            f" OR ({alias}.is_archived IS NULL AND {alias}.archived_at IS NOT NULL))")


#: "active" is Tallyfy's word in the tag statistics: not archived (a completed process that is
#: not archived counts as active); `running_processes` beside it counts the loaded processes
#: carrying the tag that are neither completed nor archived (0 until processes are loaded)
TAG_USAGE = View(
    "tag_usage",
    required=("tags",),
    optional=("processes", "processes__tags"),
    sql=f"""
WITH running AS (
    SELECT p.org_id, pt.tag_id, COUNT(DISTINCT p.id) AS running_processes
    FROM {{processes__tags}} pt
    JOIN {{processes}} p ON pt._dlt_parent_id = p._dlt_id
    WHERE NOT {_archived("p")} AND (p.status IS NULL OR p.status <> 'complete')
    GROUP BY p.org_id, pt.tag_id
), counts AS (
    SELECT
        t.org_id,
        t.id AS tag_id,
        t.title,
        t.color,
        t.auto_generated,
        t.created_at,
        COALESCE(t.statistics__active_template, 0) AS active_templates,
        COALESCE(t.statistics__archived_template, 0) AS archived_templates,
        COALESCE(t.statistics__active_process, 0) AS active_processes,
        COALESCE(t.statistics__archived_process, 0) AS archived_processes,
        COALESCE(r.running_processes, 0) AS running_processes
    FROM {{tags}} t
    LEFT JOIN running r ON r.org_id = t.org_id AND r.tag_id = t.id
), usage_counts AS (
    SELECT
        counts.*,
        active_templates + active_processes AS active_usage,
        archived_templates + archived_processes AS archived_usage,
        active_templates + archived_templates + active_processes + archived_processes AS total_usage
    FROM counts
)
SELECT
    org_id,
    tag_id,
    title,
    color,
    auto_generated,
    created_at,
    active_templates,
    archived_templates,
    active_processes,
    archived_processes,
    running_processes,
    active_usage,
    archived_usage,
    total_usage,
    COALESCE(
        CAST(total_usage AS DOUBLE PRECISION)
        / NULLIF(CAST(SUM(total_usage) OVER (PARTITION BY org_id) AS DOUBLE PRECISION), 0),
        0
    ) AS share_of_total,
    CASE
        WHEN total_usage = 0 THEN 'unused'
        WHEN active_usage = 0 THEN 'archived-only'
        ELSE 'active'
    END AS usage_class
FROM usage_counts
""",
)

GROUP_MEMBERSHIP = View(
    "group_membership",
    required=("groups", "members"),
    optional=("groups__members", "groups__guests", "guests"),
    sql="""
SELECT
    g.org_id,
    g.id AS group_id,
    g.name AS group_name,
    FALSE AS is_guest,
    gm.value AS member_id,
    m.email,
    m.full_name,
    LOWER(m.role) AS role,
    m.status,
    gm._dlt_list_idx AS list_position
FROM {groups__members} gm
JOIN {groups} g ON gm._dlt_parent_id = g._dlt_id
LEFT JOIN {members} m ON m.org_id = g.org_id AND m.id = gm.value
UNION ALL
SELECT
    g.org_id,
    g.id AS group_id,
    g.name AS group_name,
    TRUE AS is_guest,
    CAST(NULL AS BIGINT) AS member_id,
    gg.value AS email,
    NULLIF(CASE WHEN gu.first_name IS NULL THEN gu.last_name WHEN gu.last_name IS NULL THEN gu.first_name
                ELSE gu.first_name || ' ' || gu.last_name END, '') AS full_name,
    CAST(NULL AS TEXT) AS role,
    gu.details__status AS status,
    gg._dlt_list_idx AS list_position
FROM {groups__guests} gg
JOIN {groups} g ON gg._dlt_parent_id = g._dlt_id
LEFT JOIN {guests} gu ON gu.org_id = g.org_id AND gu.email = gg.value
""",
)

MEMBER_DIRECTORY = View(
    "member_directory",
    required=("members", "groups"),
    optional=("groups__members",),
    sql="""
WITH member_groups AS (
    SELECT
        g.org_id,
        gm.value AS member_id,
        COUNT(DISTINCT g.id) AS groups_count,
        STRING_AGG(g.name, ', ' ORDER BY g.name NULLS FIRST) AS group_names
    FROM {groups__members} gm
    JOIN {groups} g ON gm._dlt_parent_id = g._dlt_id
    GROUP BY g.org_id, gm.value
)
SELECT
    m.org_id,
    m.id AS member_id,
    m.email,
    m.full_name,
    m.job_title,
    m.team,
    LOWER(m.role) AS role,
    m.status,
    COALESCE(mg.groups_count, 0) AS groups_count,
    mg.group_names,
    m.last_login_at,
    m.created_at
FROM {members} m
LEFT JOIN member_groups mg ON mg.org_id = m.org_id AND mg.member_id = m.id
""",
)

GROUP_SUMMARY = View(
    "group_summary",
    required=("groups", "members"),
    optional=("groups__members", "groups__guests"),
    sql="""
WITH member_counts AS (
    SELECT
        gm._dlt_parent_id,
        COUNT(*) AS members_count,
        SUM(CASE WHEN m.status = 'active' THEN 1 ELSE 0 END) AS active_members_count
    FROM {groups__members} gm
    JOIN {groups} g ON gm._dlt_parent_id = g._dlt_id
    LEFT JOIN {members} m ON m.org_id = g.org_id AND m.id = gm.value
    GROUP BY gm._dlt_parent_id
), guest_counts AS (
    SELECT gg._dlt_parent_id, COUNT(*) AS guests_count
    FROM {groups__guests} gg
    GROUP BY gg._dlt_parent_id
)
SELECT
    g.org_id,
    g.id AS group_id,
    g.name AS group_name,
    g.description,
    CAST(COALESCE(mc.members_count, 0) AS BIGINT) AS members_count,
    CAST(COALESCE(mc.active_members_count, 0) AS BIGINT) AS active_members_count,
    CAST(COALESCE(gc.guests_count, 0) AS BIGINT) AS guests_count,
    g.created_at,
    g.updated_at
FROM {groups} g
LEFT JOIN member_counts mc ON mc._dlt_parent_id = g._dlt_id
LEFT JOIN guest_counts gc ON gc._dlt_parent_id = g._dlt_id
""",
)

# ------------------------------------------------------------------ workflow performance views
# Shared rules (README "For analysts" says the same):
# - "now" is the moment the view is queried (CURRENT_TIMESTAMP): overdue flags and "last 30 days"
#   move with the clock, nothing is frozen at load time. Tallyfy's own `late_tasks`,
#   `due_date_passed` and `delayed` status are what the API said at the record's last change,
#   so they are not used.
# - A task is completed when its status is `completed`; open when it is neither completed nor
#   `auto-skipped` and not archived (an archived process's leftover tasks are nobody's work);
#   overdue when open with a deadline before now. It was completed on time when completed_at <=
#   deadline (null: not completed, or no deadline).
# - Durations are differences of epoch seconds (portable: DuckDB and PostgreSQL subtract
#   timestamps into different interval types), from started_at, else created_at.
# - Comments archived upstream are not counted; a problem (label `problem`) is open until its
#   state is `resolved`.
# - A process is completed when its status is `complete`; cycle time = completed_at - started.


def _seconds_between(later: str, earlier: str) -> str:
    return (f"CAST(EXTRACT(EPOCH FROM {later}) AS DOUBLE PRECISION)"
            f" - CAST(EXTRACT(EPOCH FROM {earlier}) AS DOUBLE PRECISION)")


def _flag(predicate: str) -> str:
    """A boolean column from a two-valued predicate."""
    return f"CASE WHEN {predicate} THEN TRUE ELSE FALSE END"


_NOW_EPOCH = "CAST(EXTRACT(EPOCH FROM CURRENT_TIMESTAMP) AS DOUBLE PRECISION)"

#: one row per task with the flags every workflow view counts by (a CTE body; named columns, not
#: `t.*`: a field the API adds later must not collide with a derived column)
_TASK_FACTS = f"""
task_facts AS (
    SELECT
        t.org_id, t.id, t._dlt_id, t.title, t.task_type, t.status, t.is_oneoff_task, t.run_id, t.checklist_id,
        t.step_id, t.position, t.created_at, t.started_at, t.deadline, t.completed_at, t.completer_id,
        t.archived_at,
        CASE WHEN t.status = 'completed' THEN TRUE ELSE FALSE END AS is_completed,
        CASE WHEN COALESCE(t.status, '') NOT IN ('completed', 'auto-skipped') AND NOT {_archived("t")}
             THEN TRUE ELSE FALSE END AS is_open,
        CASE WHEN COALESCE(t.status, '') NOT IN ('completed', 'auto-skipped') AND NOT {_archived("t")}
                  AND t.deadline < CURRENT_TIMESTAMP
             THEN TRUE ELSE FALSE END AS is_overdue,
        CASE WHEN t.status = 'completed' AND t.deadline IS NOT NULL AND t.completed_at IS NOT NULL
             THEN {_flag("t.completed_at <= t.deadline")} END AS completed_on_time,
        CASE WHEN t.status = 'completed' AND t.completed_at IS NOT NULL
             THEN ({_seconds_between("t.completed_at", "COALESCE(t.started_at, t.created_at)")}) / 86400.0
        END AS days_to_complete
    FROM {{tasks}} t
)"""

#: comment counts per task (a CTE body)
_TASK_COMMENTS = """
task_comments AS (
    SELECT
        c.org_id,
        c.task_id,
        COUNT(*) AS comments_count,
        SUM(CASE WHEN c.label = 'problem' THEN 1 ELSE 0 END) AS problems_count,
        SUM(CASE WHEN c.label = 'problem' AND COALESCE(c.state, '') <> 'resolved' THEN 1 ELSE 0 END)
            AS open_problems_count
    FROM {comments} c
    WHERE c.archived_at IS NULL
    GROUP BY c.org_id, c.task_id
)"""

TASK_PERFORMANCE = View(
    "task_performance",
    required=("tasks",),
    optional=("tasks__assignees", "processes", "templates", "comments"),
    sql=f"""
WITH {_TASK_FACTS.strip()},
{_TASK_COMMENTS.strip()},
task_assignees AS (
    SELECT
        a._dlt_parent_id,
        COUNT(*) AS assignees_count,
        SUM(CASE WHEN a.kind = 'member' THEN 1 ELSE 0 END) AS member_assignees,
        SUM(CASE WHEN a.kind = 'guest' THEN 1 ELSE 0 END) AS guest_assignees,
        SUM(CASE WHEN a.kind = 'group' THEN 1 ELSE 0 END) AS group_assignees
    FROM {{tasks__assignees}} a
    GROUP BY a._dlt_parent_id
)
SELECT
    tf.org_id,
    tf.id AS task_id,
    tf.title,
    tf.task_type,
    tf.status,
    tf.is_oneoff_task,
    tf.run_id AS process_id,
    p.name AS process_name,
    COALESCE(tf.checklist_id, p.template_id) AS template_id,
    COALESCE(tm.title, p.checklist_title) AS template_title,
    tf.step_id,
    tf.position,
    CAST(COALESCE(ta.assignees_count, 0) AS BIGINT) AS assignees_count,
    CAST(COALESCE(ta.member_assignees, 0) AS BIGINT) AS member_assignees,
    CAST(COALESCE(ta.guest_assignees, 0) AS BIGINT) AS guest_assignees,
    CAST(COALESCE(ta.group_assignees, 0) AS BIGINT) AS group_assignees,
    tf.created_at,
    tf.started_at,
    tf.deadline,
    tf.completed_at,
    tf.completer_id,
    tf.archived_at,
    tf.is_completed,
    tf.is_open,
    tf.is_overdue,
    tf.completed_on_time,
    tf.days_to_complete,
    CAST(COALESCE(tc.comments_count, 0) AS BIGINT) AS comments_count,
    CAST(COALESCE(tc.problems_count, 0) AS BIGINT) AS problems_count,
    CAST(COALESCE(tc.open_problems_count, 0) AS BIGINT) AS open_problems_count
FROM task_facts tf
LEFT JOIN {{processes}} p ON p.org_id = tf.org_id AND p.id = tf.run_id
LEFT JOIN {{templates}} tm ON tm.org_id = tf.org_id AND tm.id = COALESCE(tf.checklist_id, p.template_id)
LEFT JOIN task_assignees ta ON ta._dlt_parent_id = tf._dlt_id
LEFT JOIN task_comments tc ON tc.org_id = tf.org_id AND tc.task_id = tf.id
""",
)

PROCESS_CYCLE_TIMES = View(
    "process_cycle_times",
    required=("processes",),
    optional=("tasks", "templates", "comments"),
    sql=f"""
WITH {_TASK_FACTS.strip()},
{_TASK_COMMENTS.strip()},
process_tasks AS (
    SELECT
        tf.org_id,
        tf.run_id,
        COUNT(*) AS tasks_total,
        SUM(CASE WHEN tf.is_completed THEN 1 ELSE 0 END) AS tasks_completed,
        SUM(CASE WHEN tf.is_open THEN 1 ELSE 0 END) AS tasks_open,
        SUM(CASE WHEN tf.is_overdue THEN 1 ELSE 0 END) AS tasks_overdue,
        SUM(CASE WHEN tf.completed_on_time = FALSE THEN 1 ELSE 0 END) AS tasks_completed_late,
        SUM(COALESCE(tc.open_problems_count, 0)) AS open_problems
    FROM task_facts tf
    LEFT JOIN task_comments tc ON tc.org_id = tf.org_id AND tc.task_id = tf.id
    WHERE tf.run_id IS NOT NULL
    GROUP BY tf.org_id, tf.run_id
), processes_started AS (
    SELECT
        p.org_id, p.id, p.name, p.template_id, p.checklist_id, p.checklist_title, p.status, p.archived_at,
        {_flag(_archived("p"))} AS is_archived, p.completed_at, p.due_date,
        COALESCE(p.started_at, p.created_at) AS started,
        CASE WHEN p.status = 'complete' THEN TRUE ELSE FALSE END AS is_completed
    FROM {{processes}} p
)
SELECT
    p.org_id,
    p.id AS process_id,
    p.name AS process_name,
    COALESCE(p.template_id, p.checklist_id) AS template_id,
    COALESCE(tm.title, p.checklist_title) AS template_title,
    p.status,
    p.is_completed,
    p.is_archived,
    p.started AS started_at,
    p.completed_at,
    p.due_date,
    CASE WHEN p.is_completed AND p.completed_at IS NOT NULL
         THEN ({_seconds_between("p.completed_at", "p.started")}) / 3600.0 END AS cycle_time_hours,
    CASE WHEN p.is_completed AND p.completed_at IS NOT NULL
         THEN ({_seconds_between("p.completed_at", "p.started")}) / 86400.0 END AS cycle_time_days,
    CAST(COALESCE(pt.tasks_total, 0) AS BIGINT) AS tasks_total,
    CAST(COALESCE(pt.tasks_completed, 0) AS BIGINT) AS tasks_completed,
    CAST(COALESCE(pt.tasks_open, 0) AS BIGINT) AS tasks_open,
    CAST(COALESCE(pt.tasks_overdue, 0) AS BIGINT) AS tasks_overdue,
    CAST(COALESCE(pt.tasks_completed_late, 0) AS BIGINT) AS tasks_completed_late,
    CAST(COALESCE(pt.tasks_overdue, 0) + COALESCE(pt.tasks_completed_late, 0) AS BIGINT) AS tasks_late,
    CAST(COALESCE(pt.open_problems, 0) AS BIGINT) AS open_problems
FROM processes_started p
LEFT JOIN {{templates}} tm ON tm.org_id = p.org_id AND tm.id = COALESCE(p.template_id, p.checklist_id)
LEFT JOIN process_tasks pt ON pt.org_id = p.org_id AND pt.run_id = p.id
""",
)

TEMPLATE_USAGE = View(
    "template_usage",
    required=("templates",),
    optional=("processes",),
    sql=f"""
WITH runs AS (
    SELECT
        p.org_id,
        COALESCE(p.template_id, p.checklist_id) AS template_id,
        COALESCE(p.started_at, p.created_at) AS started,
        CASE WHEN {_archived("p")} THEN 'archived'
             WHEN p.status = 'complete' THEN 'completed'
             ELSE 'active' END AS state,
        CASE WHEN p.status = 'complete' AND p.completed_at IS NOT NULL
             THEN ({_seconds_between("p.completed_at", "COALESCE(p.started_at, p.created_at)")}) / 86400.0
        END AS cycle_time_days
    FROM {{processes}} p
), launches AS (
    SELECT
        org_id,
        template_id,
        COUNT(*) AS launches,
        SUM(CASE WHEN state = 'active' THEN 1 ELSE 0 END) AS active_processes,
        SUM(CASE WHEN state = 'completed' THEN 1 ELSE 0 END) AS completed_processes,
        SUM(CASE WHEN state = 'archived' THEN 1 ELSE 0 END) AS archived_processes,
        SUM(CASE WHEN CAST(EXTRACT(EPOCH FROM started) AS DOUBLE PRECISION) >= {_NOW_EPOCH} - 30 * 86400
                 THEN 1 ELSE 0 END) AS launches_last_30_days,
        MAX(started) AS last_launched_at,
        AVG(cycle_time_days) AS avg_cycle_time_days,
        COUNT(cycle_time_days) AS completed_with_cycle_time
    FROM runs
    GROUP BY org_id, template_id
), ranked AS (
    SELECT
        org_id,
        template_id,
        cycle_time_days,
        ROW_NUMBER() OVER (PARTITION BY org_id, template_id ORDER BY cycle_time_days) AS row_in_template,
        COUNT(*) OVER (PARTITION BY org_id, template_id) AS rows_in_template
    FROM runs
    WHERE cycle_time_days IS NOT NULL
), medians AS (
    -- the middle value, or the mean of the two middle ones: the percentile aggregate is
    -- window-only on BigQuery and MS SQL
    SELECT org_id, template_id, AVG(cycle_time_days) AS median_cycle_time_days
    FROM ranked
    WHERE 2 * row_in_template IN (rows_in_template, rows_in_template + 1, rows_in_template + 2)
    GROUP BY org_id, template_id
)
SELECT
    tm.org_id,
    tm.id AS template_id,
    tm.title,
    tm.type,
    tm.status,
    {_flag(_archived("tm"))} AS is_archived,
    tm.created_at,
    CAST(COALESCE(l.launches, 0) AS BIGINT) AS launches,
    CAST(COALESCE(l.active_processes, 0) AS BIGINT) AS active_processes,
    CAST(COALESCE(l.completed_processes, 0) AS BIGINT) AS completed_processes,
    CAST(COALESCE(l.archived_processes, 0) AS BIGINT) AS archived_processes,
    CAST(COALESCE(l.launches_last_30_days, 0) AS BIGINT) AS launches_last_30_days,
    l.last_launched_at,
    CAST(COALESCE(l.completed_with_cycle_time, 0) AS BIGINT) AS completed_with_cycle_time,
    CAST(l.avg_cycle_time_days AS DOUBLE PRECISION) AS avg_cycle_time_days,
    CAST(md.median_cycle_time_days AS DOUBLE PRECISION) AS median_cycle_time_days,
    CASE WHEN COALESCE(l.launches_last_30_days, 0) = 0 THEN TRUE ELSE FALSE END AS unused_last_30_days
FROM {{templates}} tm
LEFT JOIN launches l ON l.org_id = tm.org_id AND l.template_id = tm.id
LEFT JOIN medians md ON md.org_id = tm.org_id AND md.template_id = tm.id
""",
)

MEMBER_WORKLOAD = View(
    "member_workload",
    required=("members", "tasks"),
    optional=("tasks__assignees",),
    sql=f"""
WITH {_TASK_FACTS.strip()},
assigned AS (
    SELECT
        tf.org_id,
        a.member_id,
        COUNT(DISTINCT CASE WHEN tf.is_open THEN tf.id END) AS open_tasks,
        COUNT(DISTINCT CASE WHEN tf.is_overdue THEN tf.id END) AS overdue_tasks
    FROM {{tasks__assignees}} a
    JOIN task_facts tf ON a._dlt_parent_id = tf._dlt_id
    WHERE a.kind = 'member' AND a.member_id IS NOT NULL
    GROUP BY tf.org_id, a.member_id
), completed AS (
    SELECT
        org_id,
        completer_id AS member_id,
        COUNT(*) AS tasks_completed,
        SUM(CASE WHEN completed_on_time IS NOT NULL THEN 1 ELSE 0 END) AS completed_with_deadline,
        SUM(CASE WHEN completed_on_time THEN 1 ELSE 0 END) AS completed_on_time
    FROM task_facts
    WHERE is_completed AND completer_id IS NOT NULL
    GROUP BY org_id, completer_id
)
SELECT
    m.org_id,
    m.id AS member_id,
    m.full_name,
    m.email,
    LOWER(m.role) AS role,
    m.status,
    CAST(COALESCE(a.open_tasks, 0) AS BIGINT) AS open_tasks,
    CAST(COALESCE(a.overdue_tasks, 0) AS BIGINT) AS overdue_tasks,
    CAST(COALESCE(c.tasks_completed, 0) AS BIGINT) AS tasks_completed,
    CAST(COALESCE(c.completed_with_deadline, 0) AS BIGINT) AS completed_with_deadline,
    CAST(COALESCE(c.completed_on_time, 0) AS BIGINT) AS completed_on_time,
    CAST(c.completed_on_time AS DOUBLE PRECISION) / NULLIF(CAST(c.completed_with_deadline AS DOUBLE PRECISION), 0)
        AS on_time_rate
FROM {{members}} m
LEFT JOIN assigned a ON a.org_id = m.org_id AND a.member_id = m.id
LEFT JOIN completed c ON c.org_id = m.org_id AND c.member_id = m.id
""",
)

#: per tag, the four counts the API serves (`with=statistics`) beside the same counts from the
#: loaded tag links of templates and processes, archived as `is_archived` says; they should
#: agree (a data-quality check: a difference means a stale load or a server counting otherwise)
_STATS = ("active_template", "archived_template", "active_process", "archived_process")
_PLURAL = {k: k + ("es" if k.endswith("process") else "s") for k in _STATS}
TAG_STATISTICS_CHECK = View(
    "tag_statistics_check",
    required=("tags",),
    optional=("templates", "templates__tags", "processes", "processes__tags"),
    sql=f"""
WITH links AS (
    SELECT tm.org_id, tt.tag_id,
           CASE WHEN {_archived("tm")} THEN 'archived_template' ELSE 'active_template' END AS kind
    FROM {{templates__tags}} tt
    JOIN {{templates}} tm ON tt._dlt_parent_id = tm._dlt_id
    UNION ALL
    SELECT p.org_id, pt.tag_id,
           CASE WHEN {_archived("p")} THEN 'archived_process' ELSE 'active_process' END AS kind
    FROM {{processes__tags}} pt
    JOIN {{processes}} p ON pt._dlt_parent_id = p._dlt_id
), loaded AS (
    SELECT org_id, tag_id,
           {", ".join(f"SUM(CASE WHEN kind = '{k}' THEN 1 ELSE 0 END) AS {k}" for k in _STATS)}
    FROM links
    GROUP BY org_id, tag_id
), side_by_side AS (
    SELECT t.org_id, t.id AS tag_id, t.title,
           {", ".join(f"CAST(COALESCE(t.statistics__{k}, 0) AS BIGINT) AS api_{_PLURAL[k]}, "
                      f"CAST(COALESCE(l.{k}, 0) AS BIGINT) AS loaded_{_PLURAL[k]}" for k in _STATS)}
    FROM {{tags}} t
    LEFT JOIN loaded l ON l.org_id = t.org_id AND l.tag_id = t.id
)
SELECT side_by_side.*,
       {", ".join(f"api_{p} - loaded_{p} AS difference_{p}" for p in _PLURAL.values())},
       CASE WHEN {" AND ".join(f"api_{p} = loaded_{p}" for p in _PLURAL.values())} THEN TRUE ELSE FALSE END AS agrees
FROM side_by_side
""",
)



def _month(timestamp: str) -> str:
    """The first day of the UTC calendar month of a timestamp with time zone (a DATE)."""
    return f"CAST(DATE_TRUNC('month', {timestamp} AT TIME ZONE 'UTC') AS DATE)"


_RUNNING = ("OVER (PARTITION BY m.org_id, m.tag_id ORDER BY m.month_start NULLS FIRST"
            " ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)")
_ACTIVITY_COUNTS = ("templates_created", "processes_launched", "processes_completed", "tasks_completed",
                    "tasks_completed_with_deadline", "tasks_completed_on_time", "open_problems")


def _event(month: str, **ones: str) -> str:
    """One select list of the events CTE: the month, then each count (0 unless given)."""
    return ", ".join([f"{month} AS month_start"] + [f"{ones.get(c, '0')} AS {c}" for c in _ACTIVITY_COUNTS])


#: per tag and UTC calendar month, what the loaded work says happened, and (from the loads'
#: history) the API's four counts at the month's last snapshot.
#: CAVEAT: the links are TODAY's: a process launched in March and tagged in June counts for
#: March, and a tag removed since counts nowhere. The history columns are what the API served
#: on that day; they are NULL for months without a load.
TAG_ACTIVITY = View(
    "tag_activity",
    required=("tags",),
    optional=("templates", "templates__tags", "processes", "processes__tags", "tasks", "tasks__tags", "comments",
              TAG_STATISTICS_HISTORY, "process_tags_history"),
    sql=f"""
-- tag_activity: per tag and UTC calendar month. CAVEAT: tags are today's links (a tag added to or
-- removed from a process later moves its whole history); history_* columns are the API's counts
-- at the month's last tag_statistics_history snapshot, NULL for months without one;
-- history_processes_carrying: the processes carrying the tag at the month's end (this month: now)
-- from process_tags_history, as the loads saw them; NULL for months that ended before it began.
WITH tagged_templates AS (
    SELECT DISTINCT tm.org_id, tt.tag_id, tm.id AS template_id, tm.created_at
    FROM {{templates__tags}} tt
    JOIN {{templates}} tm ON tt._dlt_parent_id = tm._dlt_id
), tagged_processes AS (
    SELECT DISTINCT p.org_id, pt.tag_id, p.id AS process_id,
           COALESCE(p.started_at, p.created_at) AS launched_at,
           CASE WHEN p.status = 'complete' THEN p.completed_at END AS completed_at
    FROM {{processes__tags}} pt
    JOIN {{processes}} p ON pt._dlt_parent_id = p._dlt_id
), tagged_tasks AS (
    -- a process's tasks carry its tags; a task may carry tags of its own (one-off tasks)
    SELECT tp.org_id, tp.tag_id, t.id AS task_id
    FROM tagged_processes tp
    JOIN {{tasks}} t ON t.org_id = tp.org_id AND t.run_id = tp.process_id
    UNION
    SELECT t.org_id, tt.tag_id, t.id AS task_id
    FROM {{tasks__tags}} tt
    JOIN {{tasks}} t ON tt._dlt_parent_id = t._dlt_id
), completed_tasks AS (
    SELECT tt.org_id, tt.tag_id, t.completed_at,
           CASE WHEN t.deadline IS NOT NULL THEN 1 ELSE 0 END AS with_deadline,
           CASE WHEN t.completed_at <= t.deadline THEN 1 ELSE 0 END AS on_time
    FROM tagged_tasks tt
    JOIN {{tasks}} t ON t.org_id = tt.org_id AND t.id = tt.task_id
    WHERE t.status = 'completed' AND t.completed_at IS NOT NULL
), events AS (
    SELECT org_id, tag_id, {_event(_month("created_at"), templates_created="1")}
    FROM tagged_templates
    UNION ALL
    SELECT org_id, tag_id, {_event(_month("launched_at"), processes_launched="1")}
    FROM tagged_processes
    UNION ALL
    SELECT org_id, tag_id, {_event(_month("completed_at"), processes_completed="1")}
    FROM tagged_processes
    WHERE completed_at IS NOT NULL
    UNION ALL
    SELECT org_id, tag_id, {_event(_month("completed_at"), tasks_completed="1",
                                   tasks_completed_with_deadline="with_deadline", tasks_completed_on_time="on_time")}
    FROM completed_tasks
    UNION ALL
    -- problems raised that month that are still open (not resolved, not archived)
    SELECT tt.org_id, tt.tag_id, {_event(_month("c.created_at"), open_problems="1")}
    FROM {{comments}} c
    JOIN tagged_tasks tt ON tt.org_id = c.org_id AND tt.task_id = c.task_id
    WHERE c.label = 'problem' AND COALESCE(c.state, '') <> 'resolved' AND c.archived_at IS NULL
), monthly AS (
    SELECT org_id, tag_id, month_start, {", ".join(f"SUM({c}) AS {c}" for c in _ACTIVITY_COUNTS)}
    FROM events
    WHERE month_start IS NOT NULL
    GROUP BY org_id, tag_id, month_start
), snapshots AS (
    -- snapshot_date is loaded_at's UTC day: the month comes from loaded_at, as above
    SELECT h.org_id, h.tag_id, h.snapshot_date, {_month("h.loaded_at")} AS month_start,
           {", ".join(f"h.{k}" for k in _STATS)},
           ROW_NUMBER() OVER (PARTITION BY h.org_id, h.tag_id, {_month("h.loaded_at")}
                              ORDER BY h.snapshot_date DESC, h.loaded_at DESC) AS newest_first
    FROM {{{TAG_STATISTICS_HISTORY}}} h
), months AS (
    SELECT org_id, tag_id, month_start FROM monthly
    UNION
    SELECT org_id, tag_id, month_start FROM snapshots WHERE newest_first = 1
), month_ends AS (
    SELECT org_id, tag_id, month_start, month_start + INTERVAL '1' MONTH AS month_end FROM months
), history_start AS (
    -- the first load that kept process tags: months ending before it have no history
    SELECT v.org_id, MIN(v.valid_from) AS first_version FROM {{process_tags_history}} v GROUP BY v.org_id
), carried AS (
    -- the processes carrying the tag at the month's end (for this month: now), as the loads saw them
    SELECT e.org_id, e.tag_id, e.month_start, COUNT(DISTINCT h.process_id) AS processes
    FROM month_ends e
    JOIN {{process_tags_history}} h ON h.org_id = e.org_id AND h.tag_id = e.tag_id
        AND h.valid_from < e.month_end AND (h.valid_to IS NULL OR h.valid_to >= e.month_end)
    GROUP BY e.org_id, e.tag_id, e.month_start
)
SELECT
    t.org_id,
    t.id AS tag_id,
    t.title,
    m.month_start,
    CAST(SUM(COALESCE(a.templates_created, 0)) {_RUNNING} AS BIGINT) AS templates_tagged,
    CAST(SUM(COALESCE(a.processes_launched, 0)) {_RUNNING} AS BIGINT) AS processes_tagged,
    {", ".join(f"CAST(COALESCE(a.{c}, 0) AS BIGINT) AS {c}" for c in _ACTIVITY_COUNTS[1:])},
    CAST(a.tasks_completed_on_time AS DOUBLE PRECISION)
        / NULLIF(CAST(a.tasks_completed_with_deadline AS DOUBLE PRECISION), 0) AS on_time_share,
    s.snapshot_date AS history_snapshot_date,
    {", ".join(f"s.{k} AS history_{_PLURAL[k]}" for k in _STATS)},
    CAST(CASE WHEN hs.first_version < m.month_end THEN COALESCE(c.processes, 0) END AS BIGINT)
        AS history_processes_carrying
FROM month_ends m
JOIN {{tags}} t ON t.org_id = m.org_id AND t.id = m.tag_id
LEFT JOIN monthly a ON a.org_id = m.org_id AND a.tag_id = m.tag_id AND a.month_start = m.month_start
LEFT JOIN snapshots s ON s.org_id = m.org_id AND s.tag_id = m.tag_id AND s.month_start = m.month_start
    AND s.newest_first = 1
LEFT JOIN history_start hs ON hs.org_id = m.org_id
LEFT JOIN carried c ON c.org_id = m.org_id AND c.tag_id = m.tag_id AND c.month_start = m.month_start
""",
)

WORKFLOW_VIEWS: Tuple[View, ...] = (TASK_PERFORMANCE, PROCESS_CYCLE_TIMES, TEMPLATE_USAGE, MEMBER_WORKLOAD)

VIEWS: Tuple[View, ...] = (TAG_USAGE, TAG_STATISTICS_CHECK, GROUP_MEMBERSHIP, MEMBER_DIRECTORY,
                           GROUP_SUMMARY) + WORKFLOW_VIEWS + (TAG_ACTIVITY,)


def _stub(table: str) -> str:
    """An empty relation with the columns the views read from `table`."""
    columns = ", ".join(f"CAST(NULL AS {sql_type}) AS {name}" for name, sql_type in STUB_COLUMNS[table])
    return f"(SELECT {columns} FROM (SELECT 1 AS one) AS no_rows WHERE 1 = 0)"


def _relation(client, table: str, columns: Dict[str, object]) -> str:
    """What a view reads for `table`: the table, without rows flagged missing upstream."""
    qualified = client.make_qualified_table_name(table)
    if MISSING_SINCE in columns:
        return f"(SELECT * FROM {qualified} WHERE {client.escape_column_name(MISSING_SINCE)} IS NULL)"
    return qualified


def _placeholder(table: str, columns: Dict[str, object]) -> str:
    """`_relation` for sqlglot to rewrite (pipelines/dialects.py puts the destination's name in)."""
    if MISSING_SINCE in columns:
        return f"(SELECT * FROM {PLACEHOLDER}.{table} WHERE {MISSING_SINCE} IS NULL)"
    return f"{PLACEHOLDER}.{table}"


def render_view(view: View, client, existing: Dict[str, Dict[str, object]], dialect: Optional[str] = None) -> str:
    """The SELECT of `view` with every table placeholder replaced (all required tables exist):
    as written (DuckDB, PostgreSQL) when `dialect` is None, else generated for it by sqlglot."""
    tables = view.required + view.optional
    if dialect is None:
        relations = {t: _relation(client, t, existing[t]) if t in existing else _stub(t) for t in tables}
        return view.sql.format(**relations).strip()
    relations = {t: _placeholder(t, existing[t]) if t in existing else _stub(t) for t in tables}
    paths = {t: client.make_qualified_table_name_path(t, quote=False) for t in existing}
    return to_dialect(view.sql.format(**relations), dialect, paths)


def existing_tables(job_client: Any, tables: Sequence[str]) -> Dict[str, Dict[str, object]]:
    """{table: its columns} for the tables that exist in the destination dataset."""
    return {name: columns for name, columns in job_client.get_storage_tables(tables) if columns}


def create_views(pipeline: dlt.Pipeline, views: Sequence[View] = VIEWS, dialect: Optional[str] = None) -> List[str]:
    """(Re)create the reporting views whose tables exist; returns the names created.

    Destinations without SQL views (filesystem) and views whose tables are not
    loaded yet are skipped. Each view is dropped and created in one transaction:
    PostgreSQL's CREATE OR REPLACE cannot change a view's columns. Destinations other than
    DuckDB and PostgreSQL get each view rewritten by sqlglot for their dialect; `dialect`
    forces that rewrite (the tests run it on DuckDB and PostgreSQL, where it can be checked).
    """
    job_client = pipeline.destination_client()
    if not is_sql_client(job_client):  # no SQL views (filesystem)
        return []
    own = job_client.capabilities.sqlglot_dialect
    dialect = dialect or (None if own in NATIVE else own)
    needed = sorted({t for view in views for t in view.required + view.optional})
    with job_client:
        existing = existing_tables(job_client, needed)
        client = job_client.sql_client
        created = []
        for view in views:
            if not all(t in existing for t in view.required):
                continue
            name = client.make_qualified_table_name(view.name)
            try:
                select = render_view(view, client, existing, dialect)
                with client.begin_transaction():
                    client.execute_sql(f"DROP VIEW IF EXISTS {name}")
                    client.execute_sql(f"CREATE VIEW {name} AS\n{select}")
            except (DatabaseException, SqlglotError) as error:  # the data is loaded; a dialect we do not test may differ
                logger.warning("view %s not created on %s: %s", view.name, pipeline.destination.destination_name,
                               str(error).splitlines()[0] if str(error) else type(error).__name__)
                continue
            created.append(view.name)
    if created:
        logger.info("views (re)created in dataset %s: %s", pipeline.dataset_name, ", ".join(created))
    return created
