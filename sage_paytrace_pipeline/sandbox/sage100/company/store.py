"""Row access for the demo writer inside one SQLite transaction, by schema keys.

Code names tables and columns by their schema keys (``"AR_OpenInvoice"``, ``"Balance"``); this
module turns them into the site's names (`Sage100Schema` overrides), converts values explicitly
(money and quantities as exact decimal text at their column's scale, rounded half-up, dates as ISO text,
ints as int) and fills Sage's audit columns (date, decimal-hour time, user).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from sage_paytrace_pipeline.sage100.errors import Sage100SchemaError
from sage_paytrace_pipeline.sage100.models import as_date, as_money, as_quantity, as_text
from sage_paytrace_pipeline.sage100.schema import Column, Sage100Schema, Table
from sage_paytrace_pipeline.sage100.sqlite_connection import decimal_text, open_demo_database
from sage_paytrace_pipeline.sage100.udf import UDF_COLUMNS

Row = dict[str, Any]
IN_LIST = 500  # values an `IN (...)` look-up binds at most (far below SQLite's variable limit)
Converter = Callable[[Any], Any]


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


def db_converter(column: Column) -> Converter:
    """`to_db` for one column with its kind decided once (a chunk of receipts converts hundreds of
    thousands of values); a `Decimal` skips the text round trip `to_db` makes of other values."""
    if column.kind == "decimal":
        scale = column.scale

        def decimal(value: Any) -> Any:
            if type(value) is Decimal:
                return stored_decimal(value, scale)
            return to_db(column, value)
        return decimal
    if column.kind == "str":
        length = column.length

        def text(value: Any) -> Any:
            if type(value) is str and (not length or len(value) <= length):
                return value
            return to_db(column, value)
        return text
    if column.kind == "date":

        def iso_date(value: Any) -> Any:
            if type(value) is date:
                return value.isoformat()
            return to_db(column, value)
        return iso_date
    return partial(to_db, column)


# `decimal_text` by scale and value: a day's receipts write the same few amounts into many columns
# (the amount, the lines, payment history, GL, balances), each a quantize and a format.
_DECIMAL_TEXTS: dict[int, dict[Decimal, str]] = {}
_DECIMAL_TEXTS_KEPT = 65_536


def stored_decimal(value: Decimal, scale: int) -> str:
    """`decimal_text(value, scale)`, remembered (equal decimals store the same text)."""
    texts = _DECIMAL_TEXTS.get(scale)
    if texts is None:
        texts = _DECIMAL_TEXTS[scale] = {}
    try:
        return texts[value]
    except KeyError:
        if len(texts) >= _DECIMAL_TEXTS_KEPT:
            texts.clear()
        text = texts[value] = decimal_text(value, scale)
        return text
    except TypeError:  # a signaling NaN has no hash: refused by decimal_text as before
        return decimal_text(value, scale)


_READ_MONEY: dict[Decimal, Decimal] = {}


def read_money(value: Decimal) -> Decimal:
    """`Decimal(stored_decimal(value, 2))`, remembered like `stored_decimal` (equal decimals read back
    the same; a Decimal is immutable, so one can be handed out many times)."""
    try:
        return _READ_MONEY[value]
    except KeyError:
        if len(_READ_MONEY) >= _DECIMAL_TEXTS_KEPT:
            _READ_MONEY.clear()
        read = _READ_MONEY[value] = Decimal(stored_decimal(value, 2))
        return read
    except TypeError:  # a signaling NaN has no hash: refused by decimal_text as before
        return Decimal(stored_decimal(value, 2))


def read_converter(column: Column) -> Converter:
    """`from_db` for one column with its kind decided once."""
    if column.kind == "str":
        return as_text
    if column.kind == "decimal" and column.scale == 2:
        return as_money
    return partial(from_db, column)


def round_trip_converter(column: Column) -> Converter:
    """`read_converter(column)(db_converter(column)(value))` in one step for the values the writer
    passes most (text that fits, money as `Decimal`, dates), with the same refusals; other values
    take both steps."""
    to_stored, to_read = db_converter(column), read_converter(column)
    if column.kind == "str":
        length = column.length

        def text(value: Any) -> Any:
            if type(value) is str and (not length or len(value) <= length):
                return value.rstrip()
            return to_read(to_stored(value))
        return text
    if column.kind == "decimal" and column.scale == 2:

        def money(value: Any) -> Any:
            if type(value) is Decimal:  # the stored text has two decimals: `as_money` of it is the same Decimal
                return read_money(value)
            return to_read(to_stored(value))
        return money

    def stored_and_read(value: Any) -> Any:
        return to_read(to_stored(value))
    return stored_and_read


def from_db(column: Column, value: Any) -> Any:
    if column.kind == "date":
        return as_date(value)
    if column.kind == "decimal":
        return as_money(value) if column.scale == 2 else as_quantity(value)
    if column.kind == "int":
        return int(value or 0)
    return as_text(value)


# Set up once and only read by the writer's documents (divisions, payment types, GL accounts, bank
# codes, terms): a session reads each row once. Any write to one of them through the session
# drops what was read.
MASTER_TABLES = frozenset({"AR_Division", "AR_PaymentType", "GL_Account", "bank_codes", "AR_TermsCode"})


def _as_read(value: Any) -> Any:
    return value


class DemoSession:
    """One open transaction on the demo company; every read and write goes through it."""

    def __init__(self, connection: sqlite3.Connection, schema: Sage100Schema, *, user: str, now: datetime) -> None:
        self.connection = connection
        self.schema = schema
        self.user = user[:10]
        self.now = now
        self.today = now.date()
        # Name resolution is pure and asked for thousands of times a chunk: resolved once per session.
        self._columns: dict[tuple[str, str], Column] = {}
        self._audits: dict[tuple[str, str], Row] = {}
        self._statements: dict[tuple[str, str, tuple[str, ...]], tuple[str, tuple[Converter, ...]]] = {}
        self._round_trips: dict[tuple[str, str], Converter] = {}
        # per table and row shape: the INSERT text, the audit values as stored, the row's converters
        self._inserts: dict[tuple[str, tuple[str, ...]], tuple[str, tuple[Any, ...], tuple[Converter, ...]] | None] = {}
        self._master: dict[tuple[str, tuple[tuple[str, Any], ...]], Row | None] = {}
        self._readers: dict[tuple[str, tuple[str, ...]], tuple[tuple[str, ...], tuple[Callable[[Any], Any], ...]]] = {}

    # --- names ------------------------------------------------------------------------
    def table(self, key: str) -> Table:
        return self.schema.table(key)

    def column(self, table_key: str, column_key: str) -> Column:
        found = self._columns.get((table_key, column_key))
        if found is None:
            found = self._columns[table_key, column_key] = self._resolve_column(table_key, column_key)
        return found

    def _resolve_column(self, table_key: str, column_key: str) -> Column:
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

    def _row_reader(
        self, table_key: str, names: tuple[str, ...]
    ) -> tuple[tuple[str, ...], tuple[Callable[[Any], Any], ...]]:
        """Row keys and value converters for a result's column names (columns outside the schema as read)."""
        found = self._readers.get((table_key, names))
        if found is None:
            by_name = {column.name: column for column in self.table(table_key).columns}
            keys = tuple(by_name[name].key if name in by_name else name for name in names)
            converters = tuple(read_converter(by_name[name]) if name in by_name else _as_read for name in names)
            found = self._readers[table_key, names] = (keys, converters)
        return found

    def _statement(self, kind: str, table_key: str, keys: tuple[str, ...]) -> tuple[str, tuple[Converter, ...]]:
        """SQL text for `kind` ("where", "insert", "set") over these column keys, and the to-db
        converter of each key's value; built once per session and shape."""
        found = self._statements.get((kind, table_key, keys))
        if found is None:
            columns = [self.column(table_key, key) for key in keys]
            names = [column.name for column in columns]
            if kind == "where":
                sql = " WHERE " + " AND ".join(f"{name} = ?" for name in names)
            elif kind == "insert":
                sql = (f"INSERT INTO {self.table(table_key).name} ({', '.join(names)}) "
                       f"VALUES ({', '.join('?' for _ in names)})")
            else:
                sql = f"UPDATE {self.table(table_key).name} SET " + ", ".join(f"{name} = ?" for name in names)
            found = self._statements[kind, table_key, keys] = (sql, tuple(db_converter(c) for c in columns))
        return found

    def _where(self, table_key: str, where: Mapping[str, Any]) -> tuple[str, list[Any]]:
        if not where:
            return "", []
        clause, converters = self._statement("where", table_key, tuple(where))
        return clause, [convert(value) for convert, value in zip(converters, where.values(), strict=True)]

    def where_values(self, table_key: str, where: Mapping[str, Any]) -> list[Any]:
        """The values a look-up by `where` compares the stored ones with (converted as an insert stores them)."""
        return self._where(table_key, where)[1]

    # --- reads ------------------------------------------------------------------------
    def select(
        self, table_key: str, where: Mapping[str, Any] | None = None, *, order_by: Sequence[str] = (),
        limit: int | None = None, columns: Sequence[str] | None = None,
    ) -> list[Row]:
        """Rows by schema keys; `columns` (keys) reads only those, for look-ups that need a few of a
        wide table's columns."""
        table = self.table(table_key)
        clause, params = self._where(table_key, where or {})
        order = (" ORDER BY " + ", ".join(self.column(table_key, k).name for k in order_by)) if order_by else ""
        bound = f" LIMIT {int(limit)}" if limit is not None else ""
        wanted = ", ".join(self.column(table_key, key).name for key in columns) if columns else "*"
        cursor = self.connection.execute(f"SELECT {wanted} FROM {table.name}{clause}{order}{bound}", params)
        keys, converters = self._row_reader(table_key, tuple(description[0] for description in cursor.description))
        return [
            {key: convert(value) for key, convert, value in zip(keys, converters, raw, strict=True)}
            for raw in cursor.fetchall()
        ]

    def select_one(
        self, table_key: str, where: Mapping[str, Any], *, columns: Sequence[str] | None = None
    ) -> Row | None:
        """One row (the first in the index SQLite seeks with), never a read of every match. Master
        data (`MASTER_TABLES`) is read once per session and handed out as copies."""
        if table_key not in MASTER_TABLES or columns is not None:
            rows = self.select(table_key, where, limit=1, columns=columns)
            return rows[0] if rows else None
        key = (table_key, tuple(where.items()))
        if key not in self._master:
            rows = self.select(table_key, where, limit=1)
            self._master[key] = rows[0] if rows else None
        found = self._master[key]
        return None if found is None else dict(found)

    def select_in(
        self, table_key: str, column_key: str, values: Sequence[Any], *, columns: Sequence[str]
    ) -> list[Row]:
        """Rows whose `column_key` is one of `values`, in index order, in look-ups of at most
        `IN_LIST` values each: what a chunk of documents needs of a table, read at once."""
        table = self.table(table_key)
        column = self.column(table_key, column_key)
        wanted = ", ".join(self.column(table_key, key).name for key in columns)
        distinct = list(dict.fromkeys(to_db(column, value) for value in values))
        rows: list[Row] = []
        for start in range(0, len(distinct), IN_LIST):
            part = distinct[start:start + IN_LIST]
            cursor = self.connection.execute(
                f"SELECT {wanted} FROM {table.name} WHERE {column.name} IN ({', '.join('?' for _ in part)})", part)
            keys, converters = self._row_reader(table_key, tuple(d[0] for d in cursor.description))
            rows += [{key: convert(value) for key, convert, value in zip(keys, converters, raw, strict=True)}
                     for raw in cursor.fetchall()]
        return rows

    def round_trip(self, table_key: str, row: Mapping[str, Any]) -> Row:
        """`row` as this table would store it and a read give it back (text rstripped, money at
        its scale), with the same refusals as an insert (a value too long for its column)."""
        stored = {}
        for key, value in row.items():
            convert = self._round_trips.get((table_key, key))
            if convert is None:
                column = self.column(table_key, key)
                convert = self._round_trips[table_key, key] = round_trip_converter(column)
            stored[key] = convert(value)
        return stored

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
        """The table's audit columns of this prefix, as one stamp a session (`now` is the session's);
        the callers copy it into the row they write."""
        audit = self._audits.get((table_key, prefix))
        if audit is None:
            stamp = {f"Date{prefix}": self.today, f"Time{prefix}": decimal_hours(self.now),
                     f"User{prefix}Key": self.user}
            audit = self._audits[table_key, prefix] = {
                key: value for key, value in stamp.items() if self.has_column(table_key, key)}
        return audit

    def _forget(self, table_key: str) -> None:
        """A write to a master table drops what was read of it."""
        if table_key in MASTER_TABLES:
            self._master.clear()

    def insert(self, table_key: str, row: Mapping[str, Any]) -> None:
        self._forget(table_key)
        self.connection.execute(*self.prepare_insert(table_key, row))

    def prepare_insert(self, table_key: str, row: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The INSERT of `insert` (audit columns filled, values converted), not run: rows of one
        shape share the SQL text, so a chunk's rows can go in one `executemany`."""
        keys = tuple(row)
        try:
            shape = self._inserts[table_key, keys]
        except KeyError:
            shape = self._inserts[table_key, keys] = self._insert_shape(table_key, keys)
        if shape is None:  # the row sets an audit column itself: where it stands among them decides its order
            values = {**self._audit(table_key, "Created"), **row}
            sql, converters = self._statement("insert", table_key, tuple(values))
            return sql, [convert(value) for convert, value in zip(converters, values.values(), strict=True)]
        sql, audit, converters = shape
        return sql, [*audit, *[convert(value) for convert, value in zip(converters, row.values())]]

    def _insert_shape(
        self, table_key: str, keys: tuple[str, ...]
    ) -> tuple[str, tuple[Any, ...], tuple[Converter, ...]] | None:
        """`prepare_insert`'s work that depends only on the row's keys, done once a session and shape:
        the SQL, the audit columns' values as stored (the same for every row of the session) and the
        row's converters; None when the row names an audit column."""
        audit = self._audit(table_key, "Created")
        if not audit.keys().isdisjoint(keys):
            return None
        sql, converters = self._statement("insert", table_key, (*audit, *keys))
        stored = tuple(convert(value) for convert, value in zip(converters, audit.values()))
        return sql, stored, converters[len(audit):]

    def update(self, table_key: str, where: Mapping[str, Any], values: Mapping[str, Any]) -> int:
        self._forget(table_key)
        return self.connection.execute(*self.prepare_update(table_key, where, values)).rowcount

    def prepare_update(
        self, table_key: str, where: Mapping[str, Any], values: Mapping[str, Any]
    ) -> tuple[str, list[Any]]:
        """The UPDATE of `update`, not run (see `prepare_insert`)."""
        values = {**values, **self._audit(table_key, "Updated")}
        sql, converters = self._statement("set", table_key, tuple(values))
        clause, params = self._where(table_key, where)
        converted = [convert(value) for convert, value in zip(converters, values.values(), strict=True)]
        return sql + clause, converted + params

    def delete(self, table_key: str, where: Mapping[str, Any]) -> int:
        self._forget(table_key)
        clause, params = self._where(table_key, where)
        return self.connection.execute(f"DELETE FROM {self.table(table_key).name}{clause}", params).rowcount


    # --- documents inside a longer transaction -----------------------------------------
    @contextmanager
    def document(self) -> Iterator[None]:
        """One document as a savepoint of the open transaction: kept when the block ends; on any
        error only its own rows are rolled back (the documents before it stay), and the error goes on."""
        self.connection.execute("SAVEPOINT document")
        try:
            yield
        except BaseException:
            self._master.clear()  # what the document read of master data may be gone with it
            if self.connection.in_transaction:  # SQLite may already have rolled everything back (disk full)
                self.connection.execute("ROLLBACK TO document")
                self.connection.execute("RELEASE document")
            raise
        self.connection.execute("RELEASE document")


def open_writer_connection(db_path: str | Path) -> sqlite3.Connection:
    """A read-write connection for explicit BEGIN/COMMIT. The company keeps its rollback journal and
    ``synchronous = FULL``: a chunk of documents is one commit, so the syncs are paid once a chunk,
    and readers keep opening the file ``mode=ro`` and rolling back a hot journal (sqlite_connection.py)."""
    connection = open_demo_database(db_path)
    connection.isolation_level = None  # explicit BEGIN/COMMIT only
    connection.execute("PRAGMA cache_size = -65536")  # 64 MiB: a day's open items and history pages stay cached
    connection.execute("PRAGMA temp_store = MEMORY")
    return connection


@contextmanager
def transaction_on(
    connection: sqlite3.Connection, schema: Sage100Schema, *, user: str, now: datetime
) -> Iterator[DemoSession]:
    """One ``BEGIN IMMEDIATE`` transaction on an open connection: committed when the block ends,
    rolled back on any error."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield DemoSession(connection, schema, user=user, now=now)
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


@contextmanager
def transaction(
    db_path: str | Path, schema: Sage100Schema, *, user: str, now: datetime
) -> Iterator[DemoSession]:
    """One ``BEGIN IMMEDIATE`` transaction on its own connection (one document, or a journal update)."""
    connection = open_writer_connection(db_path)
    try:
        with transaction_on(connection, schema, user=user, now=now) as session:
            yield session
    finally:
        connection.close()
