"""The views' SQL for destinations other than DuckDB and PostgreSQL, generated with sqlglot.

Why: the views are written once, in the SQL that DuckDB and PostgreSQL both run (the tests run
them there). Warehouses spell some of it differently (LISTAGG for STRING_AGG, their own epoch
seconds, BIT for booleans); sqlglot, which dlt already installs, rewrites a view for the
destination's dialect, the one dlt names in `capabilities.sqlglot_dialect`. Where sqlglot would
pass a construct through that the target refuses, a small rewrite here comes first.
"""

from typing import Callable, Dict, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

#: the dialects the views are written in (executed as written)
NATIVE = ("duckdb", "postgres")
#: the dialect sqlglot reads the views in
SOURCE = "postgres"
#: where each view reads a table: `PLACEHOLDER.<table>` before the destination's names go in
PLACEHOLDER = "tallyfy_view_input"

#: epoch seconds of a timestamp in the dialect's own function, where sqlglot would keep
#: PostgreSQL's EXTRACT(EPOCH FROM x) (BigQuery and MS SQL have no such part)
_EPOCH = {
    "bigquery": "UNIX_SECONDS({})",
    "snowflake": "DATE_PART(EPOCH_SECOND, {})",
    "databricks": "UNIX_TIMESTAMP({})",
    "spark": "UNIX_TIMESTAMP({})",
    "tsql": "DATEDIFF_BIG(SECOND, '1970-01-01T00:00:00+00:00', {})",
    "fabric": "DATEDIFF_BIG(SECOND, '1970-01-01T00:00:00+00:00', {})",
}
#: dialects without boolean values: TRUE / FALSE as a CASE result become BIT constants
_NO_BOOLEANS = ("tsql", "fabric")


def _epoch(dialect: str) -> Callable[[exp.Expression], exp.Expression]:
    template = _EPOCH.get(dialect)

    def rewrite(node: exp.Expression) -> exp.Expression:
        if (template and isinstance(node, exp.Extract) and isinstance(node.this, exp.Var)
                and node.this.name.upper() == "EPOCH"):
            return exp.var(template.format(node.expression.sql(dialect=dialect)))  # verbatim text
        return node

    return rewrite


def _bit_results(node: exp.Expression) -> exp.Expression:
    """`CASE WHEN p THEN TRUE ELSE FALSE END` is a value: MS SQL wants CAST(1 AS BIT) there."""
    if isinstance(node, exp.Boolean) and node.arg_key in ("true", "default"):
        return exp.cast(exp.Literal.number(1 if node.this else 0), "BIT")
    return node


def _within_group(node: exp.Expression) -> exp.Expression:
    """Redshift spells an ordered STRING_AGG as LISTAGG(x, sep) WITHIN GROUP (ORDER BY ...)."""
    if isinstance(node, exp.GroupConcat) and isinstance(node.this, exp.Order):
        order = node.this
        plain = exp.GroupConcat(this=order.this.copy(), separator=node.args.get("separator"))
        return exp.WithinGroup(this=plain, expression=exp.Order(expressions=[o.copy() for o in order.expressions]))
    return node


def to_dialect(sql: str, dialect: str, tables: Dict[str, Sequence[str]]) -> str:
    """`sql` (a view's SELECT reading `PLACEHOLDER.<table>`) in `dialect`, each placeholder table
    replaced by its path in `tables` (catalog, dataset, table; unquoted, as the destination
    casefolds them). Raises sqlglot's errors when the dialect cannot express something."""
    tree = sqlglot.parse_one(sql, read=SOURCE)
    tree = tree.transform(_epoch(dialect))
    if dialect in _NO_BOOLEANS:
        tree = tree.transform(_bit_results)
    if dialect == "redshift":
        tree = tree.transform(_within_group)
    for table in tree.find_all(exp.Table):
        if table.db == PLACEHOLDER:
            *prefix, name = tables[table.name]
            catalog, db = ([None] * (2 - len(prefix)) + list(prefix))[-2:]
            table.replace(exp.table_(name, db=db, catalog=catalog, quoted=True, alias=table.alias or None))
    return tree.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)
