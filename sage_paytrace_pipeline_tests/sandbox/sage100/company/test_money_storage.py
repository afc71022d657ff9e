"""The demo company keeps money and quantities as their exact decimal text (storage class 'text'),
rounded half-up once, and refuses any other form; what the reader gets back is the same Decimal."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from sage_paytrace_pipeline.sage100.documents import ReceiptLine
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.schema import DEFAULT_SCHEMA
from sage_paytrace_pipeline.sage100.sqlite_connection import decimal_text
from sage_paytrace_pipeline_tests.sage100.writer_support import customer_with_open_invoices, query, receipt


def test_every_decimal_column_stores_exact_text(company, writer):
    division, customer, invoices = customer_with_open_invoices(company)
    invoice_no, amount = invoices[0]
    posted = Decimal("12.30") if amount > Decimal("12.30") else amount
    writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice_no, amount=posted)],
                                     transaction_id="940001"))

    for table in DEFAULT_SCHEMA.tables():
        for column in (c for c in table.columns if c.kind == "decimal"):
            stored = query(company, f"SELECT DISTINCT typeof({column.name}) FROM {table.name}")
            assert stored in ([], [("text",)]), f"{table.name}.{column.name} holds {stored}"
            values = [value for (value,) in query(company, f"SELECT {column.name} FROM {table.name}")]
            assert all(value == decimal_text(Decimal(value), column.scale) for value in values), \
                f"{table.name}.{column.name} holds a value not written at its scale {column.scale}"

    applied = query(company, "SELECT CashAmountApplied, typeof(CashAmountApplied) FROM AR_CashReceiptsHistory "
                             "WHERE CreditCardTransactionID = '940001'")
    assert applied == [(f"{posted:.2f}", "text")]
    left = Sage100Reader.for_sqlite(company).open_invoice(division, customer, invoice_no).balance
    assert left == amount - posted and str(left) == f"{amount - posted:.2f}"


@pytest.mark.parametrize("value", [12.3, 1230, "12.3", "12.300", "1e2", "--1.00", "1.2.30", " 1.00", "abc"])
def test_the_company_refuses_any_other_form_of_an_amount(company, value):
    connection = sqlite3.connect(company)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            connection.execute("UPDATE AR_OpenInvoice SET Balance = ?", (value,))
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("value", "scale", "text"),
    [(Decimal("0.005"), 2, "0.01"), (Decimal("2.675"), 2, "2.68"), (Decimal("-0.004"), 2, "0.00"),
     (Decimal("-1.005"), 2, "-1.01"), (Decimal("3"), 6, "3.000000"), (Decimal("0.0000005"), 6, "0.000001")],
)
def test_one_rounding_rule_half_up_at_the_column_scale(value, scale, text):
    assert decimal_text(value, scale) == text
