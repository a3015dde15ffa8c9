"""Reporting views over the loaded tables, (re)created after every load.

The tables keep the API's shapes; analysts and BI tools want answers. These
views are plain SQL that runs unchanged on DuckDB and PostgreSQL: they join
child tables through dlt's keys (`_dlt_parent_id` -> `groups._dlt_id`) and
resolve member ids and guest emails within the same `org_id`.

A view is created only when the tables it needs exist (a load of
`--resources tags` gets `tag_usage` alone). Optional child tables that have
never received a row (no group has guests yet) stand in as empty relations
with the same columns, so the views still answer. Rows flagged as missing
upstream (a `missing_since` column, when present) are left out.
"""

import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

import dlt
from dlt.destinations.exceptions import DatabaseException

from tallyfy_source.columns import GROUP_GUEST_COLUMNS, GROUP_MEMBER_COLUMNS, GUEST_COLUMNS
from tallyfy_source.deletes import MISSING_SINCE_COLUMN as MISSING_SINCE
from tallyfy_source.destinations import is_sql_client

logger = logging.getLogger("tallyfy_source")

#: the columns the views read from a table that may not exist yet: dlt's child-table keys, and
#: the declared types of the rest (one home for each type: tallyfy_source/columns.py)
_SQL_TYPES = {"text": "TEXT", "bigint": "BIGINT", "bool": "BOOLEAN", "double": "DOUBLE PRECISION",
              "timestamp": "TIMESTAMP WITH TIME ZONE"}
_CHILD_KEYS = (("_dlt_parent_id", "TEXT"), ("_dlt_list_idx", "BIGINT"))


def _typed(columns: Dict[str, Any], names: Sequence[str]) -> Tuple[Tuple[str, str], ...]:
    return tuple((name, _SQL_TYPES[columns[name]["data_type"]]) for name in names)


STUB_COLUMNS: Dict[str, Tuple[Tuple[str, str], ...]] = {
    "groups__members": _CHILD_KEYS + _typed(GROUP_MEMBER_COLUMNS, ["value"]),
    "groups__guests": _CHILD_KEYS + _typed(GROUP_GUEST_COLUMNS, ["value"]),
    "guests": _typed(GUEST_COLUMNS, ["org_id", "email", "first_name", "last_name", "details__status"]),
}


@dataclass(frozen=True)
class View:
    name: str
    required: Tuple[str, ...]  # tables that must exist
    optional: Tuple[str, ...]  # tables that stand in empty when missing (see STUB_COLUMNS)
    sql: str  # a SELECT with {table} placeholders


TAG_USAGE = View(
    "tag_usage",
    required=("tags",),
    optional=(),
    sql="""
WITH counts AS (
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
        COALESCE(t.statistics__archived_process, 0) AS archived_processes
    FROM {tags} t
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
    NULLIF(CONCAT_WS(' ', gu.first_name, gu.last_name), '') AS full_name,
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
        STRING_AGG(g.name, ', ' ORDER BY g.name) AS group_names
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

VIEWS: Tuple[View, ...] = (TAG_USAGE, GROUP_MEMBERSHIP, MEMBER_DIRECTORY, GROUP_SUMMARY)


def _stub(table: str) -> str:
    """An empty relation with the columns the views read from `table`."""
    columns = ", ".join(f"CAST(NULL AS {sql_type}) AS {name}" for name, sql_type in STUB_COLUMNS[table])
    return f"(SELECT {columns} WHERE 1 = 0)"


def _relation(client, table: str, columns: Dict[str, object]) -> str:
    """What a view reads for `table`: the table, without rows flagged missing upstream."""
    qualified = client.make_qualified_table_name(table)
    if MISSING_SINCE in columns:
        return f"(SELECT * FROM {qualified} WHERE {client.escape_column_name(MISSING_SINCE)} IS NULL)"
    return qualified


def render_view(view: View, client, existing: Dict[str, Dict[str, object]]) -> str:
    """The SELECT of `view` with every table placeholder replaced (all required tables exist)."""
    relations = {
        table: _relation(client, table, existing[table]) if table in existing else _stub(table)
        for table in view.required + view.optional
    }
    return view.sql.format(**relations).strip()


def existing_tables(job_client: Any, tables: Sequence[str]) -> Dict[str, Dict[str, object]]:
    """{table: its columns} for the tables that exist in the destination dataset."""
    return {name: columns for name, columns in job_client.get_storage_tables(tables) if columns}


def create_views(pipeline: dlt.Pipeline, views: Sequence[View] = VIEWS) -> List[str]:
    """(Re)create the reporting views whose tables exist; returns the names created.

    Destinations without SQL views (filesystem) and views whose tables are not
    loaded yet are skipped. Each view is dropped and created in one transaction:
    PostgreSQL's CREATE OR REPLACE cannot change a view's columns.
    """
    job_client = pipeline.destination_client()
    if not is_sql_client(job_client):  # no SQL views (filesystem)
        return []
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
                with client.begin_transaction():
                    client.execute_sql(f"DROP VIEW IF EXISTS {name}")
                    client.execute_sql(f"CREATE VIEW {name} AS\n{render_view(view, client, existing)}")
            except DatabaseException as error:  # the data is loaded; a dialect we do not test may differ
                logger.warning("view %s not created on %s: %s", view.name, pipeline.destination.destination_name,
                               str(error).splitlines()[0] if str(error) else type(error).__name__)
                continue
            created.append(view.name)
    if created:
        logger.info("views (re)created in dataset %s: %s", pipeline.dataset_name, ", ".join(created))
    return created
