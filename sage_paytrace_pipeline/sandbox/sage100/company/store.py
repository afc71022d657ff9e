"""Row access for the demo writer inside one SQLite transaction, by schema keys.

Code names tables and columns by their schema keys (``"AR_OpenInvoice"``, ``"Balance"``); this
module turns them into the site's names (`Sage100Schema` overrides), converts values explicitly
(money and quantities as exact decimal text at their column's scale, rounded half-up, dates as ISO text,
ints as int) and fills Sage's audit columns (date, decimal-hour time, user).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sage_paytrace_pipeline.sage100.errors import Sage100SchemaError
from sage_paytrace_pipeline.sage100.models import as_date, as_money, as_quantity, as_text
from sage_paytrace_pipeline.sage100.schema import Column, Sage100Schema, Table
from sage_paytrace_pipeline.sage100.sqlite_connection import decimal_text, open_demo_database
from sage_paytrace_pipeline.sage100.udf import UDF_COLUMNS

Row = dict[str, Any]


def decimal_hours(moment: datetime) -> str:
    """Sage's 8-char time of day in decimal hours: 15:30 -> "15.5", 09:15 -> "9.25"."""
    hours = moment.hour + moment.minute / 60 + moment.second / 3600
    return f"{hours:.5f}".rstrip("0").rstrip(".")[:8] or "0"


def to_db(column: Column, value: Any) -> Any:
    """Explicit adapter from a Python value to what the demo company stores for `column`."""
    if column.kind == "date":
        if value is None or value == "":
            return None
        if not isinstance(value, date):
            raise TypeError(f"{column.name}: expected a date, got {type(value).__name__}")
        return value.isoformat()
    if column.kind == "decimal":
        return decimal_text(Decimal("0") if value in (None, "") else Decimal(str(value)), column.scale)
    if column.kind == "int":
        return int(value or 0)
    text = "" if value is None else str(value)
    if column.length and len(text) > column.length:
        raise Sage100SchemaError(f"{column.name}: {len(text)} characters, Sage allows {column.length}")
    return text


def from_db(column: Column, value: Any) -> Any:
    if column.kind == "date":
        return as_date(value)
    if column.kind == "decimal":
        return as_money(value) if column.scale == 2 else as_quantity(value)
    if column.kind == "int":
        return int(value or 0)
    return as_text(value)


class DemoSession:
    """One open transaction on the demo company; every read and write goes through it."""

    def __init__(self, connection: sqlite3.Connection, schema: Sage100Schema, *, user: str, now: datetime) -> None:
        self.connection = connection
        self.schema = schema
        self.user = user[:10]
        self.now = now
        self.today = now.date()

    # --- names ------------------------------------------------------------------------
    def table(self, key: str) -> Table:
        return self.schema.table(key)

    def column(self, table_key: str, column_key: str) -> Column:
        try:
            return self.table(table_key).column(column_key)
        except KeyError:
            for udf in UDF_COLUMNS:  # user-defined fields live outside the schema (sage100/udf.py)
                if udf.table_key == table_key and udf.name == column_key:
                    return Column(udf.name, "str", udf.length)
            raise Sage100SchemaError(
                f"the writer needs column {column_key} on {self.table(table_key).name}; "
                "add it to the schema or map the site's name with Sage100Schema(name_overrides=...)"
            ) from None

    def has_column(self, table_key: str, column_key: str) -> bool:
        return column_key in self.table(table_key).column_keys or any(
            udf.table_key == table_key and udf.name == column_key for udf in UDF_COLUMNS
        )

    def _where(self, table_key: str, where: Mapping[str, Any]) -> tuple[str, list[Any]]:
        if not where:
            return "", []
        parts, params = [], []
        for key, value in where.items():
            column = self.column(table_key, key)
            parts.append(f"{column.name} = ?")
            params.append(to_db(column, value))
        return " WHERE " + " AND ".join(parts), params

    # --- reads ------------------------------------------------------------------------
    def select(
        self, table_key: str, where: Mapping[str, Any] | None = None, *, order_by: Sequence[str] = ()
    ) -> list[Row]:
        table = self.table(table_key)
        clause, params = self._where(table_key, where or {})
        order = (" ORDER BY " + ", ".join(self.column(table_key, k).name for k in order_by)) if order_by else ""
        cursor = self.connection.execute(f"SELECT * FROM {table.name}{clause}{order}", params)
        names = [description[0] for description in cursor.description]
        by_name = {column.name: column for column in table.columns}
        rows = []
        for raw in cursor.fetchall():
            row = {}
            for name, value in zip(names, raw):
                column = by_name.get(name)
                row[column.key if column else name] = from_db(column, value) if column else value
            rows.append(row)
        return rows

    def select_one(self, table_key: str, where: Mapping[str, Any]) -> Row | None:
        rows = self.select(table_key, where)
        return rows[0] if rows else None

    def max_number(self, table_key: str, column_key: str, where: Mapping[str, Any] | None = None) -> int:
        """Largest all-digit value of a document-number column (0 when none)."""
        name = self.column(table_key, column_key).name
        clause, params = self._where(table_key, where or {})
        clause = (clause + " AND " if clause else " WHERE ") + f"{name} <> '' AND {name} NOT GLOB '*[^0-9]*'"
        value = self.connection.execute(
            f"SELECT MAX(CAST({name} AS INTEGER)) FROM {self.table(table_key).name}{clause}", params
        ).fetchone()[0]
        return int(value or 0)

    # --- writes -----------------------------------------------------------------------
    def _audit(self, table_key: str, prefix: str) -> Row:
        stamp = {f"Date{prefix}": self.today, f"Time{prefix}": decimal_hours(self.now), f"User{prefix}Key": self.user}
        return {key: value for key, value in stamp.items() if self.has_column(table_key, key)}

    def insert(self, table_key: str, row: Mapping[str, Any]) -> None:
        values = {**self._audit(table_key, "Created"), **row}
        columns = [self.column(table_key, key) for key in values]
        sql = (
            f"INSERT INTO {self.table(table_key).name} ({', '.join(c.name for c in columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        self.connection.execute(sql, [to_db(c, values[c.key]) for c in columns])

    def update(self, table_key: str, where: Mapping[str, Any], values: Mapping[str, Any]) -> int:
        values = {**values, **self._audit(table_key, "Updated")}
        columns = [self.column(table_key, key) for key in values]
        assignments = ", ".join(f"{c.name} = ?" for c in columns)
        clause, params = self._where(table_key, where)
        cursor = self.connection.execute(
            f"UPDATE {self.table(table_key).name} SET {assignments}{clause}",
            [to_db(c, values[c.key]) for c in columns] + params,
        )
        return cursor.rowcount

    def delete(self, table_key: str, where: Mapping[str, Any]) -> int:
        clause, params = self._where(table_key, where)
        return self.connection.execute(f"DELETE FROM {self.table(table_key).name}{clause}", params).rowcount


@contextmanager
def transaction(
    db_path: str | Path, schema: Sage100Schema, *, user: str, now: datetime
) -> Iterator[DemoSession]:
    """One ``BEGIN IMMEDIATE`` transaction: committed when the block ends, rolled back on any error."""
    connection = open_demo_database(db_path)
    connection.isolation_level = None  # explicit BEGIN/COMMIT only
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield DemoSession(connection, schema, user=user, now=now)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    finally:
        connection.close()
