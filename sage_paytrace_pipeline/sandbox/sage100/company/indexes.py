"""Indexes the demo company's writer relies on, so every look-up it makes is a point query.

Two kinds: the schema's own key indexes (sage100/schema.py, created with the company; added here
to a company file made before an index was declared), and one index per document-number series
(numbers.py) on the number's integer value, partial on all-digit values exactly as
`DemoSession.max_number` filters them, so "the highest number used" is one index seek at the end
of the index instead of a scan of the table. Idempotent and cheap when present.
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache

from sage_paytrace_pipeline.sage100.schema import DEFAULT_SCHEMA, Sage100Schema
from sage_paytrace_pipeline.sandbox.sage100.company.numbers import number_columns


def number_index_sql(schema: Sage100Schema, table_key: str, column_key: str, prefix: tuple[str, ...] = ()) -> str:
    table = schema.table(table_key)
    column = table.col(column_key)
    leading = "".join(f"{table.col(key)}, " for key in prefix)
    suffix = "_".join((*prefix, column_key))
    return (f"CREATE INDEX IF NOT EXISTS IXN_{table.name}_{suffix} ON {table.name} ({leading}CAST({column} AS INTEGER))"
            f" WHERE {column} <> '' AND {column} NOT GLOB '*[^0-9]*'")


def lookup_index_sql(schema: Sage100Schema = DEFAULT_SCHEMA) -> list[str]:
    return list(_lookup_index_sql(schema))


@lru_cache(maxsize=16)  # pure in the schema, and built on every writer open: once a process and schema
def _lookup_index_sql(schema: Sage100Schema) -> tuple[str, ...]:
    statements = [statement.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
                  for statement in schema.sqlite_ddl() if statement.startswith("CREATE INDEX ")]
    statements += [number_index_sql(schema, table_key, column_key, prefix)
                   for table_key, column_key, prefix in number_columns()]
    return tuple(statements)


def ensure_lookup_indexes(connection: sqlite3.Connection, schema: Sage100Schema = DEFAULT_SCHEMA) -> None:
    """Create the missing indexes in one transaction (existing ones are left as they are)."""
    existing = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    missing = [sql for sql in lookup_index_sql(schema) if _index_name(sql) not in existing]
    if not missing:
        return
    with connection:
        for statement in missing:
            connection.execute(statement)


def _index_name(statement: str) -> str:
    return statement.split(" IF NOT EXISTS ", 1)[1].split(" ", 1)[0]
