"""Shared pieces of the demo writer tests: a generated demo company per test, dumps and look-ups."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sage_paytrace_pipeline.sage100.documents import CardReceipt, ReceiptLine

TODAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 15, 30)


def query(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def dump(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table (sorted), to prove an operation wrote nothing."""
    connection = sqlite3.connect(path)
    try:
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in tables
        }
    finally:
        connection.close()


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def customer_with_open_invoices(path: Path, count: int = 2) -> tuple[str, str, list[tuple[str, Decimal]]]:
    """An active customer with at least `count` open IN invoices: (division, customer, [(invoice, balance)])."""
    rows = query(path, """
        SELECT o.ARDivisionNo, o.CustomerNo, o.InvoiceNo, o.Balance FROM AR_OpenInvoice o
        JOIN AR_Customer c ON c.ARDivisionNo = o.ARDivisionNo AND c.CustomerNo = o.CustomerNo
        WHERE c.CustomerStatus = 'A' AND o.InvoiceType = 'IN' AND CAST(o.Balance AS NUMERIC) > 1
        ORDER BY o.ARDivisionNo, o.CustomerNo, o.InvoiceNo""")
    by_customer: dict[tuple[str, str], list[tuple[str, Decimal]]] = {}
    for division, customer, invoice, balance in rows:
        by_customer.setdefault((division, customer), []).append((invoice, money(balance)))
    for (division, customer), invoices in by_customer.items():
        if len(invoices) >= count:
            return division, customer, invoices[:count]
    raise AssertionError("demo company has no customer with enough open invoices")


def receipt(division: str, customer: str, lines: list[ReceiptLine], *, amount=None, transaction_id="700001",
            **extra) -> CardReceipt:
    total = sum((line.amount for line in lines), Decimal("0.00")) if amount is None else amount
    fields = dict(
        transaction_id=transaction_id, division=division, customer_no=customer, deposit_date=TODAY,
        bank_code="A", deposit_description="PayTrace batch 2026-03-02", payment_type="VISA", amount=total,
        authorization_no="TAS521", last4="5439", expiration_year=2028, expiration_month=4, card_type="VISA",
        cardholder_name="Ana Chen", credit_card_guid="", lines=tuple(lines),
    )
    fields.update(extra)
    return CardReceipt(**fields)


def gl_totals(path: Path, journal: str) -> tuple[Decimal, Decimal]:
    rows = query(path, "SELECT DebitAmount, CreditAmount FROM GL_DetailPosting WHERE SourceJournal = ?", (journal,))
    return sum((money(d) for d, _ in rows), Decimal("0.00")), sum((money(c) for _, c in rows), Decimal("0.00"))


def account_key(path: Path, account: str) -> str:
    return query(path, "SELECT AccountKey FROM GL_Account WHERE Account = ?", (account,))[0][0]
