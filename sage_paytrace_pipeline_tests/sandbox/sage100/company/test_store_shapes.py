"""`DemoSession`'s per-shape caches (insert SQL and audit values, round-trip converters, money read
back) give exactly what the uncached conversions give."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from decimal import Decimal

from sage_paytrace_pipeline.sage100.schema import DEFAULT_SCHEMA
from sage_paytrace_pipeline.sandbox.sage100.company.store import (
    DemoSession,
    db_converter,
    read_converter,
    read_money,
    stored_decimal,
)


def _session() -> DemoSession:
    return DemoSession(sqlite3.connect(":memory:"), DEFAULT_SCHEMA, user="PAYTRACE", now=datetime(2026, 1, 2, 13, 30))


def _uncached_insert(session: DemoSession, table_key: str, row: dict) -> tuple[str, list]:
    values = {**session._audit(table_key, "Created"), **row}
    columns = [session.column(table_key, key) for key in values]
    sql = (f"INSERT INTO {session.table(table_key).name} ({', '.join(c.name for c in columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    return sql, [db_converter(column)(value) for column, value in zip(columns, values.values(), strict=True)]


def test_prepare_insert_equals_the_uncached_statement_with_and_without_audit_columns():
    session = _session()
    rows = [{"AccountKey": "100", "PostingDate": date(2026, 1, 2), "DebitAmount": Decimal("1.005"),
             "CreditAmount": Decimal("0"), "PostingComment": "x "},
            {"AccountKey": "200", "PostingDate": date(2026, 1, 3), "DebitAmount": Decimal("-0.001"),
             "CreditAmount": Decimal("2.5"), "PostingComment": ""},
            {"DateCreated": date(2025, 5, 5), "AccountKey": "300", "DebitAmount": Decimal("3")}]  # sets an audit one
    for row in rows * 2:  # the second pass takes the cached shapes
        assert session.prepare_insert("GL_DetailPosting", row) == _uncached_insert(session, "GL_DetailPosting", row)


def test_round_trip_and_read_money_equal_the_stored_value_read_back():
    session = _session()
    row = {"Balance": Decimal("-12.345"), "PaymentsToday": Decimal("0.004"), "InvoiceNo": "A1  "}
    for _ in range(2):
        assert session.round_trip("AR_OpenInvoice", row) == {
            key: read_converter(session.column("AR_OpenInvoice", key))(
                db_converter(session.column("AR_OpenInvoice", key))(value)) for key, value in row.items()}
    for value in (Decimal("1.5"), Decimal("1.50"), Decimal("-0.001"), Decimal("2.675")):
        assert read_money(value) == Decimal(stored_decimal(value, 2))
        assert str(read_money(value)) == stored_decimal(value, 2)
